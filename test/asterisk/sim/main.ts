// The simulator as a process (the lab runs it inside the `pbx` namespace, where its SIP sockets
// bind 0.0.0.0:5060 like Asterisk's). One argument: the PbxSimOptions as JSON (configDir, ami, …).
// Prints JSON lines: {"listening": {...}} once ready, then every simulator log entry. SIGTERM ends it.

import { PbxSimulator, type PbxSimOptions } from "./pbx-sim.js";

const print = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? "{}") as PbxSimOptions;
  const sim = await PbxSimulator.start({ ...options, log: (entry) => print(entry) });
  let tcp: { host: string; port: number } | undefined;
  try {
    tcp = { host: sim.amiHost, port: sim.amiPort };
  } catch {
    tcp = undefined;
  }
  print({ listening: { ami: tcp ?? null, path: options.ami?.path ?? null } });
  const stop = (): void => {
    void sim.close().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`pbx simulator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
