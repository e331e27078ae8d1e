// SIP by DNS SRV in the lab: the office reachable on UDP 5060 through either link, a SIP
// responder at the PBX's address behind it, and on the internet side a caller that finds the
// office the way RFC 3263 says: Kamailio 5.6 (Debian package) with its DNS cache and DNS failover
// (use_dns_failover: after a timeout, the next SRV target), resolving through the lab's BIND.
// SIPp cannot be that caller: it resolves no SRV records (SIPp/sipp issue #117).
//
// As a script, one OPTIONS and its final answer:
//   node dist/test/lab/sip-srv.js '{"to":"192.0.2.61","uri":"sip:office.example.com"}'
// prints {"status":200,"reason":"OK"} (or {"error":...}).
import { createSocket } from "node:dgram";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ADDRESSES, LINK_PLAN, SERVICES } from "./addresses.js";
import { KAMAILIO } from "./kamailio.js";
import type { Lab, LabProcess } from "./lab.js";
import type { LabNode } from "./names.js";
import { sleep } from "./proc.js";

const MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/";
/** The caller's address on the internet side. */
export const CALLER = "192.0.2.61";
const PBX = ADDRESSES.pbx.eth0;

/**
 * Calls in reach the PBX through either link: the carrier's port forward on wan2's shared public
 * address (a CGNAT link needs one to take calls), and the office's from each link to the PBX.
 */
export async function forwardSipToPbx(lab: Lab): Promise<void> {
  const dnat = (to: string) => ["-p", "udp", "--dport", "5060", "-j", "DNAT", "--to-destination", `${to}:5060`];
  await lab.run("isp2", ["iptables", "-t", "nat", "-A", "PREROUTING", "-d", LINK_PLAN.wan2.publicAddress, ...dnat(LINK_PLAN.wan2.address)]);
  for (const link of ["wan1", "wan2"] as const) await lab.run("office", ["iptables", "-t", "nat", "-A", "PREROUTING", "-i", LINK_PLAN[link].ifname, ...dnat(PBX)]);
}

export interface SipEnd {
  readonly process: LabProcess;
  /** What it logged, in order: [what, detail] (the responder: requests and their source; the caller: where it sent and who replied). */
  events(): [string, string][];
  stop(): Promise<void>;
}

const header = (address: string, tag: string) => `#!KAMAILIO
# Written by wanctl's lab (test/lab/sip-srv.ts).
debug=2
log_stderror=yes
log_prefix=""
fork=yes
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:${address}:5060
mpath="${MODULES}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
# Logged as ${tag}|what|detail.
`;

/**
 * The office end: answers OPTIONS with 200 and logs where each request came from. Answers go back
 * to the request's source (RFC 3581 rport, as Asterisk's force_rport does behind NAT): a NATed
 * request may come from another port than its Via says.
 */
export function responderConfig(): string {
  return `${header(PBX, "wanctl-office")}
request_route {
  force_rport();
  xlog("L_NOTICE", "wanctl-office|$rm|$si:$sp\\n");
  if (method == "OPTIONS") { sl_send_reply("200", "OK"); exit; }
  if (method == "ACK") exit;
  sl_send_reply("404", "Not here");
}
`;
}

/**
 * The caller: relays an OPTIONS for \`domain\` statefully to where DNS says (NAPTR off: SRV, then A),
 * with its own DNS cache, DNS failover after a 1.5 s timeout, and the SRV records cached for an
 * hour whatever their TTL: a cache that has not expired since the switch.
 */
export function callerConfig(domain: string): string {
  return `${header(CALLER, "wanctl-caller")}
use_dns_cache=on
use_dns_failover=on
dns_cache_min_ttl=3600
dns_srv_lb=off
dns_try_naptr=no
dns_try_ipv6=no
modparam("tm", "fr_timer", 1500)

request_route {
  if (method == "OPTIONS" && $rd == "${domain}") {
    t_on_reply("ANSWER");
    if (!t_relay()) sl_reply_error();
    exit;
  }
  sl_send_reply("404", "Not here");
}
onsend_route {
  xlog("L_NOTICE", "wanctl-caller|sent|$snd(ip):$snd(port)\\n");
}
onreply_route[ANSWER] {
  xlog("L_NOTICE", "wanctl-caller|reply|$rs $si:$sp\\n");
}
`;
}

const eventsIn = (stderr: string, tag: string): [string, string][] =>
  stderr
    .split("\n")
    .map((line) => line.slice(line.indexOf(`${tag}|`)))
    .filter((line) => line.startsWith(`${tag}|`))
    .map((line) => {
      const [, what = "", detail = ""] = line.trim().split("|");
      return [what, detail];
    });

