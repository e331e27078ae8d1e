// The operations side of the real `wanctl run` in the lab, across a cut of wan1: systemd's notify
// socket hears READY=1, the status line and the watchdog; a real Prometheus on the office LAN
// scrapes the metrics and its API shows the switch; a real Chromium on the LAN shows the switch on
// the status page with graphs that have data, with no console error, and leaves screenshots in
// test-artifacts/. Scratch files (config, state, Prometheus' data) are always removed.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type ConsoleMessage } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { switchedTo, waitForStatus, wanctlBin, wanctlCommand } from "../lab/daemon-harness.js";
import type { Lab, LabNode, LabProcess } from "../lab/index.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { labConfig } from "../lab/wanctl-config.js";
import { listenNotifySocket, type NotifySocket } from "./fixtures.js";
import { describeWithTools, toolPath } from "./tools.js";

const TOKEN = "lab-prometheus-t0ken";
const USER = "office";
const PASSWORD = "lab-page-pa55word";
const LISTEN = "192.168.50.1:9026";
const PROMETHEUS = "http://127.0.0.1:9090";
const artifacts = new URL("../../test-artifacts/", import.meta.url).pathname;
const rules = new URL("../../contrib/prometheus/wanctl-rules.yml", import.meta.url).pathname;

/** A GET from inside a lab namespace (the test itself sits outside): status and body. */
async function nsGet(lab: Lab, node: LabNode, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const script = `fetch(process.argv[1], { headers: JSON.parse(process.argv[2]), signal: AbortSignal.timeout(5000) }).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })), (e) => process.stdout.write(JSON.stringify({ status: 0, body: String(e) })))`;
  const result = await lab.exec(node, [process.execPath, "-e", script, url, JSON.stringify(headers)], { timeoutMs: 10_000 });
  return JSON.parse(result.stdout || '{"status":0,"body":"no output"}');
}

/** Polls `probe` until it returns something; bounded. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

/** Three hours of minute rows and a switch and back, as an earlier run of wanctl would have left them. */
function seedHistory(stateDir: string, now: number): void {
  const minute = Math.floor(now / 60_000);
  const lines: string[] = [];
  for (let m = minute - 180; m <= minute - 3; m++) {
    const wave = Math.sin(m / 9);
    const outage = m >= minute - 125 && m < minute - 118;
    // ["m", minute, link, sent, lost, median RTT, highest RTT, jitter, worst state]
    lines.push(JSON.stringify(["m", m, "wan1", 684, outage ? 684 : Math.round(2 + 2 * wave), outage ? null : Math.round((11 + wave) * 100) / 100, outage ? null : 19, outage ? null : 1.2, outage ? "down" : "up"]));
    lines.push(JSON.stringify(["m", m, "wan2", 684, Math.round(8 + 6 * wave), Math.round((41 + 4 * wave) * 100) / 100, 70, 5.5, "up"]));
  }
  const at = (minutesAgo: number) => (minute - minutesAgo) * 60_000 + 7_000;
  const step = (name: string, start: number, ms: number, detail: string) => ({ step: name, ok: true, durationMs: ms, startMs: start, detail });
  lines.push(JSON.stringify(["s", { at: at(125), kind: "failover", from: "wan1", to: "wan2", ok: true, durationMs: 460, reason: "wan1 down: 3 rounds in a row failed", steps: [step("route", 0, 14, "default route via wan2"), step("conntrack", 14, 21, "1 stale SIP/RTP connection-tracking entries deleted"), step("public-ip", 14, 3, "203.0.113.10 (static)")] }]));
  lines.push(JSON.stringify(["s", { at: at(112), kind: "failback", from: "wan2", to: "wan1", ok: true, durationMs: 390, reason: "wan1 up for 180 s", steps: [step("route", 0, 12, "default route via wan1"), step("conntrack", 12, 18, "1 stale SIP/RTP connection-tracking entries deleted"), step("public-ip", 12, 2, "198.51.100.10 (interface)")] }]));
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, "history.jsonl"), `${lines.join("\n")}\n`);
}

