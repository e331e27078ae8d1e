// Each HTTP provider against its protocol-faithful fake on 127.0.0.1.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCloudflareProvider } from "../../src/ddns/cloudflare.js";
import { createDuckdnsProvider, duckdnsSubdomain } from "../../src/ddns/duckdns.js";
import { createDyndns2Provider, interpretDyndns2 } from "../../src/ddns/dyndns2.js";
import { DdnsError, type ProviderContext, type RecordConfig } from "../../src/ddns/provider.js";
import { startFakeDdns, type FakeDdns } from "../lab/fake-ddns.js";

const CTX: ProviderContext = { userAgent: "wanctl/0.1.0", requestTimeoutMs: 2000, now: () => 1_700_000_000_000, sourceAddress: "127.0.0.1" };
const REC: RecordConfig = { name: "office.example.com", provider: "p", ttl: 60, verify: true };
const signal = (): AbortSignal => new AbortController().signal;

/** The DdnsError a promise rejects with. */
async function failure(p: Promise<unknown>): Promise<DdnsError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DdnsError);
    return err as DdnsError;
  }
  throw new Error("expected a failure");
}

let fake: FakeDdns;
afterEach(async () => {
  await fake?.close();
});

describe("dyndns2", () => {
  beforeEach(async () => {
    fake = await startFakeDdns({ dyndns2: { username: "office", password: "s3cret pass", hosts: { "office.example.com": "198.51.100.10" } } });
  });
  const provider = (password = "s3cret pass", ctx: ProviderContext = CTX) =>
    createDyndns2Provider({ id: "p", type: "dyndns2", server: `${fake.url}/nic/update`, username: "office", password }, ctx);

  it("sends GET /nic/update?hostname=&myip= with basic auth and wanctl's User-Agent; good = updated", async () => {
    const out = await provider().update(REC, "203.0.113.10", signal());
    expect(out).toEqual({ changed: true, detail: "good 203.0.113.10" });
    const req = fake.seen.at(-1)!;
    expect(req).toMatchObject({ method: "GET", path: "/nic/update", query: { hostname: "office.example.com", myip: "203.0.113.10" }, userAgent: "wanctl/0.1.0" });
    expect(req.authorization).toBe(`Basic ${Buffer.from("office:s3cret pass").toString("base64")}`);
    expect((req as unknown as { from: string }).from).toBe("127.0.0.1");
    expect(fake.dyndns2Hosts()["office.example.com"]).toBe("203.0.113.10");
  });

  it("nochg = success without a change", async () => {
    expect(await provider().update(REC, "198.51.100.10", signal())).toEqual({ changed: false, detail: "nochg 198.51.100.10" });
  });

  it("badauth (401) is permanent and never shows the password", async () => {
    const e = await failure(provider("hunter2-nope").update(REC, "203.0.113.10", signal()));
    expect(e.kind).toBe("permanent");
    expect(e.message).toMatch(/badauth/);
    expect(e.message).not.toContain("hunter2");
  });

  it("a bare User-Agent gets badagent: permanent", async () => {
    const e = await failure(provider("s3cret pass", { ...CTX, userAgent: "curl/8" }).update(REC, "203.0.113.10", signal()));
    expect(e).toMatchObject({ kind: "permanent", options: { code: "badagent" } });
  });

  it("an unknown host name gets nohost: permanent", async () => {
    const e = await failure(provider().update({ ...REC, name: "other.example.com" }, "203.0.113.10", signal()));
    expect(e).toMatchObject({ kind: "permanent", options: { code: "nohost" } });
  });

  it.each([
    ["badauth", "permanent"],
    ["notfqdn", "permanent"],
    ["nohost", "permanent"],
    ["numhost", "permanent"],
    ["abuse", "permanent"],
    ["badagent", "permanent"],
    ["!donator", "permanent"],
    ["911", "transient"],
    ["dnserr", "transient"],
    ["something odd", "transient"],
  ] as const)("answer %s is %s", async (word, kind) => {
    fake.script("dyndns2", { body: word });
    const e = await failure(provider().update(REC, "203.0.113.10", signal()));
    expect(e.kind).toBe(kind);
    if (word === "911" || word === "dnserr") expect(e.options.retryAfterMs).toBe(30 * 60_000);
  });

  it("5xx and timeouts are transient; a 503's Retry-After is kept", async () => {
    fake.script("dyndns2", { status: 503, body: "", headers: { "Retry-After": "120" } });
    expect(await failure(provider().update(REC, "203.0.113.10", signal()))).toMatchObject({ kind: "transient", options: { retryAfterMs: 120_000 } });
    fake.script("dyndns2", { hang: true });
    const e = await failure(provider("s3cret pass", { ...CTX, requestTimeoutMs: 200 }).update(REC, "203.0.113.10", signal()));
    expect(e.kind).toBe("transient");
    expect(e.message).toMatch(/no answer within 200 ms/);
  });

  it("interprets multi-line bodies by their first line", () => {
    expect(interpretDyndns2("good 1.2.3.4\n", "x")).toEqual({ changed: true, detail: "good 1.2.3.4" });
    expect(interpretDyndns2("nochg", "x")).toEqual({ changed: false, detail: "nochg" });
  });
});

