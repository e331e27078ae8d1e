// Following a router that switches by itself (route.backend "none"), on the network lab with the
// real Asterisk 20: the office is a MASQUERADE router that moves its own default route
// (test/lab/self-router.ts), and `wanctl run` on the PBX host sees it in the office's egress address
// (STUN through the default route, twice a second by default). N switches of the router (wan1 cut beyond the
// office), each timed from the router's own report of its switch to the ITSP receiving the trunk's
// REGISTER with the new Contact (Kamailio's log, its clock), never from wanctl's report; failback
// (wan1 healed, the router's hold-down) the same way. The daemon's CPU and RSS are taken while it
// only watches. With --gateway-probes N, monitor.targets (N of the lab's ICMP targets) also watch
// the way out through the router from the PBX host (each change of it a look at the egress at once).
// Ends with one JSON line.
//   npm run bench:follow -- --switches N [--gateway-probes N]
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { asteriskAvailability, startAsterisk, waitTrunksRegistered, type LabAsterisk } from "../test/lab/asterisk.js";
import { startBind, type Bind } from "../test/lab/bind.js";
import { switchedTo, waitForStatus, wanctlCommand } from "../test/lab/daemon-harness.js";
import { LINK_PLAN, runScriptOnLab, SERVICES, type Lab, type LabProcess } from "../test/lab/index.js";
import { startItsp, type Itsp } from "../test/lab/kamailio.js";
import { officeNat } from "../test/lab/self-router.js";
import { labFollowConfig, writeLabConfig } from "../test/lab/wanctl-config.js";
import type { DaemonStatus } from "../src/daemon/status-file.js";
import { rssMegabytes, usageOver } from "./proc-usage.js";
import { percentile, say, sleep, until } from "./common.js";

const { values } = parseArgs({
  options: {
    switches: { type: "string", default: "10" },
    "hold-down": { type: "string", default: "3" },
    "cpu-seconds": { type: "string", default: "20" },
    "gateway-probes": { type: "string", default: "0" },
  },
});
const switches = Math.max(1, Math.min(100, Number(values.switches)));
const holdDownMs = 1000 * Math.max(1, Math.min(600, Number(values["hold-down"])));
const cpuWindowSeconds = Math.max(5, Math.min(600, Number(values["cpu-seconds"])));
const gatewayProbes = Math.max(0, Math.min(3, Number(values["gateway-probes"])));

const WAN1 = LINK_PLAN.wan1.publicAddress;
const WAN2 = LINK_PLAN.wan2.publicAddress;
const HERE = fileURLToPath(new URL(".", import.meta.url));



/** The router's switches to `link` at or after `since` (its own clock: this machine's). */
const routerSwitch = (router: LabProcess, link: string, since: number) =>
  router.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { switched?: string; at?: number })
    .find((e) => e.switched === link && e.at! >= since)?.at;

/** When the ITSP first got the trunk's REGISTER with a Contact at `address`, at or after `since`. */
const registeredAt = (itsp: Itsp, address: string, since: number) =>
  itsp.requests().find((r) => r.at >= since && r.method === "REGISTER" && r.expires !== 0 && r.contact.includes(`@${address}:5060`))?.at;

const stepTimes = (s: DaemonStatus) => (s.lastSwitch?.steps ?? []).map((st) => `${st.step} ${Math.round(st.durationMs)}`).join(", ");

