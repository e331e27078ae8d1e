// DNS SRV for the office's SIP domain, end to end: the real `wanctl run` in the lab's office keeps
// each link's own name at that link's address (learned through it by STUN) and the SRV records
// with the active link first, in a real BIND; a caller that follows SRV (Kamailio, DNS failover)
// reaches the office's SIP responder through whichever link works. Assertions are about what
// arrived where, never about time.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBind, type Bind } from "../lab/bind.js";
import { startDaemon, switchedTo, waitForStatus } from "../lab/daemon-harness.js";
import { LINK_PLAN, SERVICES, type LabProcess } from "../lab/index.js";
import { CALLER, forwardSipToPbx, sendOptions, startSipResponder, startSrvCaller, type SipEnd } from "../lab/sip-srv.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { labConfig, writeLabConfig } from "../lab/wanctl-config.js";
import { assertBuilt, startLabScript } from "./lab-helpers.js";

const SECRET = randomBytes(32).toString("base64");
const W1 = LINK_PLAN.wan1.publicAddress;
const W2 = LINK_PLAN.wan2.publicAddress;
const DOMAIN = "office.example.com";
const WAN1_FIRST = ["10 0 5060 wan1.office.example.com.", "20 0 5060 wan2.office.example.com."];
const WAN2_FIRST = ["10 0 5060 wan2.office.example.com.", "20 0 5060 wan1.office.example.com."];

