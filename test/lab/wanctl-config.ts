// A wanctl config for the lab: the office's two links, the inet service addresses as probe
// targets, and a state directory of the run's own. Tests and the demo start from this.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ConfigInput } from "../../src/config/schema/index.js";
import { tempDir } from "../temp-dirs.js";
import { LINK_PLAN, SERVICES } from "./addresses.js";
import { AMI_PORT, AMI_SECRET, AMI_USER } from "./asterisk.js";

export function labConfig(stateDir: string): ConfigInput {
  return {
    stateDir,
    links: [
      { name: "wan1", interface: LINK_PLAN.wan1.ifname, gateway: LINK_PLAN.wan1.gateway, priority: 1, publicIp: { method: "interface" } },
      { name: "wan2", interface: LINK_PLAN.wan2.ifname, gateway: LINK_PLAN.wan2.gateway, priority: 2, publicIp: { method: "static", address: LINK_PLAN.wan2.publicAddress } },
    ],
    monitor: {
      targets: [
        { type: "icmp", host: SERVICES.probe1 },
        { type: "icmp", host: SERVICES.probe2 },
        { type: "icmp", host: SERVICES.probe3 },
        // A fourth target: with four, 20 % random loss practically never fails three rounds in a
        // row (see the README's arithmetic).
        { type: "icmp", host: SERVICES.http },
      ],
    },
  };
}

/**
 * Writes a lab config (mode 600) into a fresh directory that also holds its state; returns its
 * path. In a test file the directory is removed when the file ends; other callers remove it.
 */
export function writeLabConfig(config: ConfigInput = labConfig("")): { file: string; dir: string } {
  const dir = tempDir("wanctl-lab-");
  const file = join(dir, "config.json");
  writeFileSync(file, `${JSON.stringify({ ...config, stateDir: config.stateDir || join(dir, "state") }, null, 2)}\n`);
  chmodSync(file, 0o600);
  return { file, dir };
}

/**
 * A config for route.backend "none" in the lab: wanctl on the PBX host (beside the real Asterisk,
 * AMI on loopback) follows the office's router by STUN through the default route, BIND for DNS.
 * wan1 is known by its static address, wan2 by isp2's carrier-NAT block.
 */
export function labFollowConfig(o: { tsigSecret: string; registerTimeoutMs?: number; alertsUrl?: string; targets?: NonNullable<ConfigInput["monitor"]>["targets"] }): ConfigInput {
  return {
    stateDir: "",
    links: [
      { name: "wan1", interface: LINK_PLAN.wan1.ifname, gateway: LINK_PLAN.wan1.gateway, priority: 1, publicIp: { method: "static", address: LINK_PLAN.wan1.publicAddress } },
      { name: "wan2", interface: LINK_PLAN.wan2.ifname, gateway: LINK_PLAN.wan2.gateway, priority: 2 },
    ],
    ...(o.targets ? { monitor: { targets: o.targets } } : {}),
    route: {
      backend: "none",
      egress: { method: "stun", servers: [{ host: SERVICES.http, port: 3478 }] },
      links: { wan2: { addresses: ["203.0.113.0/24"] } },
    },
    dns: {
      providers: [{ id: "bind", type: "rfc2136", server: SERVICES.dns, zone: "example.com", tsig: { name: "wanctl-key", secret: o.tsigSecret } }],
      records: [{ name: "office.example.com", provider: "bind", ttl: 60 }],
    },
    asterisk: {
      ami: { host: "127.0.0.1", port: AMI_PORT, username: AMI_USER, secret: AMI_SECRET },
      pjsip: { transports: ["transport-udp"] },
      shortExpirySeconds: 120,
      ...(o.registerTimeoutMs ? { registerTimeoutMs: o.registerTimeoutMs } : {}),
    },
    ...(o.alertsUrl ? { alerts: { webhook: { url: o.alertsUrl }, coalesceSeconds: 0 } } : {}),
    http: { enabled: false },
  };
}
