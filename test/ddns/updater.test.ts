// The updater's behaviour against fakes on 127.0.0.1: no update when nothing changed, stops after
// permanent errors until the config changes, jittered back-off on an injected clock, a hung
// provider blocking nothing, verification, ddns.json and the status view.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DnsConfig } from "../../src/config/schema/dns.js";
import { createRfc2136Provider } from "../../src/ddns/rfc2136.js";
import { DdnsError, srvText, type ProviderContext } from "../../src/ddns/provider.js";
import type { OfficeAddresses } from "../../src/ddns/plan.js";
import { DDNS_BACKOFF, MAX_RETRY_AFTER_MS, retryWaitMs } from "../../src/ddns/record-run.js";
import { ddnsStatus, recordFingerprint, updateAllRecords, type DdnsAlert, type RecordResult, type UpdateOptions } from "../../src/ddns/updater.js";
import { startFakeDdns, type FakeDdns } from "../lab/fake-ddns.js";
import { startFakeDns, type FakeDns } from "./fake-dns.js";

const KEY_B64 = Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");
const KEY = { name: "wanctl-key", algorithm: "hmac-sha256" as const, secret: Buffer.from(KEY_B64, "base64") };
const T0 = Date.parse("2026-11-25T12:00:00Z");

let dir = "";
let dns: FakeDns | undefined;
let http: FakeDdns | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "wanctl-ddns-"));
});
afterEach(async () => {
  await dns?.close();
  await http?.close();
  dns = undefined;
  http = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const rfc2136Config = (port: number, secret = KEY_B64, keyName = "wanctl-key"): DnsConfig => ({
  providers: [{ id: "bind", type: "rfc2136", server: "127.0.0.1", port, zone: "example.com", tsig: { name: keyName, algorithm: "hmac-sha256", secret } }],
  records: [{ name: "office.example.com", provider: "bind", ttl: 60, verify: true }],
});

/** The office on link "wan1" at `address` (the records of dns.records follow it). */
const at = (address: string): OfficeAddresses => ({ active: "wan1", addresses: new Map([["wan1", address]]) });

function clock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** A dyndns2 fake holding office.example.com, and a config pointing at it (verification off). */
async function dyndnsOffice() {
  const fake = await startFakeDdns({ dyndns2: { username: "u", password: "p", hosts: { "office.example.com": null } } });
  http = fake;
  return {
    fake,
    dns: {
      providers: [{ id: "dyn", type: "dyndns2" as const, server: `${http.url}/nic/update`, username: "u", password: "p" }],
      records: [{ name: "office.example.com", provider: "dyn", ttl: 60, verify: false }],
    },
  };
}

const opts = (extra: Partial<UpdateOptions> = {}): UpdateOptions => ({
  stateDir: dir,
  sourceAddress: "127.0.0.1",
  requestTimeoutMs: 1000,
  checkTimeoutMs: 500,
  verifyTimeoutMs: 2000,
  verifyIntervalMs: 10,
  random: () => 0.5,
  ...extra,
});

describe("RFC 2136 provider (TSIG) against a fake primary", () => {
  const ctx: ProviderContext = { userAgent: "wanctl/t", requestTimeoutMs: 1000, now: () => Date.now(), sourceAddress: "127.0.0.1" };
  const REC = { name: "office.example.com", provider: "bind", ttl: 60, verify: true };

  it("replaces the A RRset with a signed update and checks the signed answer", async () => {
    dns = await startFakeDns({ zone: "example.com", records: { "office.example.com": ["198.51.100.10"] }, key: KEY });
    const p = createRfc2136Provider(rfc2136Config(dns.port).providers[0] as never, ctx);
    expect(await p.update(REC, "203.0.113.10", new AbortController().signal)).toMatchObject({ changed: true });
    expect(dns.options.records["office.example.com"]).toEqual(["203.0.113.10"]);
    expect(dns.updates).toEqual([{ name: "office.example.com", address: "203.0.113.10", ttl: 60 }]);
    expect(await p.current!(REC, new AbortController().signal)).toBe("203.0.113.10");
  });

  it("replaces the SRV RRset in one signed update, and reads it back", async () => {
    const old = [{ priority: 5, weight: 0, port: 5060, target: "pbx.example.com" }];
    dns = await startFakeDns({ zone: "example.com", records: {}, srv: { "_sip._udp.office.example.com": old }, key: KEY });
    const p = createRfc2136Provider(rfc2136Config(dns.port).providers[0] as never, ctx);
    const SRV = { ...REC, name: "_sip._udp.office.example.com" };
    expect(await p.currentSrv!(SRV, new AbortController().signal)).toEqual(old);
    const targets = [
      { priority: 10, weight: 0, port: 5060, target: "wan2.office.example.com" },
      { priority: 20, weight: 0, port: 5060, target: "wan1.office.example.com" },
    ];
    expect(await p.updateSrv!(SRV, targets, new AbortController().signal)).toEqual({
      changed: true,
      detail: `127.0.0.1:${dns.port} accepted SRV 10 0 5060 wan2.office.example.com, 20 0 5060 wan1.office.example.com ttl 60 in zone example.com`,
    });
    expect(dns.srvUpdates).toEqual([{ name: "_sip._udp.office.example.com", targets, ttl: 60 }]);
    expect(await p.currentSrv!(SRV, new AbortController().signal)).toEqual(targets);
    expect(await p.currentSrv!({ ...SRV, name: "_sip._tcp.office.example.com" }, new AbortController().signal)).toEqual([]);
  });

  it.each([
    ["an unknown key name", "other-key", KEY_B64, "BADKEY"],
    ["a wrong secret", "wanctl-key", Buffer.from("not the key at all, no no no....").toString("base64"), "BADSIG"],
  ])("%s gives a clear permanent error naming the key, the server and the record", async (_what, keyName, secret, code) => {
    dns = await startFakeDns({ zone: "example.com", records: {}, key: KEY });
    const p = createRfc2136Provider(rfc2136Config(dns.port, secret, keyName).providers[0] as never, ctx);
    const err = await p.update(REC, "203.0.113.10", new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DdnsError);
    expect((err as DdnsError).kind).toBe("permanent");
    expect((err as DdnsError).message).toBe(`TSIG key '${keyName}' rejected by 127.0.0.1:${dns.port} for office.example.com (${code})`);
    expect((err as DdnsError).message).not.toContain(secret);
  });

  it("REFUSED and NOTAUTH are permanent, SERVFAIL and silence transient, a name outside the zone permanent", async () => {
    dns = await startFakeDns({ zone: "example.com", records: {}, key: KEY, updateRcodes: [5, 9, 2] });
    const p = createRfc2136Provider(rfc2136Config(dns.port).providers[0] as never, { ...ctx, requestTimeoutMs: 300 });
    const run = () => p.update(REC, "203.0.113.10", new AbortController().signal).catch((e: DdnsError) => e);
    expect(await run()).toMatchObject({ kind: "permanent", options: { code: "REFUSED" } });
    expect(await run()).toMatchObject({ kind: "permanent", options: { code: "NOTAUTH" } });
    expect(await run()).toMatchObject({ kind: "transient", options: { code: "SERVFAIL" } });
    dns.options.silent = true;
    expect(await run()).toMatchObject({ kind: "transient", options: { code: "timeout" } });
    expect(await p.update({ ...REC, name: "office.example.net" }, "203.0.113.10", new AbortController().signal).catch((e: DdnsError) => e)).toMatchObject({ kind: "permanent", options: { code: "NOTZONE" } });
  });
});

describe("updateAllRecords", () => {
  it("updates, verifies at the primary, persists; then sends nothing while nothing changed; force pushes again", async () => {
    dns = await startFakeDns({ zone: "example.com", records: { "office.example.com": ["198.51.100.10"] }, key: KEY, staleAnswersAfterUpdate: 2 });
    const config = { dns: rfc2136Config(dns.port) };
    const c = clock();
    const [first] = await updateAllRecords(config, at("203.0.113.10"), opts({ now: c.now }));
    expect(first).toMatchObject({ record: "office.example.com", provider: "bind", ok: true, changed: true, outcome: "updated" });
    expect(first!.verification).toMatch(/^verified: 127\.0\.0\.1:\d+ answers 203\.0\.113\.10/);
    expect(first!.verifiedMs).toBeGreaterThanOrEqual(0);
    expect(dns.updates).toHaveLength(1);

    const [second] = await updateAllRecords(config, at("203.0.113.10"), opts({ now: c.now }));
    expect(second).toMatchObject({ ok: true, changed: false, outcome: "unchanged" });
    expect(second!.detail).toMatch(/no update sent/);
    expect(dns.updates).toHaveLength(1); // nothing was sent

    const [forced] = await updateAllRecords(config, at("203.0.113.10"), opts({ now: c.now, force: true }));
    expect(forced).toMatchObject({ ok: true, changed: true, outcome: "updated" });
    expect(dns.updates).toHaveLength(2);

    const file = readFileSync(join(dir, "ddns.json"), "utf8");
    expect(file).not.toContain(KEY_B64);
    const status = ddnsStatus(config, dir);
    expect(status.records).toEqual([
      expect.objectContaining({ record: "office.example.com", provider: "bind", value: "203.0.113.10", stopped: null, retryAt: null, last: expect.objectContaining({ outcome: "updated", ok: true }) }),
    ]);
  });

  it("sends no update when the authoritative server already holds the address (no cache yet)", async () => {
    dns = await startFakeDns({ zone: "example.com", records: { "office.example.com": ["203.0.113.10"] }, key: KEY });
    const [r] = await updateAllRecords({ dns: rfc2136Config(dns.port) }, at("203.0.113.10"), opts());
    expect(r).toMatchObject({ ok: true, changed: false, outcome: "unchanged" });
    expect(dns.updates).toHaveLength(0);
    expect(ddnsStatus({ dns: rfc2136Config(dns.port) }, dir).records[0]!.value).toBe("203.0.113.10");
  });

  it("pushes at once, without asking first, when the cache says the record holds another address", async () => {
    dns = await startFakeDns({ zone: "example.com", records: { "office.example.com": ["198.51.100.10"] }, key: KEY });
    const config = { dns: rfc2136Config(dns.port) };
    await updateAllRecords(config, at("198.51.100.10"), opts({ verify: "skip" })); // cache: 198.51.100.10
    const asked = dns.queries.length;
    const [r] = await updateAllRecords(config, at("203.0.113.10"), opts({ verify: "skip" }));
    expect(r).toMatchObject({ outcome: "updated" });
    expect(dns.queries.length).toBe(asked); // no look-up before the update
  });

  it("a permanent error stops the record, alerts once, and holds until the config changes", async () => {
    http = await startFakeDdns({ dyndns2: { username: "office", password: "right-pass", hosts: { "office.example.com": null } } });
    const config = (password: string) => ({
      dns: {
        providers: [{ id: "dyn", type: "dyndns2" as const, server: `${http!.url}/nic/update`, username: "office", password }],
        records: [{ name: "office.example.com", provider: "dyn", ttl: 60, verify: false }],
      },
    });
    const alerts: DdnsAlert[] = [];
    const o = opts({ force: true, onAlert: (a) => alerts.push(a) });
    const [r1] = await updateAllRecords(config("wrong-pass"), at("203.0.113.10"), o);
    expect(r1).toMatchObject({ ok: false, outcome: "stopped" });
    expect(r1!.detail).toMatch(/badauth.*stopped until the config changes/);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: "ddns-stopped", record: "office.example.com", provider: "dyn" });
    const sent = http.seen.length;

    const [r2] = await updateAllRecords(config("wrong-pass"), at("203.0.113.10"), o);
    expect(r2).toMatchObject({ ok: false, outcome: "stopped" });
    expect(http.seen.length).toBe(sent); // nothing sent, even with force
    expect(alerts).toHaveLength(1); // no second alert
    expect(ddnsStatus(config("wrong-pass"), dir).records[0]!.stopped?.reason).toMatch(/badauth/);

    // A new password is a config change: the stop is lifted.
    expect(ddnsStatus(config("right-pass"), dir).records[0]!.stopped).toBeNull();
    const [r3] = await updateAllRecords(config("right-pass"), at("203.0.113.10"), o);
    expect(r3).toMatchObject({ ok: true, outcome: "updated" });
    const file = readFileSync(join(dir, "ddns.json"), "utf8");
    expect(file).not.toMatch(/wrong-pass|right-pass/);
  });

  it("a transient error backs off with jitter on the injected clock; the back-off is bounded", async () => {
    const { fake, ...config } = await dyndnsOffice();
    const c = clock();
    // No cache and no reachable authoritative server: the update is sent after a failed check.
    const o = opts({ now: c.now, random: () => 0, resolvers: ["127.0.0.1:1"], checkTimeoutMs: 200 });
    fake.script("dyndns2", { status: 500, body: "" });
    const [r1] = await updateAllRecords(config, at("203.0.113.10"), o);
    expect(r1).toMatchObject({ ok: false, outcome: "failed", retryAt: new Date(T0 + DDNS_BACKOFF.initialMs / 2).toISOString() });
    const sent = fake.seen.length;
    c.advance(10_000);
    const [r2] = await updateAllRecords(config, at("203.0.113.10"), o);
    expect(r2).toMatchObject({ ok: false, outcome: "backing-off" });
    expect(fake.seen.length).toBe(sent);
    c.advance(10_000);
    fake.script("dyndns2", { body: "911" });
    const [r3] = await updateAllRecords(config, at("203.0.113.10"), o);
    expect(r3).toMatchObject({ outcome: "failed" });
    expect(Date.parse(r3!.retryAt!) - c.now()).toBe(30 * 60_000); // 911: at least 30 minutes
    c.advance(30 * 60_000);
    const [r4] = await updateAllRecords(config, at("203.0.113.10"), o);
    expect(r4).toMatchObject({ ok: true, outcome: "updated" });
    expect(ddnsStatus(config, dir).records[0]).toMatchObject({ failures: 0, retryAt: null, value: "203.0.113.10" });

    expect(retryWaitMs(1, () => 0)).toBe(15_000);
    expect(retryWaitMs(1, () => 0.999999)).toBeLessThanOrEqual(30_000);
    expect(retryWaitMs(3, () => 0.5)).toBe(90_000);
    expect(retryWaitMs(1000, () => 1)).toBe(DDNS_BACKOFF.maxMs);
    expect(retryWaitMs(1, () => 0, 99 * 3_600_000)).toBe(MAX_RETRY_AFTER_MS);
  });

  it("a clock stepped back (NTP after a reboot) does not hold a record back for hours", async () => {
    const { fake, ...config } = await dyndnsOffice();
    const c = clock();
    const o = opts({ now: c.now, random: () => 0, resolvers: ["127.0.0.1:1"], checkTimeoutMs: 200 });
    fake.script("dyndns2", { status: 500, body: "" });
    expect((await updateAllRecords(config, at("203.0.113.10"), o))[0]).toMatchObject({ outcome: "failed" });
    // Within the back-off: held. Then the clock goes back 3 h: a wait that long no back-off makes.
    expect((await updateAllRecords(config, at("203.0.113.10"), o))[0]).toMatchObject({ outcome: "backing-off" });
    c.advance(-3 * 3_600_000);
    expect((await updateAllRecords(config, at("203.0.113.10"), o))[0]).toMatchObject({ ok: true, outcome: "updated" });
  });

  it("a provider that hangs holds up neither the other records nor the caller beyond its timeout", async () => {
    http = await startFakeDdns({
      dyndns2: { username: "u", password: "p", hosts: { "a.example.com": null } },
      duckdns: { token: "tok", domains: { office: null } },
    });
    http.script("dyndns2", { hang: true });
    const config = {
      dns: {
        providers: [
          { id: "dyn", type: "dyndns2" as const, server: `${http.url}/nic/update`, username: "u", password: "p" },
          { id: "duck", type: "duckdns" as const, token: "tok", server: `${http.url}/update` },
        ],
        records: [
          { name: "a.example.com", provider: "dyn", ttl: 60, verify: false },
          { name: "office.duckdns.org", provider: "duck", ttl: 60, verify: false },
        ],
      },
    };
    const results: RecordResult[] = await updateAllRecords(config, at("203.0.113.10"), opts({ force: true, requestTimeoutMs: 300 }));
    expect(results.map((r) => [r.record, r.outcome])).toEqual([
      ["a.example.com", "failed"],
      ["office.duckdns.org", "updated"],
    ]);
    expect(results[0]!.detail).toMatch(/no answer within 300 ms/);
    expect(http.duckdnsDomains().office).toBe("203.0.113.10");
  });

  it("verifies through the zone's NS records when the provider has no server of its own, in the background when asked", async () => {
    http = await startFakeDdns({ dyndns2: { username: "u", password: "p", hosts: { "office.example.com": "198.51.100.10" } } });
    dns = await startFakeDns({ zone: "example.com", records: { "office.example.com": ["203.0.113.10"] }, nameServers: { "ns1.example.com": "127.0.0.1" } });
    const config = {
      dns: {
        providers: [{ id: "dyn", type: "dyndns2" as const, server: `${http.url}/nic/update`, username: "u", password: "p" }],
        records: [{ name: "office.example.com", provider: "dyn", ttl: 60, verify: true }],
      },
    };
    const verified = new Promise<RecordResult>((resolve) => {
      void updateAllRecords(config, at("203.0.113.10"), opts({ force: true, verify: "background", resolvers: [`127.0.0.1:${dns!.port}`], dnsPort: dns!.port, onVerified: resolve })).then(([r]) => {
        expect(r).toMatchObject({ outcome: "updated", verification: "pending" });
      });
    });
    const v = await verified;
    expect(v.verification).toBe(`verified: 127.0.0.1:${dns.port} answers 203.0.113.10`);
    expect(dns.queries.some((q) => q.type === 2 && q.name === "example.com")).toBe(true); // NS
    // The background result reached ddns.json too (bounded wait: the write follows the callback).
    for (let i = 0; i < 50 && ddnsStatus(config, dir).records[0]!.last?.verification === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ddnsStatus(config, dir).records[0]!.last?.verification).toMatch(/^verified/);
  });

  it("reports a record that never shows the address at the authoritative server as not verified, bounded", async () => {
    dns = await startFakeDns({ zone: "example.com", records: { "office.example.com": ["198.51.100.10"] }, key: KEY, staleAnswersAfterUpdate: 1_000_000 });
    const [r] = await updateAllRecords({ dns: rfc2136Config(dns.port) }, at("203.0.113.10"), opts({ verifyTimeoutMs: 200 }));
    expect(r).toMatchObject({ ok: true, outcome: "updated" });
    expect(r!.verification).toMatch(/^not verified within 200 ms: 127\.0\.0\.1:\d+ says 198\.51\.100\.10/);
    expect(r!.verifiedMs).toBeUndefined();
  });

  it("verifies SRV records at the primary like A records: the whole RRset, in the new order", async () => {
    dns = await startFakeDns({ zone: "example.com", records: {}, key: KEY });
    const config = {
      dns: { ...rfc2136Config(dns.port), records: [], sip: { domain: "office.example.com", provider: "bind", services: [{ service: "_sip._udp" as const, weight: 0 }], ttl: 60, verify: true } },
      links: [
        { name: "wan1", priority: 1 },
        { name: "wan2", priority: 2 },
      ],
    };
    const office = { active: "wan2", addresses: new Map([["wan2", "203.0.113.10"]]) };
    const results = await updateAllRecords(config, office, opts());
    expect(results.map((r) => [r.record, r.outcome, r.verification ?? null])).toEqual([
      ["wan1.office.example.com", "kept", null],
      ["wan2.office.example.com", "updated", `verified: 127.0.0.1:${dns.port} answers 203.0.113.10`],
      ["_sip._udp.office.example.com", "updated", `verified: 127.0.0.1:${dns.port} answers 10 0 5060 wan2.office.example.com, 20 0 5060 wan1.office.example.com`],
    ]);
    expect(results[0]).toMatchObject({ ok: true, changed: false, link: "wan1", value: "", detail: "kept: wan1's address is not known" });
    // A kept name leaves no state behind; the others are kept by name.
    expect(Object.keys(JSON.parse(readFileSync(join(dir, "ddns.json"), "utf8")).records)).toEqual(["wan2.office.example.com", "_sip._udp.office.example.com"]);
  });

  it("reads a ddns.json written before SRV (a record's value was its address): a stop survives the upgrade", async () => {
    http = await startFakeDdns({ dyndns2: { username: "office", password: "p", hosts: { "office.example.com": null } } });
    const config = { dns: { providers: [{ id: "dyn", type: "dyndns2" as const, server: `${http.url}/nic/update`, username: "office", password: "p" }], records: [{ name: "office.example.com", provider: "dyn", ttl: 60, verify: false }] } };
    const last = { at: "2026-11-25T11:00:00.000Z", outcome: "stopped", ok: false, changed: false, address: "203.0.113.10", detail: "badauth", durationMs: 3 };
    const old = { provider: "dyn", fingerprint: recordFingerprint(config.dns.records[0]!, config.dns.providers[0]), address: "198.51.100.10", confirmedAt: null, failures: 1, retryAt: null, stopped: { at: last.at, reason: "badauth" }, last };
    writeFileSync(join(dir, "ddns.json"), JSON.stringify({ version: 1, records: { "office.example.com": old } }));
    expect(ddnsStatus(config, dir)).toMatchObject({ records: [{ value: "198.51.100.10", stopped: { reason: "badauth" }, last: { value: "203.0.113.10" } }] });
    expect(ddnsStatus(config, dir).problem).toBeUndefined();
    const [r] = await updateAllRecords(config, at("203.0.113.10"), opts());
    expect(r).toMatchObject({ outcome: "stopped" });
    expect(http.seen).toEqual([]);
  });

  it("a record whose provider is missing fails alone", async () => {
    const [r] = await updateAllRecords({ dns: { providers: [], records: [{ name: "x.example.com", provider: "nope", ttl: 60, verify: false }] } }, at("203.0.113.10"), opts());
    expect(r).toMatchObject({ ok: false, outcome: "failed", detail: 'no provider with id "nope"' });
  });

  it("fingerprints without secrets: the digest changes with a secret and holds none", () => {
    const rec = { name: "office.example.com", provider: "dyn", ttl: 60, verify: true };
    const prov = (password: string) => ({ id: "dyn", type: "dyndns2" as const, server: "https://x/nic/update", username: "u", password });
    const a = recordFingerprint(rec, prov("one"));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(recordFingerprint(rec, prov("one"))).toBe(a);
    expect(recordFingerprint(rec, prov("two"))).not.toBe(a);
    expect(recordFingerprint({ ...rec, ttl: 120 }, prov("one"))).not.toBe(a);
  });

  it("writes an SRV set in one order whatever the locale", () => {
    const targets = [
      { priority: 10, weight: 0, port: 5060, target: "zwan.example.com" },
      { priority: 10, weight: 0, port: 5060, target: "twan.example.com" },
    ];
    const here = srvText(targets);
    const estonian = new Intl.Collator("et"); // z between s and t
    const collate = vi.spyOn(String.prototype, "localeCompare").mockImplementation(function (this: string, that: string) {
      return estonian.compare(this, that);
    });
    try {
      expect(srvText(targets)).toBe(here);
    } finally {
      collate.mockRestore();
    }
    expect(here).toBe("10 0 5060 twan.example.com, 10 0 5060 zwan.example.com");
  });

  it("fingerprints alike whatever the locale (the daemon's and a shell's `wanctl status` must agree)", () => {
    const tsig = { name: "wanctl-key", algorithm: "hmac-sha256" as const, secret: "c2VjcmV0" };
    const provider = { id: "ns", type: "rfc2136" as const, server: "192.0.2.53", port: 53, zone: "example.com", tsig };
    const rec = { name: "office.example.com", provider: "ns", ttl: 60, verify: true };
    const here = recordFingerprint(rec, provider);
    // As under LC_ALL=et_EE.UTF-8, where z sorts between s and t: "zone" before "tsig".
    const estonian = new Intl.Collator("et");
    const collate = vi.spyOn(String.prototype, "localeCompare").mockImplementation(function (this: string, that: string) {
      return estonian.compare(this, that);
    });
    try {
      expect(["tsig", "zone"].sort((a, b) => a.localeCompare(b))).toEqual(["zone", "tsig"]);
      expect(recordFingerprint(rec, provider)).toBe(here);
    } finally {
      collate.mockRestore();
    }
  });
});

