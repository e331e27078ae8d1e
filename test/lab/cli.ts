// wanctl network lab, by hand:
//   npm run build && node dist/test/lab/cli.js up [--link-probes]   # prints the lab as JSON, runs until SIGINT/SIGTERM
//   node dist/test/lab/cli.js sweep                                 # removes labs whose creator is dead
//   node dist/test/lab/cli.js check                                 # can the lab run here?
import { labAvailability } from "./availability.js";
import { createLab } from "./lab.js";
import { sweepLabs } from "./ownership.js";

const USAGE = "usage: cli.js up [--link-probes] | sweep | check";

async function up(args: string[]): Promise<void> {
  const lab = createLab({ linkProbes: args.includes("--link-probes") });
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    lab.down().then(
      () => {
        process.stderr.write(`lab ${lab.runId} down (${signal})\n`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`lab ${lab.runId} teardown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  await lab.up();
  // One line, so a wrapper can read the first line and parse it.
  process.stdout.write(JSON.stringify(lab.describe()) + "\n");
  // Keep the process (and so the lab) alive until a signal.
  setInterval(() => {}, 1 << 30);
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case "up":
      return up(args);
    case "sweep":
      process.stdout.write(JSON.stringify(await sweepLabs()) + "\n");
      return;
    case "check": {
      const a = labAvailability();
      process.stdout.write(JSON.stringify(a) + "\n");
      process.exitCode = a.ok ? 0 : 1;
      return;
    }
    default:
      process.stderr.write(USAGE + "\n");
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
