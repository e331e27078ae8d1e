// For the DDNS and public-IP lab tests: run the office driver (from the build) in a lab node, and
// start the fakes (from the build) in inet.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Lab, LabProcess } from "../lab/index.js";
import type { LabNode } from "../lab/names.js";
import type { DriverInput } from "./office-driver.js";

const fromSources = !import.meta.url.includes("/dist/test/");
const root = fileURLToPath(new URL(fromSources ? "../../" : "../../../", import.meta.url));
const dist = (path: string): string => `${root}dist/${path.replace(/\.ts$/, ".js")}`;

/** The built files these tests run in the lab, checked to exist and to be newer than their sources. */
export function assertBuilt(): void {
  if (!fromSources) return;
  const sources = [
    ...["src/ddns", "src/wan/public-ip"].flatMap((d) => readdirSync(`${root}${d}`).filter((f) => f.endsWith(".ts")).map((f) => `${d}/${f}`)),
    "test/ddns/office-driver.ts",
    "test/lab/fake-ddns.ts",
    "test/lab/fake-ipecho.ts",
    "test/lab/sip-srv.ts",
    "test/wan/public-ip/stun-server.ts",
  ];
  const stale = sources.filter((s) => !existsSync(dist(s)) || statSync(dist(s)).mtimeMs < statSync(`${root}${s}`).mtimeMs);
  if (stale.length) throw new Error(`the build is missing or older than ${stale.join(", ")}: run \`npm run build\` first`);
}

export async function runInLab<T>(lab: Lab, node: LabNode, input: DriverInput, timeoutMs = 60_000): Promise<T> {
  const r = await lab.exec(node, [process.execPath, dist("test/ddns/office-driver.ts"), JSON.stringify(input)], { timeoutMs });
  if (r.code !== 0) throw new Error(`office driver failed (${r.code}): ${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as T;
}

export interface LabScript {
  process: LabProcess;
  listening: unknown;
  /** Request lines logged so far. */
  lines(): Record<string, unknown>[];
}

export async function startLabScript(lab: Lab, node: LabNode, script: "test/lab/fake-ddns.ts" | "test/lab/fake-ipecho.ts", config: unknown): Promise<LabScript> {
  const proc = lab.spawn(node, [process.execPath, dist(script), JSON.stringify(config)]);
  await proc.waitFor(/"listening".*\n/, 10_000).catch((err: Error) => {
    throw new Error(`${script}: ${err.message}\n${proc.stderr.slice(-2000)}`);
  });
  const first = proc.stdout.split("\n").find((l) => l.includes('"listening"'))!;
  return {
    process: proc,
    listening: (JSON.parse(first.slice(first.indexOf("{"))) as { listening: unknown }).listening,
    lines: () =>
      proc.stdout
        .split("\n")
        .filter((l) => l.startsWith("{") && !l.includes('"listening"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
