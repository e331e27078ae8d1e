// The HTTP listener: read-only, loopback names only without auth, a token or a username and
// password with it; the page's assets served by wanctl itself. Then the whole http side with a
// daemon (fake probes and route): /api/status is `wanctl status --json`, the switch shows in the
// metrics, the activity and the history, and no secret shows anywhere.
import { FakeRoute } from "../daemon/fakes.js";
import { createServer } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import type { DaemonObserver } from "../../src/daemon/observer.js";
import { httpObservers } from "../../src/ops/index.js";
import { isAuthorized, startOpsServer, type OpsServer } from "../../src/ops/server.js";
import { cli } from "../cli/run-cli.js";
import { minimalConfig, writeTemp } from "../config/fixtures.js";
import { tempDir } from "../temp-dirs.js";
import { parseExposition, quietLogger } from "./fixtures.js";

const quiet = quietLogger();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const routes = {
  metrics: async () => ({ contentType: "text/plain; version=0.0.4; charset=utf-8", body: "wanctl_up 1\n" }),
  status: () => ({ active: "wan1" }),
  history: (range: string) => ({ range }),
  activity: () => ({ switches: [] }),
};

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("the HTTP listener", () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const url = (path: string) => `http://127.0.0.1:${server!.address.port}${path}`;

  test("without auth: serves metrics, the API and the page's assets, read-only", async () => {
    server = await startOpsServer({ listen: { host: "127.0.0.1", port: 0 }, routes, logger: quiet });
    const metrics = await fetch(url("/metrics"));
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await metrics.text()).toBe("wanctl_up 1\n");
    expect(await (await fetch(url("/api/status"))).json()).toEqual({ active: "wan1" });
    expect(await (await fetch(url("/api/history?range=7d"))).json()).toEqual({ range: "7d" });
    expect((await fetch(url("/api/history?range=1y"))).status).toBe(400);
    const page = await fetch(url("/"));
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    const html = await page.text();
    // Every asset the page names is served here: no CDN.
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(["/assets/uPlot.min.css", "/assets/page.css", "/assets/uPlot.iife.min.js", "/assets/page.js"]);
    for (const asset of assets) {
      const response = await fetch(url(asset));
      expect(response.status, asset).toBe(200);
      expect((await response.text()).length, asset).toBeGreaterThan(500);
    }
    expect(html).not.toMatch(/https?:\/\//);
    expect((await fetch(url("/nope"))).status).toBe(404);
    const post = await fetch(url("/api/status"), { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });

  test("without auth: answers only to loopback names (no DNS rebinding)", async () => {
    server = await startOpsServer({ listen: { host: "127.0.0.1", port: 0 }, routes, logger: quiet });
    const { port } = server.address;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect((await rawGet(port, host)).status, host).toBe(200);
    }
    const evil = await rawGet(port, `evil.example:${port}`);
    expect(evil.status).toBe(403);
    expect(evil.body).not.toContain("wan1");
  });

  test("with auth: the token or the username and password, nothing else", async () => {
    server = await startOpsServer({ listen: { host: "127.0.0.1", port: 0 }, auth: { token: "t0ken", username: "office", password: "pa55" }, routes, logger: quiet });
    const none = await fetch(url("/api/status"));
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Basic realm="wanctl", charset="UTF-8"');
    expect(await none.text()).not.toContain("wan1");
    for (const bad of ["Bearer t0ke", "Bearer t0ken2", basic("office", "pa5"), basic("0ffice", "pa55"), "t0ken", "Basic", ""]) {
      expect((await fetch(url("/metrics"), { headers: { Authorization: bad } })).status, bad).toBe(401);
    }
    expect((await fetch(url("/metrics"), { headers: { Authorization: "Bearer t0ken" } })).status).toBe(200);
    expect((await fetch(url("/"), { headers: { Authorization: basic("office", "pa55") } })).status).toBe(200);
    // With auth, any Host: it listens beyond loopback on purpose.
    expect((await rawGet(server.address.port, "gateway.office.lan", "Bearer t0ken")).status).toBe(200);
  });

  test("a token alone asks for a bearer token, not a browser password", async () => {
    server = await startOpsServer({ listen: { host: "127.0.0.1", port: 0 }, auth: { token: "t0ken" }, routes, logger: quiet });
    const response = await fetch(url("/metrics"));
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="wanctl"');
    expect(isAuthorized(basic("x", "t0ken"), { token: "t0ken" })).toBe(false);
  });

  test("a port in use is an error the caller sees", async () => {
    server = await startOpsServer({ listen: { host: "127.0.0.1", port: 0 }, routes, logger: quiet });
    await expect(startOpsServer({ listen: { host: "127.0.0.1", port: server.address.port }, routes, logger: quiet })).rejects.toThrow(/EADDRINUSE/);
  });
});

