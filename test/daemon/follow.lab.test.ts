// route.backend "none" in the lab: the office is a router that switches by itself
// (test/lab/self-router.ts pings through each WAN and moves its default route, telling nobody),
// and the real `wanctl run` on the PBX host (the pbx namespace, beside the real Asterisk 20) sees
// the switch in the office's egress address (STUN through the default route) and follows it:
// DNS at the real BIND, Asterisk's external address, the trunk registered again through the new
// link at the ITSP (Kamailio); failback the same way; the drill in place. Then the stale NAT that
// wanctl cannot clear, with both kinds of NAT on the router: MASQUERADE (the kernel drops a
// mapping whose output interface changed), static SNAT (the mapping outlives the switch, and the
// trunk's REGISTER never gets an answer: a failed step that names the likely cause), and static
// SNAT on a router that flushes its UDP flows when it switches, as the README asks.
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { DaemonStatus } from "../../src/daemon/status-file.js";
import { asteriskAvailability, startAsterisk, waitTrunksRegistered, type LabAsterisk } from "../lab/asterisk.js";
import { startBind, type Bind } from "../lab/bind.js";
import { switchedTo, waitForStatus, wanctlBin, wanctlCommand } from "../lab/daemon-harness.js";
import { SERVICES, type LabProcess } from "../lab/index.js";
import { contactFrom, startItsp, type Itsp } from "../lab/kamailio.js";
import { officeNat } from "../lab/self-router.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { labFollowConfig, writeLabConfig } from "../lab/wanctl-config.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const built = (path: string): string => `${root}dist/${path.replace(/\.ts$/, ".js")}`;

const WAN1 = "198.51.100.10";
const WAN2 = "203.0.113.10"; // isp2's carrier NAT
const SHORT = 120;
const RECORD = "office.example.com";

