// A router that switches by itself, for route.backend "none": it runs in the lab's office
// namespace, pings a target through each WAN (one `ping -O -I <wan>` per link, steered by the lab's
// per-link tables: the lab must be up with linkProbes), and moves the office's default route
// itself: to wan2 when wan1 has lost `downAfter` echoes in a row, back to wan1 once wan1 has
// answered for `holdDownMs`. Nobody tells wanctl; it has to notice. With `flushOnSwitch` it also
// deletes the UDP flows of the LAN from its connection tracking at each switch, as the README asks
// of a real router. The NAT of the office (MASQUERADE or static SNAT) is set with officeNat().
// As a script (dist/), prints one JSON line per switch: {"switched": "wan2", "at": <ms>}.
//   node dist/test/lab/self-router.js '{"target":"192.0.2.1","holdDownMs":2000}'
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { pathToFileURL } from "node:url";
import { ADDRESSES, LINK_PLAN, type LinkId } from "./addresses.js";
import { IFACES } from "./names.js";
import type { Lab } from "./lab.js";

export interface SelfRouterOptions {
  /** Pinged through each link. Default 192.0.2.1. */
  target?: string;
  /** Seconds between echoes (ping -i). Default 0.2. */
  interval?: number;
  /** Lost echoes in a row that make a link down. Default 3. */
  downAfter?: number;
  /** wan1 answering this long brings the office back to it. Default 3000 ms. */
  holdDownMs?: number;
  /** Delete the LAN's UDP flows at each switch (what the README asks of a router). Default false. */
  flushOnSwitch?: boolean;
}

/** The office's NAT toward the links: MASQUERADE (the kernel drops an entry whose output interface changes) or static SNAT (its entries outlive a switch). */
export async function officeNat(lab: Lab, kind: "masquerade" | "snat"): Promise<void> {
  const rule = (link: LinkId) =>
    kind === "masquerade"
      ? `-A POSTROUTING -s ${ADDRESSES.lan.network} -o ${IFACES.office[link]} -j MASQUERADE`
      : `-A POSTROUTING -s ${ADDRESSES.lan.network} -o ${IFACES.office[link]} -j SNAT --to-source ${LINK_PLAN[link].address}`;
  const rules = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]", rule("wan1"), rule("wan2"), "COMMIT", ""];
  // Not --noflush: that keeps the built-in chains' rules, and the other kind would still win.
  const r = await lab.exec("office", ["iptables-restore"], { input: rules.join("\n") });
  if (r.code !== 0) throw new Error(`office NAT (${kind}): ${r.stderr}`);
  const now = (await lab.exec("office", ["iptables", "-t", "nat", "-S", "POSTROUTING"])).stdout;
  if (now.split("\n").filter((l) => l.startsWith("-A")).length !== 2 || !now.includes(kind === "masquerade" ? "MASQUERADE" : "SNAT")) throw new Error(`office NAT is not ${kind}:\n${now}`);
  await lab.exec("office", ["conntrack", "-F"]); // a clean start: no mapping of the other kind left
}

function main(options: SelfRouterOptions): void {
  const target = options.target ?? "192.0.2.1";
  const downAfter = options.downAfter ?? 3;
  const holdDownMs = options.holdDownMs ?? 3000;
  const out = (o: object) => void process.stdout.write(`${JSON.stringify(o)}\n`);
  const state: Record<LinkId, { lost: number; upSince: number | null }> = { wan1: { lost: 0, upSince: Date.now() }, wan2: { lost: 0, upSince: Date.now() } };
  const ip = (...args: string[]) => spawnSync("ip", args, { encoding: "utf8" });
  let active: LinkId = /dev wan2\b/.test(ip("route", "show", "default").stdout) ? "wan2" : "wan1";

  const moveTo = (link: LinkId): void => {
    if (link === active) return;
    const r = ip("route", "replace", "default", "via", LINK_PLAN[link].gateway, "dev", IFACES.office[link]);
    if (r.status !== 0) return out({ error: r.stderr.trim() });
    active = link;
    const at = Date.now();
    if (options.flushOnSwitch) spawnSync("conntrack", ["-D", "-p", "udp", "-s", ADDRESSES.lan.network], { encoding: "utf8" });
    out({ switched: link, at });
  };
  const decide = (): void => {
    const now = Date.now();
    const up = (l: LinkId) => state[l].lost < downAfter;
    if (active === "wan1" && !up("wan1") && up("wan2")) moveTo("wan2");
    else if (active === "wan2" && up("wan1") && state.wan1.upSince !== null && now - state.wan1.upSince >= holdDownMs) moveTo("wan1");
    else if (active === "wan2" && !up("wan2") && up("wan1")) moveTo("wan1");
  };
  const pings: ChildProcess[] = (["wan1", "wan2"] as const).map((link) => {
    const p = spawn("ping", ["-n", "-O", "-i", String(options.interval ?? 0.2), "-W", "1", "-I", IFACES.office[link], target], { stdio: ["ignore", "pipe", "ignore"] });
    let buffer = "";
    p.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) {
        const s = state[link];
        if (/bytes from/.test(line)) {
          if (s.lost >= downAfter) s.upSince = Date.now();
          s.lost = 0;
        } else if (/no answer yet/.test(line)) {
          s.lost++;
          if (s.lost >= downAfter) s.upSince = null;
        } else continue;
        decide();
      }
    });
    return p;
  });
  out({ started: active });
  const stop = () => {
    for (const p of pings) p.kill();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(JSON.parse(process.argv[2] ?? "{}") as SelfRouterOptions);
