// End-to-end benchmark on the network lab with the real Asterisk 20: `wanctl run` in the office
// with the default monitor settings and four mixed targets (ICMP, DNS, HTTP, SIP), BIND as the
// authoritative DNS, Kamailio as the ITSP. N hard cuts beyond the office (isp1's uplink, not the
// office's interface), each timed from the cut to
//   - the route moving: the kernel's own report (`ip -ts monitor route` in the office),
//   - the authoritative DNS answering the new address (asked every 5 ms from inside the lab),
//   - the ITSP receiving a REGISTER with the new Contact from every trunk (Kamailio's log, its clock),
// never from wanctl's report. Failback is timed the same way, from the moment the hold-down ends
// (wanctl's decision: nothing outside marks it). After each failover, Kamailio's location table is
// read: a binding still at the dead link's address is a stale binding. The daemon's CPU and RSS are
// taken while it probes. Ends with one JSON line.
//   npm run bench:e2e -- --cuts N --trunks K --driver pjsip|chan_sip|both
// (`both`: K trunks of each driver and the default config, channelDriver "auto".)
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { asteriskAvailability, chanSipTrunkUser, pjsipTrunk, startAsterisk, waitTrunksRegistered, type LabAsterisk, AMI_SECRET, AMI_USER } from "../test/lab/asterisk.js";
import { startBind, type Bind } from "../test/lab/bind.js";
import { linkState, startDaemon, switchedTo, waitForStatus } from "../test/lab/daemon-harness.js";
import { LINK_PLAN, runScriptOnLab, SERVICES, type Lab, type LabProcess, type LinkId } from "../test/lab/index.js";
import { startItsp, type Itsp } from "../test/lab/kamailio.js";
import { labConfig, writeLabConfig } from "../test/lab/wanctl-config.js";
import type { DaemonStatus } from "../src/daemon/status-file.js";
import { rssMegabytes, usageOver } from "./proc-usage.js";
import { percentile, say, sleep, until } from "./common.js";

const { values } = parseArgs({
  options: {
    cuts: { type: "string", default: "10" },
    trunks: { type: "string", default: "1" },
    driver: { type: "string", default: "pjsip" },
    "hold-down": { type: "string", default: "10" },
    "cpu-seconds": { type: "string", default: "20" },
  },
});
const cuts = Math.max(1, Math.min(100, Number(values.cuts)));
const trunks = Math.max(1, Math.min(50, Number(values.trunks)));
const holdDownSeconds = Math.max(3, Math.min(600, Number(values["hold-down"])));
const cpuWindowSeconds = Math.max(5, Math.min(600, Number(values["cpu-seconds"])));
const driver = values.driver === "chan_sip" || values.driver === "both" ? values.driver : "pjsip";
if (values.driver !== driver) throw new Error(`--driver: expected pjsip, chan_sip or both, got ${values.driver}`);

const WAN1 = LINK_PLAN.wan1.publicAddress;
const WAN2 = LINK_PLAN.wan2.publicAddress;
const RECORD = "office.example.com";
const HERE = fileURLToPath(new URL(".", import.meta.url));



/** Timestamped lines of a watcher process (`ip -ts monitor route`, dns-watch). */
const routeChanges = (p: LabProcess) =>
  p.stdout
    .split("\n")
    .map((l) => /^\[(\S+)\] default via (\S+) dev (\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ at: Date.parse(`${m[1]}Z`), gateway: m[2]!, dev: m[3]! }));
const dnsAnswers = (p: LabProcess) =>
  p.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { at: number; answer: string });

/** wanctl's own account of a switch, printed beside the figures to explain them (never measured from). */
const stepTimes = (s: DaemonStatus) => (s.lastSwitch?.steps ?? []).map((st) => `${st.step} ${Math.round(st.durationMs)}`).join(", ");

interface Timing {
  route: number;
  dns: number;
  /** The last trunk's REGISTER with the new Contact. */
  registered: number;
}

interface World {
  lab: Lab;
  itsp: Itsp;
  routes: LabProcess;
  dns: LabProcess;
  /** Every trunk as the ITSP sees it: its user and the PBX's source port (PJSIP 5060, chan_sip 5062). */
  users: Array<{ user: string; port: number }>;
}