describe("ddnsStatus", () => {
  it("shows a stop as stored when it cannot read a secret to compare configs (a user running `wanctl status`)", async () => {
    const http2 = await startFakeDdns({ dyndns2: { username: "u", password: "right", hosts: { "office.example.com": null } } });
    const sdir = mkdtempSync(join(tmpdir(), "wanctl-ddns-st-"));
    try {
      const provider = (password: string | { file: string }) => ({ id: "dyn", type: "dyndns2" as const, server: `${http2.url}/nic/update`, username: "u", password });
      const records = [{ name: "office.example.com", provider: "dyn", ttl: 60, verify: false }];
      const secretFile = join(sdir, "pw");
      const { writeFileSync, chmodSync } = await import("node:fs");
      writeFileSync(secretFile, "pw-7f3a-bad\n");
      chmodSync(secretFile, 0o600);
      const config = { dns: { providers: [provider({ file: secretFile })], records } };
      const [r] = await updateAllRecords(config, at("203.0.113.10"), { stateDir: sdir, force: true, requestTimeoutMs: 1000 });
      expect(r).toMatchObject({ outcome: "stopped" });
      expect(ddnsStatus(config, sdir).records[0]!.stopped).not.toBeNull();
      rmSync(secretFile);
      expect(ddnsStatus(config, sdir).records[0]!.stopped?.reason).toMatch(/badauth/);
      expect(readFileSync(join(sdir, "ddns.json"), "utf8")).not.toContain("pw-7f3a");
    } finally {
      await http2.close();
      rmSync(sdir, { recursive: true, force: true });
    }
  });
});

