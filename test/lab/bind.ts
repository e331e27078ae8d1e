// A real BIND 9 in a lab node: authoritative (primary) for one zone, accepting RFC 2136 updates
// signed with one TSIG key. Everything it writes (config, zone, journal, pid, session key) lives in
// a private temporary directory, removed by stop(). Runs in the foreground (`named -g`), so the
// lab's process management ends it with the lab.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVICES } from "./addresses.js";
import type { Lab, LabProcess } from "./lab.js";
import type { LabNode } from "./names.js";

export const NAMED = "/usr/sbin/named";

export interface BindOptions {
  node?: LabNode;
  /** Listen address (added to inet's loopback if needed). Default SERVICES.dns (192.0.2.53). */
  address?: string;
  zone?: string;
  keyName?: string;
  /** Base64 HMAC-SHA256 secret. */
  secret: string;
  /** A records of the zone, by name relative to the zone (e.g. "office"). */
  records?: Record<string, string>;
}

export interface Bind {
  readonly process: LabProcess;
  readonly address: string;
  readonly zone: string;
  readonly dir: string;
  /** What `dig` in `node` answers for an A query to this server (no recursion). */
  digA(name: string, node?: LabNode): Promise<string[]>;
  /** What `dig` in `node` answers for an SRV query to this server, in priority order: "10 0 5060 wan1.example.com." each. */
  digSrv(name: string, node?: LabNode): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startBind(lab: Lab, opts: BindOptions): Promise<Bind> {
  const node = opts.node ?? "inet";
  const address = opts.address ?? SERVICES.dns;
  const zone = opts.zone ?? "example.com";
  const keyName = opts.keyName ?? "wanctl-key";
  if (node === "inet") await lab.addServiceAddress(address);
  const dir = mkdtempSync(join(tmpdir(), "wanctl-bind-"));
  const zoneFile = join(dir, `${zone}.zone`);
  const records = { ns1: address, ...(opts.records ?? {}) };
  writeFileSync(
    zoneFile,
    [
      `$ORIGIN ${zone}.`,
      "$TTL 60",
      `@ IN SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`,
      `@ IN NS ns1.${zone}.`,
      ...Object.entries(records).map(([name, a]) => `${name} IN A ${a}`),
      "",
    ].join("\n"),
  );
  const conf = join(dir, "named.conf");
  writeFileSync(
    conf,
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port 53 { ${address}; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-query { any; };
};
controls { };
key "${keyName}" { algorithm hmac-sha256; secret "${opts.secret}"; };
zone "${zone}" {
  type primary;
  file "${zoneFile}";
  allow-update { key ${keyName}; };
};
`,
    { mode: 0o600 },
  );
  // -g: foreground, logs on stderr; -n 1: one worker thread is plenty here.
  const proc = lab.spawn(node, [NAMED, "-g", "-n", "1", "-c", conf]);
  try {
    await proc.waitFor(/running/, 15_000);
  } catch (err) {
    await proc.stop(2_000);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`named did not start: ${(err as Error).message}\n${proc.stderr.slice(-2000)}`);
  }
  const dig = async (from: LabNode, name: string, type: "A" | "SRV"): Promise<string[]> => {
    const r = await lab.run(from, ["dig", "+norecurse", "+short", "+time=2", "+tries=2", `@${address}`, name, type]);
    return r.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  };
  return {
    process: proc,
    address,
    zone,
    dir,
    digA: (name: string, from: LabNode = node) => dig(from, name, "A"),
    async digSrv(name: string, from: LabNode = node) {
      // BIND rotates the records of an RRset from one answer to the next: sort by priority.
      return (await dig(from, name, "SRV")).sort((a, b) => Number(a.split(" ")[0]) - Number(b.split(" ")[0]));
    },
    async stop() {
      await proc.stop(3_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