describeLab(
  "following a router that switches by itself (route.backend none), wanctl on the PBX host",
  () => {
    const lab = useLab({ linkProbes: true });
    const secret = randomBytes(32).toString("base64");
    let itsp: Itsp;
    let bind: Bind;
    let asterisk: LabAsterisk;
    let echo: LabProcess;
    const dirs: string[] = [];

    beforeAll(async () => {
      itsp = await startItsp(lab);
      echo = lab.spawn("inet", [process.execPath, built("test/lab/fake-ipecho.ts"), JSON.stringify({ host: SERVICES.http, httpPort: 8080, stunPort: 3478 })]);
      await echo.waitFor(/"listening"/, 10_000);
      bind = await startBind(lab, { secret, records: { office: WAN1 } });
      asterisk = await startAsterisk(lab, { trunks: { pjsip: 1, chanSip: 0 } });
      await waitTrunksRegistered(asterisk);
    });
    afterAll(async () => {
      await asterisk?.stop();
      await bind?.stop();
      await itsp?.stop();
      await echo?.stop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    function config(targets?: Parameters<typeof labFollowConfig>[0]["targets"]): { file: string; stateDir: string } {
      // Nobody listens at the webhook: the alerts stay in the outbox, where the test reads them.
      const { file, dir } = writeLabConfig(labFollowConfig({ tsigSecret: secret, registerTimeoutMs: 10_000, alertsUrl: `http://${SERVICES.http}:9/alerts`, ...(targets ? { targets } : {}) }));
      dirs.push(dir);
      return { file, stateDir: join(dir, "state") };
    }

    /** The router, then wanctl on the PBX host, both on wan1 and agreeing about it. */
    async function start({ targets, ...options }: { flushOnSwitch?: boolean; targets?: Parameters<typeof config>[0] } = {}) {
      const router = lab.spawn("office", [process.execPath, built("test/lab/self-router.ts"), JSON.stringify({ target: SERVICES.probe1, holdDownMs: 3000, ...options })]);
      await router.waitFor(/"started":"wan1"/, 10_000);
      const { file, stateDir } = config(targets);
      const daemon = lab.spawn("pbx", [...wanctlCommand(), "run", "--config", file]);
      await waitForStatus(stateDir, "wanctl sees the office on wan1", (s) => s.active === "wan1" && s.links[0]!.state === "up", 20_000, daemon);
      // Its first run has put Asterisk on wan1 (an earlier test may have left it elsewhere) and ended.
      for (let i = 0; i < 100 && !/external_signaling_address *= *198\.51\.100\.10/.test(asterisk.fileText("pjsip.conf")); i++) await new Promise((r) => setTimeout(r, 100));
      await waitTrunksRegistered(asterisk);
      await waitForStatus(stateDir, "wanctl's first run ended", (s) => !s.pending && s.lastSwitch === null, 20_000, daemon);
      /** When the router said it switched to `link` (its own clock, the same as ours). */
      const switchedAt = async (link: string): Promise<number> => {
        const line = await router.waitFor(new RegExp(`"switched":"${link}","at":\\d+`), 15_000);
        return Number(/"at":(\d+)/.exec(line)![1]);
      };
      const stop = async () => {
        await daemon.stop();
        await router.stop();
        await lab.heal("wan1");
        await lab.heal("wan2");
        await lab.setDefaultRoute("wan1"); // where the router may not have gone back before it stopped
      };
      return { router, daemon, file, stateDir, switchedAt, stop };
    }

    const stepsOf = (s: DaemonStatus) => s.lastSwitch!.steps.map((st) => st.step);
    const detailOf = (s: DaemonStatus, step: string) => s.lastSwitch!.steps.find((st) => st.step === step)!.detail;
    /** The ITSP got a REGISTER with a Contact at `address` after `since`. */
    const registeredAt = (address: string, since: number) => itsp.requests().find((r) => r.at >= since && r.method === "REGISTER" && r.expires !== 0 && r.contact.includes(`@${address}:5060`))?.at;

    /** What the ITSP got since `since` and what the office's conntrack holds of the trunk: for a failure's message. */
    const seen = async (since: number) => {
      const requests = itsp.requests().filter((r) => r.at >= since - 3000).map((r) => `${r.at - since} ms ${r.method} from ${r.source} contact ${r.contact} expires ${r.expires}`);
      const ct = (await lab.exec("office", ["conntrack", "-L", "-p", "udp", "--orig-port-src", "5060"])).stdout;
      return `ITSP since the router's switch:\n${requests.join("\n")}\noffice conntrack:\n${ct}\nAsterisk:\n${asterisk.log().split("\n").slice(-25).join("\n")}`;
    };

    test("MASQUERADE router: its switch to wan2 is followed (DNS, Asterisk, the trunk registered through wan2), its failback too, and the drill passes in place", async () => {
      await officeNat(lab, "masquerade");
      await contactFrom(itsp, WAN1);
      const run = await start();
      try {
        await lab.cut("wan1");
        const routerAt = await run.switchedAt("wan2");
        const after = await waitForStatus(run.stateDir, "wanctl followed to wan2", (s) => switchedTo(s, "wan2"), 30_000, run.daemon);
        expect(after.lastSwitch, `${JSON.stringify(after.lastSwitch!.steps.at(-1))}\n${await seen(routerAt)}`).toMatchObject({ kind: "failover", from: "wan1", to: "wan2", ok: true });
        expect(after.lastSwitch!.reason).toBe(`the router moved the office to wan2: its traffic now leaves with ${WAN2}`);
        expect(stepsOf(after)).toEqual(["route", "public-ip", "dns", "asterisk", "trunks"]); // no conntrack step: the flows are the router's
        expect(detailOf(after, "route")).toBe("the router carries the office on wan2");
        expect(detailOf(after, "public-ip")).toBe(`${WAN2} (the office's traffic leaves with it (STUN ${SERVICES.http}:3478 saw ${WAN2}))`);
        expect(await bind.digA(RECORD)).toEqual([WAN2]);
        expect(asterisk.fileText("pjsip.conf")).toMatch(/external_signaling_address *= *203\.0\.113\.10/);
        const contact = await contactFrom(itsp, WAN2, (c) => c.address.includes(`@${WAN2}:`));
        expect(contact.expiresIn).toBeLessThanOrEqual(SHORT);
        console.log(`MASQUERADE: router's switch → REGISTER from ${WAN2} at the ITSP after ${registeredAt(WAN2, routerAt)! - routerAt} ms; steps: ${after.lastSwitch!.steps.map((st) => `${st.step} ${Math.round(st.durationMs)} ms`).join(", ")}`);

        await lab.heal("wan1");
        const backAt = await run.switchedAt("wan1");
        const back = await waitForStatus(run.stateDir, "wanctl followed back to wan1", (s) => switchedTo(s, "wan1") && s.lastSwitch?.kind === "failback", 30_000, run.daemon);
        expect(back.lastSwitch!.ok, `${JSON.stringify(back.lastSwitch!.steps.at(-1))}\n${await seen(backAt)}`).toBe(true);
        expect(await bind.digA(RECORD)).toEqual([WAN1]);
        await contactFrom(itsp, WAN1, (c) => c.address.includes(`@${WAN1}:`) && c.expiresIn > SHORT);
        expect(asterisk.fileText("pjsip.conf")).toMatch(/expiration *= *3600/);
        console.log(`MASQUERADE failback: router's switch → REGISTER from ${WAN1} after ${registeredAt(WAN1, backAt)! - backAt} ms`);

        // The drill: every step on the link the router chose, nothing moved.
        const drill = await lab.exec("pbx", [process.execPath, wanctlBin, "test", "--config", run.file], { timeoutMs: 60_000 });
        expect(drill.code, drill.stdout + drill.stderr).toBe(0);
        expect(drill.stdout).toMatch(/trunks/);
        expect(await lab.defaultRouteLink()).toBe("wan1");
        await contactFrom(itsp, WAN1, (c) => c.address.includes(`@${WAN1}:`) && c.expiresIn > SHORT);
      } finally {
        await run.stop();
      }
    });

    test("static SNAT router: the trunk's flow keeps wan1's address after the switch, its REGISTER gets no answer, and the failed step says why in the status and the alert", async () => {
      await officeNat(lab, "snat");
      await contactFrom(itsp, WAN1);
      // The trunk's flow is mapped to wan1's address (Asterisk's qualify keeps it alive every 5 s).
      const mapped = async () => (await lab.exec("office", ["conntrack", "-L", "-p", "udp", "--orig-port-src", "5060", "--orig-dst", SERVICES.registrar])).stdout.includes(`dst=${WAN1}`);
      for (let i = 0; i < 100 && !(await mapped()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await mapped()).toBe(true);
      const run = await start();
      try {
        await lab.cut("wan1");
        const routerAt = await run.switchedAt("wan2");
        const after = await waitForStatus(run.stateDir, "wanctl followed to wan2", (s) => switchedTo(s, "wan2"), 40_000, run.daemon);
        expect(after.lastSwitch!.ok).toBe(false);
        const trunks = after.lastSwitch!.steps.find((st) => st.step === "trunks")!;
        expect(trunks.ok).toBe(false);
        expect(trunks.detail).toMatch(/itsp not Registered within 10000 ms .*; likely cause: a stale NAT entry on the router for the trunk's UDP 5060 flow/);
        expect(registeredAt(WAN2, routerAt)).toBeUndefined(); // nothing reached the ITSP through wan2
        expect(await bind.digA(RECORD)).toEqual([WAN2]); // the other steps did their part
        const outbox = readFileSync(join(run.stateDir, "outbox", "webhook.json"), "utf8");
        expect(outbox).toContain("a stale NAT entry on the router for the trunk's UDP 5060 flow");
        console.log(`static SNAT: ${trunks.detail}`);

        // What the router should have done: flush its UDP flows. The repair run then registers the trunk.
        await lab.exec("office", ["conntrack", "-D", "-p", "udp", "-s", "192.168.50.0/24"]);
        await contactFrom(itsp, WAN2, (c) => c.address.includes(`@${WAN2}:`));
        await waitForStatus(run.stateDir, "the repair worked", (s) => s.pending === null || s.pending?.steps.length === 0, 40_000, run.daemon);
      } finally {
        await run.stop();
      }
    });

    test("monitor.targets watch the way out through the router: both links cut, it is down and an alert says so; healed, it is up and an alert says that too", async () => {
      await officeNat(lab, "masquerade");
      const run = await start({ targets: [{ type: "icmp", host: SERVICES.probe2 }, { type: "sip", host: SERVICES.registrar, port: 5060 }] });
      /** The alerts in the webhook's outbox (nobody listens there), by id. */
      const alerts = (): Map<string, { kind: string; to?: string; reason: string }> => {
        const found = new Map<string, { kind: string; to?: string; reason: string }>();
        const walk = (node: unknown): void => {
          if (Array.isArray(node)) return node.forEach(walk);
          if (!node || typeof node !== "object") return;
          const o = node as Record<string, unknown>;
          if (typeof o.id === "string" && typeof o.kind === "string" && typeof o.reason === "string") found.set(o.id, o as never);
          Object.values(o).forEach(walk);
        };
        try {
          walk(JSON.parse(readFileSync(join(run.stateDir, "outbox", "webhook.json"), "utf8")));
        } catch {
          // not written yet
        }
        return found;
      };
      const alerted = async (kind: string) => {
        for (let i = 0; i < 50 && ![...alerts().values()].some((a) => a.kind === kind); i++) await new Promise((r) => setTimeout(r, 100));
        return [...alerts().values()].filter((a) => a.kind === kind);
      };
      try {
        const up = await waitForStatus(run.stateDir, "the way out judged up", (s) => s.gateway?.state === "up", 15_000, run.daemon);
        expect(up.gateway!.lastRound).toEqual({ answered: 2, targets: 2 });
        // wan2 first, and long enough for the router to count it down (3 echoes 200 ms apart), so
        // that it has nowhere to go when wan1 follows.
        await lab.cut("wan2");
        await new Promise((r) => setTimeout(r, 1500));
        await lab.cut("wan1");
        const down = await waitForStatus(run.stateDir, "the way out down", (s) => s.gateway?.state === "down", 15_000, run.daemon);
        expect(down.gateway!.lastRound).toEqual({ answered: 0, targets: 2 });
        expect(down.active).toBe("wan1"); // the router stayed: nothing to follow
        const [wentDown] = await alerted("gateway-down");
        expect(wentDown).toMatchObject({ to: "wan1", reason: expect.stringMatching(/^no answer through the router: /) });

        // wan1 alone (wan2 when the test ends): the router, still on wan1, has nowhere to move.
        await lab.heal("wan1");
        const back = await waitForStatus(run.stateDir, "the way out up again", (s) => s.gateway?.state === "up" && s.links[0]!.state === "up", 20_000, run.daemon);
        expect(back.active).toBe("wan1");
        const [cameBack] = await alerted("gateway-up");
        expect(cameBack).toMatchObject({ to: "wan1", reason: expect.stringMatching(/^the way out through the router answers again after \d+ s down: /) });
        console.log(`the way out through the router: down "${wentDown!.reason}", back "${cameBack!.reason}"`);
      } finally {
        await run.stop();
      }
    });

    test("static SNAT router that flushes its UDP flows when it switches (the README's advice): the trunk follows at once", async () => {
      await officeNat(lab, "snat");
      const run = await start({ flushOnSwitch: true });
      try {
        await lab.cut("wan1");
        const routerAt = await run.switchedAt("wan2");
        const after = await waitForStatus(run.stateDir, "wanctl followed to wan2", (s) => switchedTo(s, "wan2"), 30_000, run.daemon);
        expect(after.lastSwitch!.ok, JSON.stringify(after.lastSwitch, null, 1)).toBe(true);
        await contactFrom(itsp, WAN2, (c) => c.address.includes(`@${WAN2}:`));
        console.log(`static SNAT with a flush on switch: REGISTER from ${WAN2} after ${registeredAt(WAN2, routerAt)! - routerAt} ms`);
      } finally {
        await run.stop();
      }
    });
  },
  [asteriskAvailability],
);
