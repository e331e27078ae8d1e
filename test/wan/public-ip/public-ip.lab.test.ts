// Each link's public address, learned through that link, in the network lab: STUN and HTTP echo
// fakes in inet, wanctl's publicAddresses() in the office gateway (from the build), with either
// link carrying the default route. wan2 sits behind isp2's carrier NAT: it must come out as
// 203.0.113.10, never as its own 100.64.0.2 nor as wan1's address.
import { beforeAll, describe, expect, test } from "vitest";
import type { LinkConfig } from "../../../src/config/schema/links.js";
import type { PublicIpResult } from "../../../src/wan/public-ip/types.js";
import type { LinkBinding } from "../../../src/wan/probes/types.js";
import { LINK_PLAN, SERVICES, type LinkId } from "../../lab/index.js";
import { describeLab, useLab } from "../../lab/vitest.js";
import { assertBuilt, runInLab, startLabScript, type LabScript } from "../../ddns/lab-helpers.js";

const HTTP_PORT = 8080;
const STUN_PORT = 3478;
const BINDINGS: LinkBinding[] = (["wan1", "wan2"] as const).map((l) => ({ name: l, interface: LINK_PLAN[l].ifname, sourceAddress: LINK_PLAN[l].address }));

const link = (name: LinkId, publicIp: LinkConfig["publicIp"]): LinkConfig => ({
  name,
  interface: LINK_PLAN[name].ifname,
  gateway: LINK_PLAN[name].gateway,
  priority: name === "wan1" ? 1 : 2,
  publicIp,
});

const METHODS: Record<string, LinkConfig["publicIp"]> = {
  stun: { method: "stun", servers: [{ host: SERVICES.http, port: STUN_PORT }] },
  http: { method: "http", urls: [`http://${SERVICES.http}:${HTTP_PORT}/`, `http://${SERVICES.http}:${HTTP_PORT}/json`, `http://${SERVICES.http}:${HTTP_PORT}/again`] },
};

describeLab("public IP of each link, learned through that link (lab)", () => {
  const lab = useLab();
  let echo: LabScript;

  beforeAll(async () => {
    assertBuilt();
    await lab.enableLinkProbes();
    echo = await startLabScript(lab, "inet", "test/lab/fake-ipecho.ts", { host: SERVICES.http, httpPort: HTTP_PORT, stunPort: STUN_PORT });
  });

  const learn = (publicIp: LinkConfig["publicIp"]) =>
    runInLab<PublicIpResult[]>(lab, "office", {
      op: "publicAddresses",
      config: { links: [link("wan1", publicIp), link("wan2", publicIp)] },
      bindings: BINDINGS,
      options: { timeoutMs: 3000, userAgent: "wanctl/lab" },
    });

  for (const active of ["wan1", "wan2"] as const) {
    for (const method of ["stun", "http"] as const) {
      test(`${method}: wan1 → 198.51.100.10 and wan2 → 203.0.113.10 while ${active} is the active link`, async () => {
        await lab.setDefaultRoute(active);
        expect(await lab.defaultRouteLink()).toBe(active);
        const before = echo.lines().length;
        const r = await learn(METHODS[method]!);
        expect(r.map((x) => [x.link, x.ok, x.address])).toEqual([
          ["wan1", true, LINK_PLAN.wan1.publicAddress],
          ["wan2", true, LINK_PLAN.wan2.publicAddress],
        ]);
        expect(r.every((x) => x.method === method && (x.disagreement ?? []).length === 0)).toBe(true);
        // The servers saw each link's own public source: nothing went out through the other link.
        const seen = echo.lines().slice(before).filter((l) => l.proto === (method === "stun" ? "stun" : "http"));
        expect(new Set(seen.map((l) => l.from))).toEqual(new Set([LINK_PLAN.wan1.publicAddress, LINK_PLAN.wan2.publicAddress]));
      });
    }
  }

  test("interface: wan1's own address is public; wan2's 100.64.0.2 is refused as carrier-grade NAT", async () => {
    const r = await learn({ method: "interface" });
    expect(r[0]).toMatchObject({ link: "wan1", ok: true, address: "198.51.100.10" });
    expect(r[1]).toMatchObject({ link: "wan2", ok: false });
    expect(r[1]!.detail).toMatch(/100\.64\.0\.2 \(carrier-grade NAT/);
  });

  test("a cut idle link fails to answer instead of answering through the active one", async () => {
    await lab.setDefaultRoute("wan1");
    await lab.cut("wan2");
    try {
      const r = await runInLab<PublicIpResult[]>(lab, "office", {
        op: "publicAddresses",
        config: { links: [link("wan1", METHODS.stun!), link("wan2", METHODS.stun!)] },
        bindings: BINDINGS,
        options: { timeoutMs: 1500, stunInitialRtoMs: 200, stunMaxSends: 3 },
      });
      expect(r[0]).toMatchObject({ ok: true, address: "198.51.100.10" });
      expect(r[1]).toMatchObject({ ok: false });
      expect(r[1]!.detail).toMatch(/no STUN answer within 1500 ms/);
    } finally {
      await lab.heal("wan2");
    }
  });
});

describe("public-IP lab helpers", () => {
  test("bindings follow the lab's plan", () => {
    expect(BINDINGS).toEqual([
      { name: "wan1", interface: "wan1", sourceAddress: "198.51.100.10" },
      { name: "wan2", interface: "wan2", sourceAddress: "100.64.0.2" },
    ]);
  });
});