describeLab("SIP by DNS SRV follows the failover (wanctl run + BIND + Kamailio as the caller)", () => {
  const lab = useLab();
  let bind: Bind;
  let daemon: LabProcess;
  let responder: SipEnd;
  let caller: SipEnd;
  let dir = "";
  let stateDir = "";

  /** BIND's answer, asked until it is `want` (bounded): the start run updates DNS in its own time. */
  async function srvBecomes(name: string, want: string[]): Promise<string[]> {
    let got: string[] = [];
    for (let i = 0; i < 100; i++) {
      got = await bind.digSrv(name);
      if (JSON.stringify(got) === JSON.stringify(want)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return got;
  }

  /** An OPTIONS for the domain through the caller; what the caller sent where and who answered. */
  async function call(): Promise<{ status: number | undefined; sentTo: string[]; answeredBy: string[] }> {
    const seen = caller.events().length;
    const answer = await sendOptions(lab, "inet", CALLER, `sip:${DOMAIN}`);
    const events = caller.events().slice(seen);
    return { status: answer.status, sentTo: events.filter(([w]) => w === "sent").map(([, d]) => d), answeredBy: events.filter(([w]) => w === "reply").map(([, d]) => d) };
  }

  beforeAll(async () => {
    assertBuilt();
    await startLabScript(lab, "inet", "test/lab/fake-ipecho.ts", { host: SERVICES.http, httpPort: 8080, stunPort: 3478 });
    bind = await startBind(lab, { secret: SECRET });
    await forwardSipToPbx(lab);
    responder = await startSipResponder(lab);
    const config = labConfig("");
    // Each link's address is learned through that link: a cut link's cannot be.
    for (const link of config.links) link.publicIp = { method: "stun", servers: [{ host: SERVICES.http, port: 3478 }] };
    config.failover = { holdDownSeconds: 3 };
    config.dns = {
      providers: [{ id: "bind", type: "rfc2136", server: SERVICES.dns, zone: "example.com", tsig: { name: "wanctl-key", secret: SECRET } }],
      // The A record that follows the office, and the SRV records: both, as the README suggests.
      records: [{ name: DOMAIN, provider: "bind" }],
      sip: { domain: DOMAIN, provider: "bind", services: [{ service: "_sip._udp" }, { service: "_sip._tcp" }] },
    };
    let file = "";
    ({ file, dir } = writeLabConfig(config));
    stateDir = join(dir, "state");
    daemon = startDaemon(lab, file);
    await waitForStatus(stateDir, "both links up on wan1", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up"), 20_000, daemon);
  });

  afterAll(async () => {
    await daemon?.stop();
    await caller?.stop();
    await responder?.stop();
    await bind?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("on wan1: each link's name at its own address, SRV with wan1 first, and the caller reaches the office through wan1", async () => {
    expect(await srvBecomes(`_sip._udp.${DOMAIN}`, WAN1_FIRST)).toEqual(WAN1_FIRST);
    expect(await bind.digSrv(`_sip._tcp.${DOMAIN}`)).toEqual(WAN1_FIRST);
    expect(await bind.digA(`wan1.${DOMAIN}`)).toEqual([W1]);
    // wan2's own address, learned through wan2 while wan1 carries the office: its carrier's NAT address.
    expect(await bind.digA(`wan2.${DOMAIN}`)).toEqual([W2]);
    expect(await bind.digA(DOMAIN)).toEqual([W1]);

    caller = await startSrvCaller(lab, DOMAIN);
    expect(await call()).toEqual({ status: 200, sentTo: [`${W1}:5060`], answeredBy: [`200 ${W1}:5060`] });
    expect(responder.events().filter(([what]) => what === "OPTIONS").at(-1)).toEqual(["OPTIONS", `${CALLER}:5060`]);

    // wan2's target answers only once wan2 carries the office: a request through it reaches the
    // PBX, but the answer leaves by the default route, through wan1, and its ISP drops it (BCP 38).
    const seen = responder.events().length;
    expect(await sendOptions(lab, "inet", W2, `sip:${DOMAIN}`, 3_000)).toEqual({ error: "no final answer within 3000 ms" });
    expect(responder.events().slice(seen).map(([what]) => what)).toContain("OPTIONS");
  });

  test("wan1 cut: SRV has wan2 first, wan1's name keeps its address, and the caller reaches the office through wan2", async () => {
    await lab.cut("wan1");
    const status = await waitForStatus(stateDir, "failover to wan2", (s) => switchedTo(s, "wan2"), 30_000, daemon);
    const dns = status.lastSwitch!.steps.find((s) => s.step === "dns")!;
    expect(dns, JSON.stringify(status.lastSwitch, null, 1)).toMatchObject({ ok: true, changed: true });
    expect(dns.detail).toContain(`${DOMAIN} updated`);
    expect(dns.detail).toContain(`wan1.${DOMAIN} kept at ${W1}: wan1's public address cannot be learned through it`);
    expect(dns.detail).toContain(`_sip._udp.${DOMAIN} updated (wan2.${DOMAIN} first)`);
    console.log(`dns step after the cut: ${Math.round(dns.durationMs)} ms, ${dns.detail}`);

    expect(await srvBecomes(`_sip._udp.${DOMAIN}`, WAN2_FIRST)).toEqual(WAN2_FIRST);
    expect(await bind.digSrv(`_sip._tcp.${DOMAIN}`)).toEqual(WAN2_FIRST);
    expect(await bind.digA(`wan1.${DOMAIN}`)).toEqual([W1]);
    expect(await bind.digA(`wan2.${DOMAIN}`)).toEqual([W2]);
    expect(await bind.digA(DOMAIN)).toEqual([W2]);

    // The caller still holds the SRV records from before the cut (wan1 first): it tries wan1,
    // times out, and fails over to the next target, wan2, which answers.
    expect(await call()).toEqual({ status: 200, sentTo: [`${W1}:5060`, `${W2}:5060`], answeredBy: [`200 ${W2}:5060`] });
    // A caller that resolves now goes to wan2 at once.
    await caller.stop();
    caller = await startSrvCaller(lab, DOMAIN);
    expect(await call()).toEqual({ status: 200, sentTo: [`${W2}:5060`], answeredBy: [`200 ${W2}:5060`] });
  });

  test("wan1 back: after the failback SRV has wan1 first again, and the caller reaches the office through wan1", async () => {
    await lab.heal("wan1");
    const status = await waitForStatus(stateDir, "failback to wan1", (s) => switchedTo(s, "wan1") && s.lastSwitch?.kind === "failback", 30_000, daemon);
    expect(status.lastSwitch!.steps.find((s) => s.step === "dns")).toMatchObject({ ok: true });
    expect(await srvBecomes(`_sip._udp.${DOMAIN}`, WAN1_FIRST)).toEqual(WAN1_FIRST);
    expect(await bind.digA(`wan1.${DOMAIN}`)).toEqual([W1]);
    expect(await bind.digA(DOMAIN)).toEqual([W1]);
    await caller.stop();
    caller = await startSrvCaller(lab, DOMAIN);
    expect(await call()).toEqual({ status: 200, sentTo: [`${W1}:5060`], answeredBy: [`200 ${W1}:5060`] });
  });
});