describe("Cloudflare API v4", () => {
  const TOKEN = "cf-token-0123456789";
  beforeEach(async () => {
    fake = await startFakeDdns({
      cloudflare: {
        token: TOKEN,
        zones: { "example.com": "zone-ex", "other.org": "zone-other" },
        records: [{ id: "r-office", zone: "example.com", name: "office.example.com", content: "198.51.100.10", ttl: 60, proxied: false }],
      },
    });
  });
  const provider = (token = TOKEN) => createCloudflareProvider({ id: "p", type: "cloudflare", token, apiUrl: `${fake.url}/client/v4` }, CTX);

  it("walks the name's suffixes to the zone, finds the A record and PATCHes content, ttl and proxied: false", async () => {
    const out = await provider().update(REC, "203.0.113.10", signal());
    expect(out).toMatchObject({ changed: true });
    const calls = fake.seen.map((s) => `${s.method} ${s.path}${s.query.name ? ` name=${s.query.name}` : ""}`);
    expect(calls).toEqual([
      "GET /client/v4/zones name=office.example.com",
      "GET /client/v4/zones name=example.com",
      "GET /client/v4/zones/zone-ex/dns_records name=office.example.com",
      "PATCH /client/v4/zones/zone-ex/dns_records/r-office",
    ]);
    expect(fake.seen[2]!.query.type).toBe("A");
    const patch = fake.seen[3]!;
    expect(patch.body).toEqual({ content: "203.0.113.10", ttl: 60, proxied: false });
    expect(patch.authorization).toBe(`Bearer ${TOKEN}`);
    expect(patch.contentType).toBe("application/json");
    expect(patch.userAgent).toBe("wanctl/0.1.0");
    expect(fake.cloudflareRecords()[0]).toMatchObject({ content: "203.0.113.10", proxied: false });
  });

  it("sends nothing when the record already holds the address (and remembers the zone)", async () => {
    const p = provider();
    await p.update(REC, "203.0.113.10", signal());
    const before = fake.seen.length;
    expect(await p.update(REC, "203.0.113.10", signal())).toMatchObject({ changed: false });
    expect(fake.seen.slice(before).map((s) => s.method)).toEqual(["GET"]); // the record look-up only
    expect(await p.current!(REC, signal())).toBe("203.0.113.10");
  });

  it("creates the record when absent (POST, proxied false)", async () => {
    const rec = { ...REC, name: "pbx.example.com", ttl: 120 };
    expect(await provider().update(rec, "203.0.113.10", signal())).toMatchObject({ changed: true, detail: "created A 203.0.113.10 ttl 120" });
    const post = fake.seen.at(-1)!;
    expect(post).toMatchObject({ method: "POST", path: "/client/v4/zones/zone-ex/dns_records", body: { type: "A", name: "pbx.example.com", content: "203.0.113.10", ttl: 120, proxied: false } });
  });

  it("turns proxying off when a record was proxied", async () => {
    await fake.close();
    fake = await startFakeDdns({
      cloudflare: { token: TOKEN, zones: { "example.com": "z" }, records: [{ id: "r", zone: "example.com", name: "office.example.com", content: "203.0.113.10", ttl: 60, proxied: true }] },
    });
    expect(await provider().update(REC, "203.0.113.10", signal())).toMatchObject({ changed: true, detail: expect.stringMatching(/proxying turned off/) });
    expect(fake.cloudflareRecords()[0]!.proxied).toBe(false);
  });

  it("a wrong token (401, code 10000) is permanent; the token is never in the message", async () => {
    const e = await failure(provider("bad-token-xyz").update(REC, "203.0.113.10", signal()));
    expect(e.kind).toBe("permanent");
    expect(e.message).toMatch(/HTTP 401: 10000 Authentication error/);
    expect(e.message).not.toContain("bad-token-xyz");
  });

  it("reads errors[] of the envelope: a 400 validation error is permanent, a 5xx transient", async () => {
    const e = await failure(provider().update({ ...REC, ttl: 30 }, "203.0.113.10", signal()));
    expect(e).toMatchObject({ kind: "permanent", options: { code: "9021" } });
    expect(e.message).toMatch(/9021 TTL must be between 60 and 86400/);
    fake.script("cloudflare", { status: 502, body: "<html>Bad gateway</html>" });
    const t = await failure(provider().update(REC, "203.0.113.10", signal()));
    expect(t.kind).toBe("transient");
    expect(t.message).toMatch(/HTTP 502: not JSON/);
  });

  it("no zone for the name is permanent", async () => {
    const e = await failure(provider().update({ ...REC, name: "office.unknown.net" }, "203.0.113.10", signal()));
    expect(e).toMatchObject({ kind: "permanent", options: { code: "nozone" } });
  });

  describe("SRV", () => {
    const SRV = { ...REC, name: "_sip._udp.office.example.com" };
    const wan1First = [
      { priority: 10, weight: 0, port: 5060, target: "wan1.office.example.com" },
      { priority: 20, weight: 0, port: 5060, target: "wan2.office.example.com" },
    ];
    const wan2First = [
      { priority: 10, weight: 0, port: 5060, target: "wan2.office.example.com" },
      { priority: 20, weight: 0, port: 5060, target: "wan1.office.example.com" },
    ];
    /** The writes since `from`: method, record id (none for a POST) and body. */
    const writes = (from = 0) =>
      fake.seen
        .slice(from)
        .filter((s) => s.method !== "GET")
        .map((s) => [s.method, s.path.split("/dns_records")[1]!.replace("/", ""), s.body]);

    it("creates the records through data (no content, no proxied), then reads them back", async () => {
      const p = provider();
      const out = await p.updateSrv!(SRV, wan1First, signal());
      expect(out).toEqual({ changed: true, detail: "SRV 10 0 5060 wan1.office.example.com, 20 0 5060 wan2.office.example.com ttl 60 (2 created)" });
      expect(fake.seen.find((s) => s.path.endsWith("/dns_records") && s.method === "GET")!.query).toEqual({ type: "SRV", name: SRV.name });
      expect(writes()).toEqual([
        ["POST", "", { type: "SRV", name: SRV.name, ttl: 60, data: wan1First[0] }],
        ["POST", "", { type: "SRV", name: SRV.name, ttl: 60, data: wan1First[1] }],
      ]);
      expect(await p.currentSrv!(SRV, signal())).toEqual(wan1First);
    });

    it("after a switch, PATCHes the two priorities and nothing else; then sends nothing while they hold", async () => {
      const p = provider();
      await p.updateSrv!(SRV, wan1First, signal());
      const ids = fake.cloudflareRecords().filter((r) => r.type === "SRV").map((r) => r.id);
      const before = fake.seen.length;
      expect(await p.updateSrv!(SRV, wan2First, signal())).toMatchObject({ changed: true, detail: expect.stringMatching(/^SRV 10 0 5060 wan2\.office\.example\.com, 20 0 5060 wan1\.office\.example\.com ttl 60 \(2 changed\)$/) });
      // The record of each target keeps its id; only its priority moves.
      expect(writes(before)).toEqual([
        ["PATCH", ids[1], { ttl: 60, data: wan2First[0] }],
        ["PATCH", ids[0], { ttl: 60, data: wan2First[1] }],
      ]);
      const after = fake.seen.length;
      expect(await p.updateSrv!(SRV, wan2First, signal())).toEqual({ changed: false, detail: "already SRV 10 0 5060 wan2.office.example.com, 20 0 5060 wan1.office.example.com ttl 60" });
      expect(writes(after)).toEqual([]);
    });

    it("the name holds exactly the wanted records: another target is removed after the wanted ones are written, and named", async () => {
      await fake.close();
      fake = await startFakeDdns({
        cloudflare: { token: TOKEN, zones: { "example.com": "zone-ex" }, records: [{ id: "old", zone: "example.com", type: "SRV", name: SRV.name, ttl: 60, data: { priority: 5, weight: 0, port: 5060, target: "pbx.example.com" } }] },
      });
      const p = provider();
      // Older answers carry the priority at the top level only: it is read from there.
      expect(await p.currentSrv!(SRV, signal())).toEqual([{ priority: 5, weight: 0, port: 5060, target: "pbx.example.com" }]);
      const out = await p.updateSrv!(SRV, wan1First, signal());
      expect(out.detail).toBe("SRV 10 0 5060 wan1.office.example.com, 20 0 5060 wan2.office.example.com ttl 60 (2 created; removed 5 0 5060 pbx.example.com)");
      expect(writes().map((w) => w[0] + (w[1] ? ` ${w[1]}` : ""))).toEqual(["POST", "POST", "DELETE old"]);
      expect(fake.cloudflareRecords().map((r) => r.data?.target)).toEqual(["wan1.office.example.com", "wan2.office.example.com"]);
    });

    it("Cloudflare's refusal of an SRV write is permanent and says why", async () => {
      const e = await failure(provider().updateSrv!({ ...SRV, name: "sip.office.example.com" }, wan1First, signal()));
      expect(e).toMatchObject({ kind: "permanent", options: { code: "9021" } });
      expect(e.message).toMatch(/SRV name must be of the form _service\._proto\.name/);
    });
  });
});

