// "What is my address?" as seen from the internet: a tiny UDP+TCP server that answers each
// client with the source address it saw, and a client that asks from a chosen node/source.
// Both are plain Node scripts run with `node -e` inside a namespace (no build step needed).
import { SERVICES } from "./addresses.js";
import type { Lab, LabProcess } from "./lab.js";
import type { LabNode } from "./names.js";

export const ECHO_PORT = 7777;

/**
 * Server: answers "<ip>:<port>" to every UDP datagram and TCP connection; logs each as a JSON line.
 * One UDP socket per address, not one on 0.0.0.0: a wildcard socket would answer from whatever
 * source the route picks (inet's transfer address), which no NAT on the way maps back.
 */
const SERVER = `
const dgram = require("node:dgram"), net = require("node:net");
const hosts = process.argv[1].split(","), port = Number(process.argv[2]);
const log = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
let pending = hosts.length * 2;
const ready = () => { if (--pending === 0) log({ listening: hosts.map((h) => h + ":" + port) }); };
for (const host of hosts) {
  const udp = dgram.createSocket("udp4");
  udp.on("message", (msg, r) => {
    log({ proto: "udp", to: host, from: r.address, port: r.port, data: msg.toString() });
    udp.send(r.address + ":" + r.port, r.port, r.address);
  });
  udp.bind(port, host, ready);
  const tcp = net.createServer((s) => {
    log({ proto: "tcp", to: host, from: s.remoteAddress, port: s.remotePort });
    s.on("error", () => {});
    s.end(s.remoteAddress + ":" + s.remotePort);
  });
  tcp.listen(port, host, ready);
}
process.on("SIGTERM", () => process.exit(0));
`;

/** Client: asks once per attempt, prints the answer or "TIMEOUT" (exit 2). */
const CLIENT = `
const dgram = require("node:dgram"), net = require("node:net");
const o = JSON.parse(process.argv[1]);
const done = (s, code) => { process.stdout.write(s + "\\n"); process.exit(code); };
if (o.proto === "tcp") {
  const s = net.connect({ host: o.to, port: o.port, localAddress: o.bind, localPort: o.sourcePort, timeout: o.attemptMs * o.attempts });
  let buf = "";
  s.on("data", (d) => (buf += d));
  s.on("end", () => done(buf, 0));
  s.on("timeout", () => done("TIMEOUT", 2));
  s.on("error", (e) => done("ERROR " + e.code, 3));
} else {
  const u = dgram.createSocket("udp4");
  let n = 0;
  const ask = () => {
    if (n++ >= o.attempts) return done("TIMEOUT", 2);
    u.send(o.payload, o.port, o.to);
    setTimeout(ask, o.attemptMs);
  };
  u.on("message", (m) => done(m.toString(), 0));
  u.on("error", (e) => done("ERROR " + e.code, 3));
  u.bind({ address: o.bind, port: o.sourcePort ?? 0 }, ask);
}
`;

export interface EchoRequest {
  proto: "udp" | "tcp";
  /** The server address it was sent to. */
  to: string;
  /** Source address and port as the server saw them. */
  from: string;
  port: number;
  /** UDP payload. */
  data?: string;
}

export interface EchoServer {
  process: LabProcess;
  addresses: string[];
  port: number;
  /** Every request the server saw, in order. */
  seen(): EchoRequest[];
  stop(): Promise<void>;
}

/** Start the echo server (default: in inet, on the three probe addresses, port 7777); resolves once it listens. */
export async function startEchoServer(
  lab: Lab,
  opts: { node?: LabNode; addresses?: string[]; port?: number } = {},
): Promise<EchoServer> {
  const addresses = opts.addresses ?? [SERVICES.probe1, SERVICES.probe2, SERVICES.probe3];
  const port = opts.port ?? ECHO_PORT;
  const proc = lab.spawn(opts.node ?? "inet", [process.execPath, "-e", SERVER, addresses.join(","), String(port)]);
  await proc.waitFor(/"listening"/, 10_000);
  return {
    process: proc,
    addresses,
    port,
    seen: () =>
      proc.stdout
        .split("\n")
        .filter((l) => l.startsWith("{") && !l.includes('"listening"'))
        .map((l) => JSON.parse(l) as EchoRequest),
    stop: async () => void (await proc.stop()),
  };
}

export interface AskOptions {
  /** Server address (an inet service address). */
  to: string;
  port?: number;
  proto?: "udp" | "tcp";
  /** Bind the client to this local address (selects the link via `ip rule from`). */
  bind?: string;
  /** Fixed client port, e.g. 5060 to reproduce a SIP flow's conntrack entry. */
  sourcePort?: number;
  /** UDP: datagram content (lets a test find it in server.seen()). */
  payload?: string;
  /** UDP: datagrams to send, one per attemptMs, until an answer. Default 3 × 700 ms. */
  attempts?: number;
  attemptMs?: number;
}

/** The address:port the server saw for a request from `node`, or null if no answer came. */
export async function askSource(lab: Lab, node: LabNode, opts: AskOptions): Promise<string | null> {
  const o = {
    proto: opts.proto ?? "udp",
    to: opts.to,
    port: opts.port ?? ECHO_PORT,
    bind: opts.bind,
    sourcePort: opts.sourcePort,
    payload: opts.payload ?? "who-am-i",
    attempts: opts.attempts ?? 3,
    attemptMs: opts.attemptMs ?? 700,
  };
  const r = await lab.exec(node, [process.execPath, "-e", CLIENT, JSON.stringify(o)], {
    timeoutMs: o.attempts * o.attemptMs + 10_000,
  });
  const out = r.stdout.trim();
  if (r.code === 0) return out;
  if (r.code === 2) return null;
  throw new Error(`askSource from ${node}: ${out || r.stderr.trim() || `exit ${r.code}`}`);
}

/** Just the address part of askSource's answer. */
export async function askPublicAddress(lab: Lab, node: LabNode, opts: AskOptions): Promise<string | null> {
  const s = await askSource(lab, node, opts);
  return s === null ? null : s.slice(0, s.lastIndexOf(":"));
}