/** Kamailio in `node`, with its own directory; `resolver` replaces /etc/resolv.conf for it alone. */
async function startKamailio(lab: Lab, node: LabNode, config: string, tag: string, ready: { from: LabNode; to: string; uri: string }, resolver?: string): Promise<SipEnd> {
  const dir = mkdtempSync(join(tmpdir(), "wanctl-sip-"));
  const cfg = join(dir, "kamailio.cfg");
  writeFileSync(cfg, config);
  const kamailio = [KAMAILIO, "-DD", "-E", "-f", cfg, "-Y", dir, "-P", join(dir, "kamailio.pid"), "-m", "32", "-M", "4"];
  let argv = kamailio;
  if (resolver) {
    // `ip netns exec` gives the process a mount namespace of its own: the bind mount stays in it.
    writeFileSync(join(dir, "resolv.conf"), `nameserver ${resolver}\n`);
    argv = ["sh", "-c", `mount --bind ${join(dir, "resolv.conf")} /etc/resolv.conf && exec ${kamailio.join(" ")}`];
  }
  const proc = lab.spawn(node, argv);
  const stop = async (): Promise<void> => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 50 && proc.running; i++) {
    const answer = await sendOptions(lab, ready.from, ready.to, ready.uri, 500).catch(() => undefined);
    if (answer?.status !== undefined) return { process: proc, events: () => eventsIn(proc.stderr, tag), stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`Kamailio did not answer in the lab's ${node} namespace:\n${proc.stderr.trim().split("\n").slice(-15).join("\n")}`);
}

/** The SIP responder at the PBX's address (the office end of the calls). */
export function startSipResponder(lab: Lab): Promise<SipEnd> {
  return startKamailio(lab, "pbx", responderConfig(), "wanctl-office", { from: "office", to: PBX, uri: `sip:ready@${PBX}` });
}

/** The caller on the internet side, resolving through `resolver` (the lab's BIND). */
export async function startSrvCaller(lab: Lab, domain: string, resolver = SERVICES.dns): Promise<SipEnd> {
  await lab.addServiceAddress(CALLER);
  return startKamailio(lab, "inet", callerConfig(domain), "wanctl-caller", { from: "inet", to: CALLER, uri: `sip:ready@${CALLER}` }, resolver);
}

export interface OptionsAnswer {
  readonly status?: number;
  readonly reason?: string;
  readonly error?: string;
}

const script = fileURLToPath(new URL(import.meta.url.includes("/dist/test/") ? "./sip-srv.js" : "../../dist/test/lab/sip-srv.js", import.meta.url));

/** Sends one OPTIONS for `uri` to `to`:5060 from inside `node` and returns its final answer. */
export async function sendOptions(lab: Lab, node: LabNode, to: string, uri: string, timeoutMs = 10_000): Promise<OptionsAnswer> {
  const r = await lab.exec(node, [process.execPath, script, JSON.stringify({ to, uri, timeoutMs })], { timeoutMs: timeoutMs + 5_000 });
  if (r.code !== 0) throw new Error(`sip-srv.js failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as OptionsAnswer;
}

/** One OPTIONS over UDP, retransmitted per RFC 3261's timer A (500 ms doubling), until a final answer or the deadline. */
function options(to: string, uri: string, timeoutMs: number): Promise<OptionsAnswer> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    const timers: NodeJS.Timeout[] = [];
    const done = (answer: OptionsAnswer): void => {
      timers.forEach(clearTimeout);
      socket.close();
      resolve(answer);
    };
    timers.push(setTimeout(() => done({ error: `no final answer within ${timeoutMs} ms` }), timeoutMs));
    socket.on("error", (err) => done({ error: err.message }));
    socket.on("message", (msg) => {
      const m = /^SIP\/2\.0 (\d{3}) ([^\r\n]*)/.exec(msg.toString("latin1"));
      if (m && Number(m[1]) >= 200) done({ status: Number(m[1]), reason: m[2]! });
    });
    socket.connect(5060, to, () => {
      const local = socket.address();
      const id = randomUUID();
      const request = [
        `OPTIONS ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP ${local.address}:${local.port};branch=z9hG4bK${id.slice(0, 8)};rport`,
        "Max-Forwards: 70",
        `From: <sip:lab@${local.address}>;tag=${id.slice(9, 13)}`,
        `To: <${uri}>`,
        `Call-ID: ${id}`,
        "CSeq: 1 OPTIONS",
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n");
      const send = (wait: number): void => {
        socket.send(request);
        timers.push(setTimeout(() => send(wait * 2), wait));
      };
      send(500);
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = JSON.parse(process.argv[2] ?? "{}") as { to: string; uri: string; timeoutMs?: number };
  void options(o.to, o.uri, o.timeoutMs ?? 10_000).then((answer) => process.stdout.write(`${JSON.stringify(answer)}\n`));
}