/** A GET with a Host header of our choosing (fetch does not let one set it). */
async function rawGet(port: number, host: string, authorization?: string): Promise<{ status: number; body: string }> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/api/status", headers: { Host: host, ...(authorization ? { Authorization: authorization } : {}) } }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the http side of wanctl run, with a daemon", () => {
  const SECRETS = { http: "http-t0ken-S3CRET", duck: "duck-t0ken-S3CRET", dns: "dns-api-S3CRET" };
  let daemon: Daemon | undefined;
  let observers: DaemonObserver[] = [];
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  test("serves `wanctl status --json` on /api/status, shows the switch everywhere, and never a secret", async () => {
    const port = await freePort();
    const stateDir = tempDir();
    const configText = JSON.stringify({
        ...minimalConfig(),
        stateDir,
        monitor: { targets: [{ type: "icmp", host: "192.0.2.1" }], intervalMs: 5, timeoutMs: 5, downAfter: 2, upAfter: 2 },
        dns: { providers: [{ id: "duck", type: "duckdns", token: SECRETS.duck }], records: [{ name: "office.duckdns.org", provider: "duck" }] },
        http: { listen: `127.0.0.1:${port}`, auth: { token: SECRETS.http } },
      });
    const configFile = writeTemp("c.json", configText);
    const config = parseConfigText(configText, configFile);
    const pbx = {
      readTrunks: async () => ({
        ok: true,
        durationMs: 1,
        detail: "itsp Registered",
        data: { settings: { driver: "pjsip" as const, file: "pjsip.conf", registrations: {} }, live: [{ name: "itsp", status: "Registered" as const, expiration: "120" }] },
      }),
    };
    observers = await httpObservers(config, quiet, { env: {}, pbx });
    let wan1Answers = true;
    const route = new FakeRoute();
    daemon = new Daemon(config, {
      route,
      logger: quiet,
      observers,
      secrets: [SECRETS.duck, SECRETS.dns],
      steps: {
        publicAddress: async () => ({ address: "203.0.113.10", detail: "static" }),
        // A step whose error quotes a secret: the page must show the failure, not the secret.
        updateDns: async () => {
          throw new Error(`https://api.example/zones?key=${SECRETS.dns}: 403`);
        },
      },
      makeProbes: (link) => [
        {
          target: "icmp 192.0.2.1",
          type: "icmp",
          link,
          run: async () => (link.name === "wan2" || wan1Answers ? { target: "icmp 192.0.2.1", ok: true, rttMs: 7 } : { target: "icmp 192.0.2.1", ok: false, error: "timeout" }),
          close: async () => undefined,
        },
      ],
    });
    const get = async (path: string) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { Authorization: `Bearer ${SECRETS.http}` } });
      expect(response.status, path).toBe(200);
      return response.text();
    };
    await daemon.start();
    await until(() => daemon!.status().links.every((l) => l.state === "up"));
    wan1Answers = false;
    await until(() => daemon!.status().lastSwitch?.to === "wan2");

    // The same status the CLI reads from the file (the daemon writes the file as it tells its
    // observers): once both are of the same moment, they are the same JSON.
    let status: Record<string, unknown> = {};
    let compared = false;
    for (let attempt = 0; attempt < 50 && !compared; attempt++) {
      status = JSON.parse(await get("/api/status"));
      const cliStatus = JSON.parse((await cli(["status", "--json", "--config", configFile])).stdout);
      if (cliStatus.updatedAt !== status.updatedAt) continue;
      expect(status).toEqual(cliStatus);
      compared = true;
    }
    expect(compared).toBe(true);
    expect(status).toMatchObject({ active: "wan2", running: true, dns: [{ record: "office.duckdns.org", provider: "duck" }], lastSwitch: { kind: "failover", ok: false } });

    const metrics = parseExposition(await get("/metrics"));
    expect(metrics.get('wanctl_switches_total{kind="failover",from="wan1",to="wan2",result="failed"}')).toBe(1);
    expect(metrics.get('wanctl_link_active{link="wan2"}')).toBe(1);
    expect(metrics.get('wanctl_trunk_registered{trunk="itsp"}')).toBe(1);
    expect(metrics.get('wanctl_dns_record_ok{record="office.duckdns.org",provider="duck"}')).toBeUndefined();

    const activity = JSON.parse(await get("/api/activity"));
    expect(activity.switches[0]).toMatchObject({ kind: "failover", from: "wan1", to: "wan2", ok: false });
    expect(activity.switches[0].steps.map((s: { step: string }) => s.step)).toEqual(["route", "public-ip", "dns"]);
    expect(activity.trunks).toEqual([{ name: "itsp", registered: true, expirySeconds: 120 }]);

    const history = JSON.parse(await get("/api/history?range=24h"));
    expect(history.links).toEqual(["wan1", "wan2"]);
    expect(history.series.wan2.latencyMs.at(-1)).toBe(7);
    expect(history.switches).toEqual([expect.objectContaining({ from: "wan1", to: "wan2", kind: "failover", ok: false })]);

    const everything = [await get("/"), await get("/assets/page.js"), JSON.stringify(status), await get("/metrics"), JSON.stringify(activity), JSON.stringify(history), await get("/api/history?range=7d")].join("\n");
    for (const secret of Object.values(SECRETS)) expect(everything).not.toContain(secret);
    expect(JSON.stringify(activity)).toContain("403");
  });
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
