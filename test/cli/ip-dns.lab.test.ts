// `wanctl ip` and `wanctl dns update`, the real CLI in the lab's office: addresses learned through
// each link (wan2 behind carrier NAT), and a real BIND updated with TSIG.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBind, type Bind } from "../lab/bind.js";
import { wanctlBin } from "../lab/daemon-harness.js";
import { SERVICES } from "../lab/index.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { labConfig, writeLabConfig } from "../lab/wanctl-config.js";
import type { ConfigInput } from "../../src/config/schema/index.js";
import { startLabScript } from "../ddns/lab-helpers.js";

const SECRET = randomBytes(32).toString("base64");

describeLab("wanctl ip and wanctl dns update in the lab", () => {
  const lab = useLab();
  let bind: Bind;
  const dirs: string[] = [];

  beforeAll(async () => {
    await startLabScript(lab, "inet", "test/lab/fake-ipecho.ts", { host: SERVICES.http, httpPort: 8080, stunPort: 3478 });
    bind = await startBind(lab, { secret: SECRET, records: { office: "192.0.2.99" } });
  });

  afterAll(async () => {
    await bind?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function config(secret: string, sip?: NonNullable<ConfigInput["dns"]>["sip"]): string {
    const c: ConfigInput = labConfig("");
    for (const link of c.links) link.publicIp = { method: "stun", servers: [{ host: SERVICES.http, port: 3478 }] };
    c.dns = {
      providers: [{ id: "bind", type: "rfc2136", server: SERVICES.dns, zone: "example.com", tsig: { name: "wanctl-key", secret } }],
      records: [{ name: "office.example.com", provider: "bind" }],
      ...(sip ? { sip } : {}),
    };
    const { file, dir } = writeLabConfig(c);
    dirs.push(dir);
    return file;
  }

  const wanctl = (args: string[]) => lab.exec("office", [process.execPath, wanctlBin, ...args], { timeoutMs: 60_000 });

  test("wanctl ip: each link's public address, learned through that link", async () => {
    const result = await wanctl(["ip", "--config", config(SECRET)]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\* wan1 +198\.51\.100\.10 /m);
    expect(result.stdout).toMatch(/^ {2}wan2 +203\.0\.113\.10 /m); // the CGNAT link: the ISP's address, not 100.64.0.2
  });

  test("wanctl dns update: pushes the active link's address and BIND answers it", async () => {
    const result = await wanctl(["dns", "update", "--config", config(SECRET)]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("wan1 (active) is 198.51.100.10");
    expect(result.stdout).toMatch(/^ok {3}office\.example\.com \(bind\): updated, authoritative answer after \d+ ms$/m);
    expect(await bind.digA("office.example.com")).toEqual(["198.51.100.10"]);
  });

  test("wanctl dns update with dns.sip: each link's name at the address learned through it, SRV with the active link first", async () => {
    const result = await wanctl(["dns", "update", "--config", config(SECRET, { domain: "office.example.com", provider: "bind" })]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toContain("wan1 (active) is 198.51.100.10; updating 4 record(s)");
    expect(result.stdout).toContain("wan2 is 203.0.113.10");
    expect(result.stdout).toMatch(/^ok {3}_sip\._udp\.office\.example\.com \(bind\): updated \(10 0 5060 wan1\.office\.example\.com, 20 0 5060 wan2\.office\.example\.com\), authoritative answer after \d+ ms$/m);
    expect(await bind.digA("wan2.office.example.com")).toEqual(["203.0.113.10"]);
    expect(await bind.digSrv("_sip._udp.office.example.com")).toEqual(["10 0 5060 wan1.office.example.com.", "20 0 5060 wan2.office.example.com."]);
  });

  test("a wrong TSIG key: exit 1 and an error naming the record, never the key", async () => {
    const wrong = randomBytes(32).toString("base64");
    const result = await wanctl(["dns", "update", "--config", config(wrong)]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL office\.example\.com \(bind\): .*TSIG key 'wanctl-key' rejected by 192\.0\.2\.53 for office\.example\.com/m);
    expect(result.stdout + result.stderr).not.toContain(wrong);
  });
});