async function run(lab: Lab): Promise<Record<string, number | string>> {
  const itsp = await startItsp(lab);
  const secret = randomBytes(32).toString("base64");
  let bind: Bind | undefined;
  let asterisk: LabAsterisk | undefined;
  let daemon: LabProcess | undefined;
  let router: LabProcess | undefined;
  let dir = "";
  try {
    bind = await startBind(lab, { secret, records: { office: WAN1 } });
    const echo = lab.spawn("inet", [process.execPath, join(HERE, "../test/lab/fake-ipecho.js"), JSON.stringify({ host: SERVICES.http, httpPort: 8080, stunPort: 3478 })]);
    await echo.waitFor(/"listening"/, 10_000);
    await lab.enableLinkProbes(); // the router pings through each WAN by its own table
    await officeNat(lab, "masquerade");
    asterisk = await startAsterisk(lab, { trunks: { pjsip: 1, chanSip: 0 } });
    await waitTrunksRegistered(asterisk);
    router = lab.spawn("office", [process.execPath, join(HERE, "../test/lab/self-router.js"), JSON.stringify({ target: SERVICES.probe1, holdDownMs })]);
    await router.waitFor(/"started":"wan1"/, 10_000);
    let file: string;
    // Not probe1: the router's own pings go there.
    const targets = [SERVICES.probe2, SERVICES.probe3, SERVICES.http].slice(0, gatewayProbes).map((host) => ({ type: "icmp" as const, host }));
    ({ file, dir } = writeLabConfig(labFollowConfig({ tsigSecret: secret, ...(targets.length ? { targets } : {}) })));
    const stateDir = join(dir, "state");
    daemon = lab.spawn("pbx", [...wanctlCommand(), "run", "--config", file]);
    const d = daemon;
    await waitForStatus(stateDir, "wanctl sees the office on wan1", (s) => s.active === "wan1" && s.links[0]!.state === "up", 20_000, d);

    say(`watching the egress for ${cpuWindowSeconds} s ...`);
    await sleep(2000);
    const usage = await usageOver(d.pid, cpuWindowSeconds);
    const cpu = usage.cpu;
    let rss = usage.rss; // and its highest over the switches that follow

    const over: number[] = [];
    const back: number[] = [];
    const r = router;
    for (let i = 0; i < switches; i++) {
      await sleep(Math.random() * 1000); // a random phase against wanctl's looks, as a real switch has
      const cutAt = Date.now();
      await lab.cut("wan1");
      const routerAt = await until(`the router's switch ${i + 1} to wan2`, () => routerSwitch(r, "wan2", cutAt));
      const reg = await until(`the trunk's REGISTER from ${WAN2}`, () => registeredAt(itsp, WAN2, routerAt));
      const s = await waitForStatus(stateDir, `wanctl followed to wan2 (${i + 1})`, (st) => switchedTo(st, "wan2"), 30_000, d);
      over.push(reg - routerAt);
      say(`switch ${i + 1}/${switches}: router → REGISTER through wan2 at the ITSP ${reg - routerAt} ms (the router switched ${routerAt - cutAt} ms after the cut); wanctl's steps: ${stepTimes(s)}${s.lastSwitch!.ok ? "" : " FAILED"}`);

      await sleep(Math.random() * 1000); // the same for the heal: the router's failback must not lock to wanctl's looks
      const healAt = Date.now();
      await lab.heal("wan1");
      const backAt = await until(`the router's failback ${i + 1}`, () => routerSwitch(r, "wan1", healAt), holdDownMs + 20_000);
      const regBack = await until(`the trunk's REGISTER from ${WAN1}`, () => registeredAt(itsp, WAN1, backAt));
      const b = await waitForStatus(stateDir, `wanctl followed back to wan1 (${i + 1})`, (st) => switchedTo(st, "wan1") && st.lastSwitch?.kind === "failback", 30_000, d);
      back.push(regBack - backAt);
      say(`failback ${i + 1}/${switches}: router → REGISTER through wan1 at the ITSP ${regBack - backAt} ms; wanctl's steps: ${stepTimes(b)}${b.lastSwitch!.ok ? "" : " FAILED"}`);
      rss = Math.max(rss, rssMegabytes(d.pid));
    }
    const round = (n: number) => Math.round(n * 10) / 10;
    return {
      nat: "masquerade",
      switches,
      gateway_probes: gatewayProbes,
      registered_ms_p50: percentile(over, 50),
      registered_ms_p95: percentile(over, 95),
      failback_registered_ms_p50: percentile(back, 50),
      failback_registered_ms_p95: percentile(back, 95),
      rss_mb: round(rss),
      cpu_pct: round(cpu),
    };
  } finally {
    await daemon?.stop();
    await router?.stop();
    await asterisk?.stop();
    await bind?.stop();
    await itsp.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

runScriptOnLab(
  "bench",
  async (lab) => {
    say(`bench:follow: ${switches} switch(es) of a MASQUERADE router that switches by itself, wanctl on the PBX host following it (route.backend none), router hold-down ${holdDownMs} ms${gatewayProbes ? `, the way out probed with ${gatewayProbes} ICMP target(s)` : ""}`);
    const figures = await run(lab);
    say("target: router's switch → trunk registered through the new address at the ITSP, p95 ≤ 2000 ms");
    say(JSON.stringify(figures));
  },
  [asteriskAvailability],
);
