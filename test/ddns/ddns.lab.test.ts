// Dynamic DNS from the office gateway in the network lab (wanctl's updater from the build, run in
// the office namespace): RFC 2136 with TSIG against a real BIND on 192.0.2.53, and the dyndns2,
// Cloudflare and DuckDNS fakes on 192.0.2.80, reached through whichever link is active.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { DnsConfig } from "../../src/config/schema/dns.js";
import type { DdnsAlert, RecordResult } from "../../src/ddns/updater.js";
import { startBind, type Bind } from "../lab/bind.js";
import { LINK_PLAN, SERVICES } from "../lab/index.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { assertBuilt, runInLab, startLabScript, type LabScript } from "./lab-helpers.js";

const SECRET = randomBytes(32).toString("base64");
const FAKE_PORT = 8081;
const FAKE = `http://${SERVICES.http}:${FAKE_PORT}`;
const DYN_PASSWORD = "dyn-pass-6b1f";
const CF_TOKEN = "cf-token-93ad0c";
const DUCK_TOKEN = "duck-token-77e2";

type Run = { results: RecordResult[]; alerts: DdnsAlert[] };

const bindConfig = (secret = SECRET, keyName = "wanctl-key"): DnsConfig => ({
  providers: [{ id: "bind", type: "rfc2136", server: SERVICES.dns, port: 53, zone: "example.com", tsig: { name: keyName, algorithm: "hmac-sha256", secret } }],
  records: [{ name: "office.example.com", provider: "bind", ttl: 60, verify: true }],
});

const httpConfig: DnsConfig = {
  providers: [
    { id: "dyn", type: "dyndns2", server: `${FAKE}/nic/update`, username: "office", password: DYN_PASSWORD },
    { id: "cf", type: "cloudflare", token: CF_TOKEN, apiUrl: `${FAKE}/client/v4` },
    { id: "duck", type: "duckdns", token: DUCK_TOKEN, server: `${FAKE}/update` },
  ],
  records: [
    { name: "office.dynhost.net", provider: "dyn", ttl: 60, verify: false },
    { name: "cf.example.com", provider: "cf", ttl: 60, verify: false },
    { name: "office.duckdns.org", provider: "duck", ttl: 60, verify: false },
  ],
};

