// The simulator inside the lab's `pbx` namespace, as a real PBX would sit there: its SIP sockets
// bound to 0.0.0.0:5060 in that namespace (so its REGISTERs go through the office's NAT and links),
// AMI on 192.168.50.10:5038 for whoever runs in the office, and on a unix socket for the test
// process — which runs in the host's namespace and cannot reach 192.168.50.10 — bridged to a TCP
// port on 127.0.0.1 by proxyUnixToTcp() (../../lab/ami-bridge.ts).
//
// The simulator is TypeScript; under vitest it is transpiled (typescript.transpileModule, no type
// check) into a temp dir and run with plain node. From dist/ (the demo) the compiled files beside
// this one are run as they are.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { proxyUnixToTcp } from "../../lab/ami-bridge.js";
import type { Lab, LabProcess } from "../../lab/index.js";
import type { PbxSimOptions, SimLogEntry } from "./pbx-sim.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SIM_FILES = ["ami-wire", "conf", "sip", "pbx-sim", "main"];

/** Plain-JS copy of the simulator in `dir` (from the .ts sources, or the compiled .js next to us). */
async function simScript(dir: string): Promise<string> {
  if (import.meta.url.endsWith(".js") && SIM_FILES.every((f) => existsSync(path.join(HERE, `${f}.js`)))) return path.join(HERE, "main.js");
  const ts = (await import("typescript")).default;
  const out = path.join(dir, "js");
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, "package.json"), '{ "type": "module" }\n');
  for (const f of SIM_FILES) {
    const source = readFileSync(path.join(HERE, `${f}.ts`), "utf8");
    const js = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: `${f}.ts`,
    }).outputText;
    writeFileSync(path.join(out, `${f}.js`), js);
  }
  return path.join(out, "main.js");
}

export interface LabSim {
  readonly process: LabProcess;
  /** AMI for the test process: 127.0.0.1:<amiPort> (bridged to the unix socket). */
  readonly amiPort: number;
  /** Asterisk's config directory of the simulator (UpdateConfig writes here). */
  readonly configDir: string;
  fileText(name: string): string;
  /** Everything the simulator logged (SIP sent/received, Registry events, AMI answers). */
  log(): SimLogEntry[];
  stop(): Promise<void>;
}

export interface LabSimOptions extends Omit<PbxSimOptions, "files" | "configDir" | "ami" | "log"> {
  /** Config files (pjsip.conf, manager.conf, …) written into the simulator's config dir. */
  readonly files: Record<string, string>;
  /** AMI TCP listener inside the pbx namespace. Default 0.0.0.0:5038. */
  readonly amiTcp?: { host: string; port: number } | null;
}

export async function startSimInLab(lab: Lab, options: LabSimOptions): Promise<LabSim> {
  const dir = mkdtempSync(path.join(tmpdir(), "wanctl-pbxsim-"));
  const configDir = path.join(dir, "etc");
  mkdirSync(configDir);
  for (const [name, text] of Object.entries(options.files)) writeFileSync(path.join(configDir, name), text);
  const script = await simScript(dir);
  const socketPath = path.join(dir, "ami.sock");
  const { files: _files, amiTcp, ...rest } = options;
  const simOptions: PbxSimOptions = {
    ...rest,
    configDir,
    ami: { path: socketPath, ...(amiTcp === null ? {} : (amiTcp ?? { host: "0.0.0.0", port: 5038 })) },
  };
  const proc = lab.spawn("pbx", [process.execPath, script, JSON.stringify(simOptions)]);
  try {
    await proc.waitFor(/"listening"/, 15_000);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const proxy = await proxyUnixToTcp(socketPath);
  return {
    process: proc,
    amiPort: proxy.port,
    configDir,
    fileText: (name) => readFileSync(path.join(configDir, name), "utf8"),
    log: () =>
      proc.stdout
        .split("\n")
        .filter((l) => l.startsWith("{") && !l.startsWith('{"listening"'))
        .map((l) => JSON.parse(l) as SimLogEntry),
    async stop() {
      await proxy.close();
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