describe("providers built once (as the daemon does)", () => {
  it("still send each run from that run's source address", async () => {
    const fake = await startFakeDdns({ duckdns: { token: "tok", domains: { office: null } } });
    const sdir = mkdtempSync(join(tmpdir(), "wanctl-ddns-src-"));
    try {
      const { createProviders } = await import("../../src/ddns/updater.js");
      const dnsConfig: DnsConfig = {
        providers: [{ id: "duck", type: "duckdns", token: "tok", server: `${fake.url}/update` }],
        records: [{ name: "office.duckdns.org", provider: "duck", ttl: 60, verify: false }],
      };
      const providers = createProviders(dnsConfig.providers, { userAgent: "wanctl/t", requestTimeoutMs: 1000, now: Date.now });
      for (const source of ["127.0.0.2", "127.0.0.3"]) {
        const [r] = await updateAllRecords({ dns: dnsConfig }, at(`203.0.113.${source.slice(-1)}`), { stateDir: sdir, providers, sourceAddress: source, force: true });
        expect(r).toMatchObject({ ok: true, outcome: "updated" });
        expect((fake.seen.at(-1) as unknown as { from: string }).from).toBe(source);
      }
    } finally {
      await fake.close();
      rmSync(sdir, { recursive: true, force: true });
    }
  });
});