describeWithTools("the ops tools", ["prometheus", "chromium", "python3", "systemd-notify"], () => {
  describeLab("metrics, systemd and the status page of wanctl run, across a cut (lab)", () => {
    const lab = useLab();
    let dir = "";
    let stateDir = "";
    let configFile = "";
    let daemon: LabProcess;
    let prometheus: LabProcess;
    let notify: NotifySocket | undefined;
    let browser: Browser | undefined;
    const received = (match: (text: string) => boolean) => notify!.received(match);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "wanctl-ops-lab-"));
      stateDir = join(dir, "state");
      seedHistory(stateDir, Date.now());
      const socket = join(dir, "notify.sock");
      notify = await listenNotifySocket(socket);

      const config = {
        ...labConfig(stateDir),
        failover: { holdDownSeconds: 600 },
        http: { listen: LISTEN, auth: { token: TOKEN, username: USER, password: PASSWORD } },
      };
      configFile = join(dir, "config.json");
      writeFileSync(configFile, JSON.stringify(config, null, 2));
      chmodSync(configFile, 0o600);
      // As systemd starts it: a notify socket, and the watchdog on (3 s, fed every second).
      daemon = lab.spawn("office", [...wanctlCommand(), "run", "--config", configFile], { env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: "3000000" } });
      await waitForStatus(stateDir, "both links up on wan1", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up"), 20_000, daemon);

      const promDir = join(dir, "prometheus");
      mkdirSync(promDir);
      writeFileSync(
        join(promDir, "prometheus.yml"),
        JSON.stringify({
          global: { scrape_interval: "1s", evaluation_interval: "1s" },
          rule_files: [rules],
          scrape_configs: [{ job_name: "wanctl", authorization: { credentials: TOKEN }, static_configs: [{ targets: [LISTEN] }] }],
        }),
      );
      // On the office LAN, as a monitoring host there would be.
      prometheus = lab.spawn("pbx", [toolPath("prometheus")!, `--config.file=${join(promDir, "prometheus.yml")}`, `--storage.tsdb.path=${join(promDir, "data")}`, "--web.listen-address=127.0.0.1:9090"]);
      await eventually("Prometheus to be ready", async () => ((await nsGet(lab, "pbx", `${PROMETHEUS}/-/ready`)).status === 200 ? true : undefined), 30_000);
    }, 90_000);

    afterAll(async () => {
      await browser?.close().catch(() => undefined);
      await prometheus?.stop().catch(() => undefined);
      await daemon?.stop().catch(() => undefined);
      notify?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const query = async (promql: string) => {
      const r = await nsGet(lab, "pbx", `${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(promql)}`);
      if (r.status !== 200) throw new Error(`${promql}: HTTP ${r.status}: ${r.body}`);
      const body = JSON.parse(r.body) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      return body.data.result;
    };

    test("systemd hears READY=1 once both links are judged, the status line, and the watchdog fed by the probe rounds", async () => {
      expect(await received((t) => t.includes("READY=1"))).toContain("READY=1");
      expect(await received((t) => t.startsWith("STATUS=on wan1; wan2 up"))).toMatch(/^STATUS=on wan1; wan2 up; no switch since start$/);
      await eventually("two watchdog feeds", async () => (notify!.datagrams.filter((t) => t === "WATCHDOG=1").length >= 2 ? true : undefined), 10_000);
    });

    test("a real Prometheus scrapes wanctl across the cut, and its API shows the switch", async () => {
      await eventually("both links up in Prometheus", async () => ((await query("wanctl_link_up == 1")).length === 2 ? true : undefined));
      expect((await query('up{job="wanctl"}'))[0]?.value[1]).toBe("1");

      // A drill first (wanctl test): to wan2 and back, both legs counted as drill switches.
      const drill = await lab.exec("office", [process.execPath, wanctlBin, "test", "--config", configFile], { timeoutMs: 30_000 });
      expect(drill.code, drill.stdout + drill.stderr).toBe(0);
      await eventually("the drill in Prometheus", async () => ((await query("wanctl_drill_last_success == 1")).length === 1 ? true : undefined));
      expect((await query('wanctl_switches_total{kind="drill",from="wan1",to="wan2",result="ok"}'))[0]?.value[1]).toBe("1");
      expect(await query("WanctlDrillTooOld")).toEqual([]);

      await lab.cut("wan1");
      await waitForStatus(stateDir, "failover to wan2", (s) => switchedTo(s, "wan2"), 15_000, daemon);
      const switched = await eventually("the switch in Prometheus", async () => {
        const result = await query('wanctl_switches_total{kind="failover",from="wan1",to="wan2",result="ok"} == 1');
        return result.length === 1 ? result[0] : undefined;
      });
      expect(switched.metric).toMatchObject({ job: "wanctl", instance: LISTEN });
      expect((await query('wanctl_link_active{link="wan2"}'))[0]?.value[1]).toBe("1");
      expect((await query('wanctl_link_state{link="wan1",state="down"}'))[0]?.value[1]).toBe("1");
      // The route step of each drill leg and of the failover.
      expect((await query('wanctl_switch_step_duration_seconds_count{step="route",result="ok"}'))[0]?.value[1]).toBe("3");
      // wan1 was up, then down: the scrapes across the cut.
      expect((await query('max_over_time(wanctl_link_up{link="wan1"}[1m])'))[0]?.value[1]).toBe("1");
      expect((await query('min_over_time(wanctl_link_up{link="wan1"}[1m])'))[0]?.value[1]).toBe("0");
      // The contrib rules ran on the real metrics: the backup-link alert is pending (for: 4h).
      const alerts = await eventually("WanctlOnBackupLink pending", async () => {
        const result = await query('ALERTS{alertname="WanctlOnBackupLink"}');
        return result.length ? result : undefined;
      });
      expect(alerts[0]?.metric.alertstate).toBe("pending");
      expect(await query('ALERTS{alertname="WanctlSwitchFailed"}')).toEqual([]);
      // And systemd's status line followed.
      expect(await received((t) => t.startsWith("STATUS=on wan2; wan1 down; last switch"))).toMatch(/^STATUS=on wan2; wan1 down; last switch failover wan1 → wan2 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    });

    test("the status page in a real Chromium shows the switch and graphs with data, without a console error", async () => {
      // Chromium runs on the office LAN too: a wrapper enters the namespace (playwright talks to it over pipes).
      const wrapper = join(dir, "chromium-in-lan");
      writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${lab.ns("pbx")} ${toolPath("chromium")} "$@"\n`);
      chmodSync(wrapper, 0o755);
      browser = await chromium.launch({
        executablePath: wrapper,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        timeout: 30_000,
      });
      const url = `http://${LISTEN}/`;

      // Without the password the browser gets nothing (Chromium headless gives up on the challenge).
      const stranger = await browser.newContext();
      await expect((await stranger.newPage()).goto(url)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
      await stranger.close();

      mkdirSync(artifacts, { recursive: true });
      for (const [name, viewport] of [
        ["desktop", { width: 1280, height: 900 }],
        ["phone", { width: 390, height: 844 }],
      ] as const) {
        const context = await browser.newContext({ viewport, httpCredentials: { username: USER, password: PASSWORD }, deviceScaleFactor: name === "phone" ? 2 : 1 });
        const page = await context.newPage();
        const problems: string[] = [];
        page.on("console", (m: ConsoleMessage) => void (m.type() === "error" || m.type() === "warning" ? problems.push(`${m.type()}: ${m.text()}`) : undefined));
        page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
        page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
        expect((await page.goto(url))?.status()).toBe(200);

        // The switch: the summary, the links, the timeline with its steps.
        await page.locator("#summary", { hasText: "On wan2 (backup)" }).waitFor({ timeout: 10_000 });
        await page.locator('#links [data-link="wan1"][data-state="down"]').waitFor();
        const latest = page.locator("#switches details.switch").first();
        await latest.locator("summary", { hasText: "wan1 → wan2" }).waitFor({ timeout: 10_000 });
        expect(await latest.getAttribute("data-kind")).toBe("failover");
        expect(await latest.getAttribute("data-ok")).toBe("true");
        expect(await latest.locator(".steps .badge").allTextContents()).toEqual(["route", "conntrack"]);
        // The drill's two legs, and the earlier run's switches: the history survived the restart.
        expect(await page.locator("#switches details.switch").count()).toBe(5);
        expect(await page.locator("#switches details.switch").evaluateAll((all) => all.map((d) => d.getAttribute("data-kind")))).toEqual(["failover", "drill", "drill", "failback", "failover"]);
        await page.locator("#drill .badge", { hasText: "passed" }).waitFor();

        // The graphs: the earlier run's three hours and this run's minutes.
        for (const chart of ["#loss-chart", "#latency-chart"]) {
          await page.locator(`${chart}[data-points]`).waitFor({ timeout: 10_000 });
          expect(Number(await page.locator(chart).getAttribute("data-points"))).toBeGreaterThan(300);
          const newest = Date.parse((await page.locator(chart).getAttribute("data-newest"))!);
          expect(Date.now() - newest).toBeLessThan(3 * 60_000);
          expect(await page.locator(`${chart} canvas`).count()).toBe(1);
        }
        await page.locator('button[data-range="7d"]').click();
        await page.locator('button[data-range="7d"][aria-pressed="true"]').waitFor();
        const lossPoints = async () => Number(await page.locator("#loss-chart").getAttribute("data-points"));
        // 7 days in 5-minute buckets: fewer points for the same hours.
        await expect.poll(lossPoints, { timeout: 10_000 }).toBeLessThan(300);
        expect(await lossPoints()).toBeGreaterThan(50);
        await page.locator('button[data-range="24h"]').click();
        await expect.poll(lossPoints, { timeout: 10_000 }).toBeGreaterThan(300);

        // No secret on the page.
        const text = await page.content();
        for (const secret of [TOKEN, PASSWORD]) expect(text).not.toContain(secret);

        await page.screenshot({ path: join(artifacts, `status-page-${name}.png`), fullPage: true });
        expect(problems).toEqual([]);
        await context.close();
      }
    }, 90_000);

    test("stopping tells systemd", async () => {
      await daemon.stop();
      expect(await received((t) => t.includes("STOPPING=1"))).toContain("STOPPING=1");
    });
  });
});