describe("DuckDNS", () => {
  const TOKEN = "a7c4d0ad-114e-40ef-ba1d-d217904a50f2";
  beforeEach(async () => {
    fake = await startFakeDdns({ duckdns: { token: TOKEN, domains: { office: "198.51.100.10" } } });
  });
  const provider = (token = TOKEN) => createDuckdnsProvider({ id: "p", type: "duckdns", token, server: `${fake.url}/update` }, CTX);
  const DUCK: RecordConfig = { ...REC, name: "office.duckdns.org" };

  it("GET /update?domains=<sub>&token=&ip= → OK; verbose tells UPDATED from NOCHANGE", async () => {
    expect(await provider().update(DUCK, "203.0.113.10", signal())).toMatchObject({ changed: true, detail: "OK 203.0.113.10 UPDATED" });
    expect(fake.seen.at(-1)).toMatchObject({ method: "GET", path: "/update", query: { domains: "office", token: TOKEN, ip: "203.0.113.10" }, userAgent: "wanctl/0.1.0" });
    expect(await provider().update(DUCK, "203.0.113.10", signal())).toMatchObject({ changed: false });
    expect(fake.duckdnsDomains().office).toBe("203.0.113.10");
  });

  it("KO is permanent (bad token or domain) and the token is never in the message", async () => {
    const e = await failure(provider("not-the-token").update(DUCK, "203.0.113.10", signal()));
    expect(e).toMatchObject({ kind: "permanent", options: { code: "KO" } });
    expect(e.message).not.toContain("not-the-token");
    expect(await failure(provider().update({ ...DUCK, name: "nope.duckdns.org" }, "203.0.113.10", signal()))).toMatchObject({ kind: "permanent" });
  });

  it("a connection failure names the URL without its query (the token)", async () => {
    const p = createDuckdnsProvider({ id: "p", type: "duckdns", token: TOKEN, server: "http://127.0.0.1:1/update" }, CTX);
    const e = await failure(p.update(DUCK, "203.0.113.10", signal()));
    expect(e.kind).toBe("transient");
    expect(e.message).toMatch(/http:\/\/127\.0\.0\.1:1\/update: ECONNREFUSED/);
    expect(e.message).not.toContain(TOKEN);
  });

  it("needs a name under duckdns.org", async () => {
    expect(duckdnsSubdomain("office.duckdns.org")).toBe("office");
    expect(duckdnsSubdomain("x.office.duckdns.org.")).toBe("office");
    expect(duckdnsSubdomain("office.example.com")).toBeNull();
    expect(await failure(provider().update(REC, "203.0.113.10", signal()))).toMatchObject({ kind: "permanent", options: { code: "notduck" } });
  });
});