/** From `since`: when the kernel, the DNS and the ITSP each had the office on `link`. */
async function timeSwitch(w: World, link: LinkId, since: number): Promise<Timing> {
  const address = link === "wan1" ? WAN1 : WAN2;
  const route = await until(`the route to move to ${link}`, () => routeChanges(w.routes).find((r) => r.at >= since && r.dev === LINK_PLAN[link].ifname));
  const dns = await until(`the DNS to answer ${address}`, () => dnsAnswers(w.dns).find((d) => d.at >= since && d.answer === address));
  const registered = await until(`every trunk's REGISTER from ${address}`, () => {
    const at = w.users.map(
      ({ user, port }) =>
        w.itsp
          .requests()
          .find((r) => r.at >= since && r.method === "REGISTER" && r.expires !== 0 && r.contact.includes(`sip:${user}@${address}:${port}`))?.at,
    );
    return at.every((t) => t !== undefined) ? Math.max(...(at as number[])) : undefined;
  });
  return { route: route.at - since, dns: dns.at - since, registered: registered - since };
}

/** Bindings at the ITSP that still point at `address` (the link just left) and have time left. */
async function staleBindings(itsp: Itsp, address: string): Promise<number> {
  return (await itsp.contacts()).filter((c) => c.address.includes(`@${address}:`) && c.expiresIn > 0).length;
}