describeLab("dynamic DNS from the office (lab)", () => {
  const lab = useLab();
  let bind: Bind;
  let fake: LabScript;
  let dir = "";
  const stateDir = (name: string) => join(dir, name);

  const update = (dns: DnsConfig, address: string | { active: string; addresses: Record<string, string> }, state: string, extra: Record<string, unknown> = {}) =>
    runInLab<Run>(lab, "office", {
      op: "updateAllRecords",
      config: { dns, links: [{ name: "wan1", priority: 1 }, { name: "wan2", priority: 2 }] },
      office: typeof address === "string" ? { active: "wan1", addresses: { wan1: address } } : address,
      options: {
        stateDir: stateDir(state),
        // The active link's source address: queries and updates leave through it.
        sourceAddress: extra.sourceAddress as string,
        resolvers: [SERVICES.dns],
        requestTimeoutMs: 3000,
        checkTimeoutMs: 1500,
        verifyTimeoutMs: 15_000,
        verifyIntervalMs: 200,
        userAgent: "wanctl/lab",
        ...extra,
      },
    });

  /** How many RFC 2136 updates BIND applied so far (its log, one line per added record). */
  const bindUpdates = (): number => (bind.process.stderr.match(/updating zone 'example\.com\/IN': adding an RR/g) ?? []).length;

  beforeAll(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), "wanctl-ddns-lab-"));
    await lab.enableLinkProbes();
    bind = await startBind(lab, { secret: SECRET, records: { office: LINK_PLAN.wan1.publicAddress } });
    fake = await startLabScript(lab, "inet", "test/lab/fake-ddns.ts", {
      host: SERVICES.http,
      port: FAKE_PORT,
      dyndns2: { username: "office", password: DYN_PASSWORD, hosts: { "office.dynhost.net": LINK_PLAN.wan1.publicAddress } },
      cloudflare: { token: CF_TOKEN, zones: { "example.com": "zone-example" }, records: [{ id: "r1", zone: "example.com", name: "cf.example.com", content: LINK_PLAN.wan1.publicAddress, ttl: 60, proxied: false }] },
      duckdns: { token: DUCK_TOKEN, domains: { office: LINK_PLAN.wan1.publicAddress } },
    });
  });

  afterAll(async () => {
    await bind?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("RFC 2136 + TSIG: after a failover to wan2 the record points at wan2's public address, and BIND answers it", async () => {
    await lab.setDefaultRoute("wan2");
    expect(await bind.digA("office.example.com")).toEqual([LINK_PLAN.wan1.publicAddress]);
    const { results, alerts } = await update(bindConfig(), LINK_PLAN.wan2.publicAddress, "rfc2136", { sourceAddress: LINK_PLAN.wan2.address });
    expect(alerts).toEqual([]);
    expect(results).toHaveLength(1);
    const r = results[0]!;
    expect(r).toMatchObject({ record: "office.example.com", ok: true, changed: true, outcome: "updated" });
    expect(r.verification).toBe(`verified: ${SERVICES.dns} answers ${LINK_PLAN.wan2.publicAddress}`);
    expect(r.verifiedMs).toBeGreaterThanOrEqual(0);
    console.log(`rfc2136 update: ${r.durationMs.toFixed(1)} ms, verified after ${r.verifiedMs?.toFixed(1)} ms`);
    expect(await bind.digA("office.example.com", "office")).toEqual([LINK_PLAN.wan2.publicAddress]);
    // The update reached BIND through wan2 (isp2's NAT address), not through wan1.
    expect(bind.process.stderr).toMatch(new RegExp(`client @0x[0-9a-f]+ ${LINK_PLAN.wan2.publicAddress.replace(/\./g, "\\.")}#\\d+/key wanctl-key: updating zone 'example\\.com/IN'`));
    expect(readFileSync(join(stateDir("rfc2136"), "ddns.json"), "utf8")).not.toContain(SECRET);
  });

  test("RFC 2136: nothing is sent while the record already holds the address", async () => {
    const before = bindUpdates();
    const { results } = await update(bindConfig(), LINK_PLAN.wan2.publicAddress, "rfc2136", { sourceAddress: LINK_PLAN.wan2.address });
    expect(results[0]).toMatchObject({ ok: true, changed: false, outcome: "unchanged" });
    expect(bindUpdates()).toBe(before);
  });

  test("RFC 2136: a wrong TSIG secret or key name gives a clear error naming the record, stops it, and raises an alert", async () => {
    const wrongSecret = randomBytes(32).toString("base64");
    const bad = await update(bindConfig(wrongSecret), "192.0.2.123", "badsig", { sourceAddress: LINK_PLAN.wan2.address, force: true });
    expect(bad.results[0]).toMatchObject({ ok: false, outcome: "stopped" });
    expect(bad.results[0]!.detail).toContain(`TSIG key 'wanctl-key' rejected by ${SERVICES.dns} for office.example.com (BADSIG)`);
    expect(bad.alerts).toEqual([expect.objectContaining({ kind: "ddns-stopped", record: "office.example.com" })]);
    expect(JSON.stringify(bad)).not.toContain(wrongSecret);

    const unknown = await update(bindConfig(SECRET, "no-such-key"), "192.0.2.123", "badkey", { sourceAddress: LINK_PLAN.wan2.address, force: true });
    expect(unknown.results[0]!.detail).toContain(`TSIG key 'no-such-key' rejected by ${SERVICES.dns} for office.example.com (BADKEY)`);
    // BIND still holds the right address.
    expect(await bind.digA("office.example.com")).toEqual([LINK_PLAN.wan2.publicAddress]);
  });

  test("RFC 2136 SRV: BIND answers every link's name at its own address and SRV with the active link first, before and after a switch", async () => {
    const dns: DnsConfig = {
      ...bindConfig(),
      records: [],
      sip: { domain: "office.example.com", provider: "bind", services: [{ service: "_sip._udp", weight: 0 }, { service: "_sips._tcp", weight: 0 }], ttl: 60, verify: true },
    };
    const W1 = LINK_PLAN.wan1.publicAddress;
    const W2 = LINK_PLAN.wan2.publicAddress;
    expect(await bind.digSrv("_sip._udp.office.example.com")).toEqual([]);

    await lab.setDefaultRoute("wan1");
    const before = await update(dns, { active: "wan1", addresses: { wan1: W1, wan2: W2 } }, "srv", { sourceAddress: LINK_PLAN.wan1.address });
    expect(before.results.map((r) => [r.record, r.outcome, r.verification])).toEqual([
      ["wan1.office.example.com", "updated", `verified: ${SERVICES.dns} answers ${W1}`],
      ["wan2.office.example.com", "updated", `verified: ${SERVICES.dns} answers ${W2}`],
      ["_sip._udp.office.example.com", "updated", `verified: ${SERVICES.dns} answers 10 0 5060 wan1.office.example.com, 20 0 5060 wan2.office.example.com`],
      ["_sips._tcp.office.example.com", "updated", `verified: ${SERVICES.dns} answers 10 0 5061 wan1.office.example.com, 20 0 5061 wan2.office.example.com`],
    ]);
    expect(await bind.digSrv("_sip._udp.office.example.com", "office")).toEqual(["10 0 5060 wan1.office.example.com.", "20 0 5060 wan2.office.example.com."]);
    expect(await bind.digA("wan2.office.example.com")).toEqual([W2]);

    // wan1 is cut: the office is on wan2, and wan1's address cannot be learned.
    await lab.setDefaultRoute("wan2");
    const sent = bindUpdates();
    const after = await update(dns, { active: "wan2", addresses: { wan2: W2 } }, "srv", { sourceAddress: LINK_PLAN.wan2.address });
    expect(after.results.map((r) => [r.record, r.ok, r.outcome])).toEqual([
      ["wan1.office.example.com", true, "kept"],
      ["wan2.office.example.com", true, "unchanged"],
      ["_sip._udp.office.example.com", true, "updated"],
      ["_sips._tcp.office.example.com", true, "updated"],
    ]);
    expect(await bind.digSrv("_sip._udp.office.example.com")).toEqual(["10 0 5060 wan2.office.example.com.", "20 0 5060 wan1.office.example.com."]);
    expect(await bind.digSrv("_sips._tcp.office.example.com")).toEqual(["10 0 5061 wan2.office.example.com.", "20 0 5061 wan1.office.example.com."]);
    expect(await bind.digA("wan1.office.example.com")).toEqual([W1]);
    // Two SRV RRsets rewritten, two records each; nothing for the names that hold.
    expect(bindUpdates() - sent).toBe(4);

    const again = await update(dns, { active: "wan2", addresses: { wan2: W2 } }, "srv", { sourceAddress: LINK_PLAN.wan2.address });
    expect(again.results.every((r) => r.ok && (r.outcome === "unchanged" || r.outcome === "kept"))).toBe(true);
    expect(bindUpdates() - sent).toBe(4);
  });

  test("dyndns2, Cloudflare and DuckDNS through the active link, before and after a failover", async () => {
    await lab.setDefaultRoute("wan1");
    const first = await update(httpConfig, LINK_PLAN.wan1.publicAddress, "http", { sourceAddress: LINK_PLAN.wan1.address });
    // All three already hold wan1's address: dyndns2 and DuckDNS cannot be asked (no
    // authoritative server in the lab), so they are told and answer nochg / NOCHANGE; Cloudflare
    // is read first and left alone.
    expect(first.results.map((r) => [r.record, r.ok, r.outcome])).toEqual([
      ["office.dynhost.net", true, "unchanged"],
      ["cf.example.com", true, "unchanged"],
      ["office.duckdns.org", true, "unchanged"],
    ]);
    const seenBefore = fake.lines().length;
    expect(fake.lines().filter((l) => l.method === "PATCH" || l.method === "POST")).toEqual([]);
    expect(new Set(fake.lines().map((l) => l.from))).toEqual(new Set([LINK_PLAN.wan1.publicAddress]));

    await lab.setDefaultRoute("wan2");
    const second = await update(httpConfig, LINK_PLAN.wan2.publicAddress, "http", { sourceAddress: LINK_PLAN.wan2.address });
    expect(second.results.map((r) => [r.record, r.ok, r.changed, r.outcome])).toEqual([
      ["office.dynhost.net", true, true, "updated"],
      ["cf.example.com", true, true, "updated"],
      ["office.duckdns.org", true, true, "updated"],
    ]);
    const after = fake.lines().slice(seenBefore);
    expect(new Set(after.map((l) => l.from))).toEqual(new Set([LINK_PLAN.wan2.publicAddress]));
    expect(after.find((l) => l.path === "/nic/update")).toMatchObject({
      query: { hostname: "office.dynhost.net", myip: LINK_PLAN.wan2.publicAddress },
      userAgent: "wanctl/lab",
      authorization: `Basic ${Buffer.from(`office:${DYN_PASSWORD}`).toString("base64")}`,
    });
    expect(after.find((l) => l.method === "PATCH")).toMatchObject({ body: { content: LINK_PLAN.wan2.publicAddress, ttl: 60, proxied: false } });
    expect(after.find((l) => l.path === "/update")).toMatchObject({ query: { domains: "office", ip: LINK_PLAN.wan2.publicAddress } });

    // Nothing changed since: the cache says so; Cloudflare's API is read, the zone of
    // office.dynhost.net has no name server in the lab (the check fails, the cache stands), and
    // DuckDNS's neither: none is told again.
    const seen2 = fake.lines().length;
    const third = await update(httpConfig, LINK_PLAN.wan2.publicAddress, "http", { sourceAddress: LINK_PLAN.wan2.address });
    expect(third.results.every((r) => r.ok && r.outcome === "unchanged")).toBe(true);
    expect(fake.lines().slice(seen2).filter((l) => l.path === "/nic/update" || l.path === "/update" || l.method === "PATCH")).toEqual([]);
  });

  test("provider error answers in the lab: permanent ones stop the record (nothing more is sent), 911 backs off", async () => {
    const port = FAKE_PORT + 1;
    const url = `http://${SERVICES.http}:${port}`;
    const errors = await startLabScript(lab, "inet", "test/lab/fake-ddns.ts", {
      host: SERVICES.http,
      port,
      dyndns2: { username: "office", password: DYN_PASSWORD, hosts: { "office.dynhost.net": null, "pbx.dynhost.net": null } },
      cloudflare: { token: CF_TOKEN, zones: { "example.com": "zone-example" } },
      duckdns: { token: DUCK_TOKEN, domains: { office: null } },
      scripts: {
        dyndns2: [{ body: "badauth", status: 401 }, { body: "911" }],
        // Twice: the "does it hold the address already?" read, then the update itself.
        cloudflare: [1, 2].map(() => ({ status: 403, body: JSON.stringify({ success: false, errors: [{ code: 10000, message: "Authentication error" }], messages: [], result: null }) })),
        duckdns: [{ body: "KO" }],
      },
    });
    const one = (provider: DnsConfig["providers"][number], name: string): DnsConfig => ({ providers: [provider], records: [{ name, provider: provider.id, ttl: 60, verify: false }] });
    // [what, config, outcome of the first try, outcome when asked again at once]
    const cases: [string, DnsConfig, string, string][] = [
      ["badauth", one({ id: "dyn", type: "dyndns2", server: `${url}/nic/update`, username: "office", password: DYN_PASSWORD }, "office.dynhost.net"), "stopped", "stopped"],
      ["911", one({ id: "dyn", type: "dyndns2", server: `${url}/nic/update`, username: "office", password: DYN_PASSWORD }, "pbx.dynhost.net"), "failed", "backing-off"],
      ["cloudflare 403", one({ id: "cf", type: "cloudflare", token: CF_TOKEN, apiUrl: `${url}/client/v4` }, "cf.example.com"), "stopped", "stopped"],
      ["duckdns KO", one({ id: "duck", type: "duckdns", token: DUCK_TOKEN, server: `${url}/update` }, "office.duckdns.org"), "stopped", "stopped"],
    ];
    for (const [what, dns, outcome, later] of cases) {
      const state = `errors-${what.replace(/\W/g, "")}`;
      const first = await update(dns, LINK_PLAN.wan1.publicAddress, state, { sourceAddress: LINK_PLAN.wan1.address });
      expect(first.results.map((r) => [what, r.ok, r.outcome]), first.results[0]!.detail).toEqual([[what, false, outcome]]);
      expect(first.results[0]!.detail).not.toMatch(new RegExp(`${DYN_PASSWORD}|${CF_TOKEN}|${DUCK_TOKEN}`));
      if (outcome === "stopped") expect(first.alerts.map((a) => a.kind)).toEqual(["ddns-stopped"]);
      if (what === "911") expect(first.results[0]!.retryAt).toBeDefined();
      // Asked again at once: a stopped record and one backing off send nothing.
      const seen = errors.lines().length;
      const again = await update(dns, LINK_PLAN.wan1.publicAddress, state, { sourceAddress: LINK_PLAN.wan1.address });
      expect(again.results[0]!.outcome).toBe(later);
      expect(errors.lines().length).toBe(seen);
    }
  });
});