async function run(lab: Lab): Promise<Record<string, number | string>> {
  const itsp = await startItsp(lab);
  const secret = randomBytes(32).toString("base64");
  let bind: Bind | undefined;
  let labAsterisk: LabAsterisk | undefined;
  let daemon: LabProcess | undefined;
  let dir = "";
  try {
    bind = await startBind(lab, { secret, records: { office: WAN1 } });
    const http = lab.spawn("inet", [process.execPath, join(HERE, "../test/lab/fake-ipecho.js"), JSON.stringify({ host: SERVICES.http, httpPort: 80 })]);
    await http.waitFor(/"listening"/, 10_000);
    labAsterisk = await startAsterisk(lab, { trunks: { pjsip: driver === "chan_sip" ? 0 : trunks, chanSip: driver === "pjsip" ? 0 : trunks } });
    await waitTrunksRegistered(labAsterisk);
    const routes = lab.spawn("office", ["ip", "-ts", "monitor", "route"], { env: { ...process.env, TZ: "UTC" } });
    const dns = lab.spawn("inet", [process.execPath, join(HERE, "dns-watch.js"), SERVICES.dns, RECORD]);
    await until("the DNS watcher's first answer", () => dnsAnswers(dns)[0], 10_000);
    const w: World = {
      lab,
      itsp,
      routes,
      dns,
      users: Array.from({ length: trunks }, (_, i) => [
        ...(driver === "chan_sip" ? [] : [{ user: pjsipTrunk(i).user, port: 5060 }]),
        ...(driver === "pjsip" ? [] : [{ user: chanSipTrunkUser(i), port: 5062 }]),
      ]).flat(),
    };

    const config = labConfig("");
    config.monitor = {
      targets: [
        { type: "icmp", host: SERVICES.probe1 },
        { type: "dns", server: SERVICES.dns, name: RECORD },
        { type: "http", url: `http://${SERVICES.http}/` },
        { type: "sip", host: SERVICES.registrar },
      ],
    };
    config.failover = { holdDownSeconds };
    config.dns = {
      providers: [{ id: "bind", type: "rfc2136", server: SERVICES.dns, zone: "example.com", tsig: { name: "wanctl-key", secret } }],
      records: [{ name: RECORD, provider: "bind", ttl: 60 }],
    };
    config.asterisk = {
      ami: { host: labAsterisk.ami.host, port: labAsterisk.ami.port, username: AMI_USER, secret: AMI_SECRET },
      // both: the default channelDriver ("auto") finds them.
      ...(driver === "both" ? {} : { channelDriver: driver }),
      ...(driver === "chan_sip" ? { chanSip: {} } : { pjsip: { transports: ["transport-udp"] } }),
    };
    let file: string;
    ({ file, dir } = writeLabConfig(config));
    const stateDir = join(dir, "state");
    daemon = startDaemon(lab, file);
    const d = daemon;
    const bothUp = (s: Parameters<typeof linkState>[0]) => s.links.every((l) => l.state === "up");
    await waitForStatus(stateDir, "both links up on wan1", (s) => s.active === "wan1" && bothUp(s), 20_000, d);

    say(`probing 2 links × 4 mixed targets (ICMP, DNS, HTTP, SIP) for ${cpuWindowSeconds} s ...`);
    await sleep(2000);
    const usage = await usageOver(d.pid, cpuWindowSeconds);
    const cpu = usage.cpu;
    let rss = usage.rss; // and its highest over the cuts that follow

    const failover: Timing[] = [];
    const failback: Timing[] = [];
    let stale = 0;
    for (let i = 0; i < cuts; i++) {
      await sleep(Math.random() * 350); // a random phase against the probe rounds, as a real cut has
      const cutAt = Date.now();
      await lab.cut("wan1");
      const over = await waitForStatus(stateDir, `failover ${i + 1}`, (s) => switchedTo(s, "wan2"), 30_000, d);
      failover.push(await timeSwitch(w, "wan2", cutAt));
      const staleNow = await staleBindings(itsp, WAN1);
      stale = Math.max(stale, staleNow);
      rss = Math.max(rss, rssMegabytes(d.pid));
      const f = failover.at(-1)!;
      say(`cut ${i + 1}/${cuts}: route ${f.route} ms, DNS ${f.dns} ms, last REGISTER at the ITSP ${f.registered} ms; ${staleNow} binding(s) left at ${WAN1}`);
      say(`  wanctl's steps: ${stepTimes(over)}`);

      await lab.heal("wan1");
      const back = await waitForStatus(stateDir, `failback ${i + 1}`, (s) => switchedTo(s, "wan1") && s.lastSwitch?.kind === "failback", (holdDownSeconds + 30) * 1000, d);
      failback.push(await timeSwitch(w, "wan1", Date.parse(back.lastSwitch!.startedAt)));
      const b = failback.at(-1)!;
      say(`failback ${i + 1}/${cuts} (from the end of the hold-down): route ${b.route} ms, DNS ${b.dns} ms, last REGISTER at the ITSP ${b.registered} ms`);
      say(`  wanctl's steps: ${stepTimes(back)}`);
      await waitForStatus(stateDir, "both links up again", bothUp, 20_000, d);
    }
    rss = Math.max(rss, rssMegabytes(d.pid));
    const round = (n: number) => Math.round(n * 10) / 10;
    const p = (xs: Timing[], k: keyof Timing, q: number) => percentile(xs.map((t) => t[k]), q);
    return {
      driver,
      trunks,
      cuts,
      route_ms_p50: p(failover, "route", 50),
      route_ms_p95: p(failover, "route", 95),
      dns_ms_p50: p(failover, "dns", 50),
      dns_ms_p95: p(failover, "dns", 95),
      registered_ms_p50: p(failover, "registered", 50),
      registered_ms_p95: p(failover, "registered", 95),
      failback_route_ms_p95: p(failback, "route", 95),
      failback_dns_ms_p95: p(failback, "dns", 95),
      failback_registered_ms_p95: p(failback, "registered", 95),
      stale_bindings: stale,
      rss_mb: round(rss),
      cpu_pct: round(cpu),
    };
  } finally {
    await daemon?.stop();
    await labAsterisk?.stop();
    await bind?.stop();
    await itsp.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

runScriptOnLab(
  "bench",
  async (lab) => {
    say(`bench:e2e: ${cuts} cut(s) of wan1 beyond the office, ${trunks} ${driver === "both" ? "PJSIP and as many chan_sip" : driver} trunk(s), hold-down ${holdDownSeconds} s`);
    const figures = await run(lab);
    say(`targets: registered p95 ≤ 1500 ms (1 trunk) / 2000 ms (10 trunks), route p95 ≤ 1100 ms, DNS p95 ≤ 1500 ms, RSS ≤ 80 MB, CPU ≤ 2 %`);
    say(JSON.stringify(figures));
  },
  [asteriskAvailability],
);
