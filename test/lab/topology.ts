// The topology as data: an ordered list of commands that builds it. Keeping the plan apart from
// the runner makes it readable in one place and lets an error name the exact step that failed.
//
//              ┌────────── inet ──────────┐   services on /32s of inet's loopback
//            isp1 (public /30)        isp2 (CGNAT, SNAT to 203.0.113.10)
//              │                          │
//             wan1 ───── office ───── wan2     the gateway (wanctl)
//                           │
//                          lan ─── pbx
import { ADDRESSES as A, LINK_PLAN, SERVICES } from "./addresses.js";
import { IFACES, NODES, type LabNames, type LabNode } from "./names.js";
import { nsArgv } from "./netns.js";

export interface Step {
  what: string;
  argv: string[];
  input?: string;
}

/** Chain (in isp filter FORWARD) that impair() fills with random drops. */
export const IMPAIR_CHAIN = "WL-IMPAIR";
/** Chain (in isp raw PREROUTING) that enforces BCP 38 on the customer port. */
export const BCP38_CHAIN = "WL-BCP38";

const ipBatch = (ns: string, what: string, lines: string[]): Step => ({
  what,
  argv: ["ip", "-n", ns, "-batch", "-"],
  input: lines.join("\n") + "\n",
});

// veth pairs are created straight into their namespaces: nothing ever appears in the host's.
const veth = (names: LabNames, a: LabNode, aIf: string, b: LabNode, bIf: string): Step => ({
  what: `veth ${a}:${aIf} <-> ${b}:${bIf}`,
  argv: ["ip", "link", "add", "name", aIf, "netns", names.ns[a], "type", "veth", "peer", "name", bIf, "netns", names.ns[b]],
});

function sysctls(ns: string, forward: boolean): Step {
  return {
    what: `sysctls in ${ns}`,
    // Set before any interface exists, so `default` reaches every interface created later.
    // rp_filter off everywhere: new namespaces inherit the host's value, and strict reverse-path
    // filtering would drop replies on the link that is not the default route. BCP 38 is done
    // explicitly at the ISPs instead. IPv6 off: the lab is IPv4 and RS/DAD chatter is noise.
    argv: nsArgv(ns, [
      "sysctl",
      "-q",
      "-w",
      "net.ipv4.conf.all.rp_filter=0",
      "net.ipv4.conf.default.rp_filter=0",
      "net.ipv6.conf.all.disable_ipv6=1",
      "net.ipv6.conf.default.disable_ipv6=1",
      `net.ipv4.ip_forward=${forward ? 1 : 0}`,
    ]),
  };
}

const restore = (ns: string, what: string, rules: string[]): Step => ({
  what,
  argv: nsArgv(ns, ["iptables-restore"]),
  input: rules.join("\n") + "\n",
});

/** iptables for an ISP: BCP 38 on the customer port, an (empty) impairment chain, optional CGNAT. */
function ispRules(ifs: { cust: string; up: string }, customerNet: string, natTo: string | null): string[] {
  const rules = [
    "*raw",
    ":PREROUTING ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    `:${BCP38_CHAIN} - [0:0]`,
    `-A PREROUTING -i ${ifs.cust} -j ${BCP38_CHAIN}`,
    `-A ${BCP38_CHAIN} -s ${customerNet} -j RETURN`,
    `-A ${BCP38_CHAIN} -j DROP`,
    "COMMIT",
    "*filter",
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    `:${IMPAIR_CHAIN} - [0:0]`,
    `-A FORWARD -j ${IMPAIR_CHAIN}`,
    "COMMIT",
  ];
  if (natTo) {
    rules.push(
      "*nat",
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
      `-A POSTROUTING -s ${customerNet} -o ${ifs.up} -j SNAT --to-source ${natTo}`,
      "COMMIT",
    );
  }
  return rules;
}

/** Everything after the namespaces exist, in order. */
export function buildSteps(names: LabNames): Step[] {
  const ns = names.ns;
  const w1 = LINK_PLAN.wan1;
  const w2 = LINK_PLAN.wan2;
  const forwarders = new Set<LabNode>(["office", "isp1", "isp2"]);
  return [
    ...NODES.map((n) => sysctls(ns[n], forwarders.has(n))),
    veth(names, "office", IFACES.office.wan1, "isp1", IFACES.isp1.cust),
    veth(names, "office", IFACES.office.wan2, "isp2", IFACES.isp2.cust),
    veth(names, "isp1", IFACES.isp1.up, "inet", IFACES.inet.isp1),
    veth(names, "isp2", IFACES.isp2.up, "inet", IFACES.inet.isp2),
    veth(names, "office", IFACES.office.lan, "pbx", IFACES.pbx.eth0),
    ipBatch(ns.inet, "inet addresses and routes", [
      "link set lo up",
      `addr add ${A.inet.isp1}/30 dev ${IFACES.inet.isp1}`,
      `addr add ${A.inet.isp2}/30 dev ${IFACES.inet.isp2}`,
      ...Object.values(SERVICES).map((s) => `addr add ${s}/32 dev lo`),
      `link set ${IFACES.inet.isp1} up`,
      `link set ${IFACES.inet.isp2} up`,
      `route add ${w1.network} via ${A.isp1.up} dev ${IFACES.inet.isp1}`,
      `route add ${A.isp2.nat}/32 via ${A.isp2.up} dev ${IFACES.inet.isp2}`,
    ]),
    ipBatch(ns.isp1, "isp1 addresses and routes", [
      "link set lo up",
      `addr add ${w1.gateway}/${w1.prefixLen} dev ${IFACES.isp1.cust}`,
      `addr add ${A.isp1.up}/30 dev ${IFACES.isp1.up}`,
      `link set ${IFACES.isp1.cust} up`,
      `link set ${IFACES.isp1.up} up`,
      `route add default via ${A.inet.isp1} dev ${IFACES.isp1.up}`,
      // With the uplink cut, traffic falls to this route and vanishes without an ICMP error, as
      // it does when a real upstream dies: only probe timeouts can tell.
      "route add blackhole default metric 4000",
    ]),
    ipBatch(ns.isp2, "isp2 addresses and routes", [
      "link set lo up",
      `addr add ${w2.gateway}/${w2.prefixLen} dev ${IFACES.isp2.cust}`,
      `addr add ${A.isp2.up}/30 dev ${IFACES.isp2.up}`,
      `addr add ${A.isp2.nat}/32 dev ${IFACES.isp2.up}`,
      `link set ${IFACES.isp2.cust} up`,
      `link set ${IFACES.isp2.up} up`,
      `route add default via ${A.inet.isp2} dev ${IFACES.isp2.up}`,
      // With the uplink cut, traffic falls to this route and vanishes without an ICMP error, as
      // it does when a real upstream dies: only probe timeouts can tell.
      "route add blackhole default metric 4000",
    ]),
    ipBatch(ns.office, "office addresses and routes", [
      "link set lo up",
      `addr add ${w1.address}/${w1.prefixLen} dev ${IFACES.office.wan1}`,
      `addr add ${w2.address}/${w2.prefixLen} dev ${IFACES.office.wan2}`,
      `addr add ${A.office.lan}/${A.lan.prefixLen} dev ${IFACES.office.lan}`,
      `link set ${IFACES.office.wan1} up`,
      `link set ${IFACES.office.wan2} up`,
      `link set ${IFACES.office.lan} up`,
      // One default route, like a real gateway. The other link is reachable only via enableLinkProbes.
      `route add default via ${w1.gateway} dev ${IFACES.office.wan1}`,
    ]),
    ipBatch(ns.pbx, "pbx address and route", [
      "link set lo up",
      `addr add ${A.pbx.eth0}/${A.lan.prefixLen} dev ${IFACES.pbx.eth0}`,
      `link set ${IFACES.pbx.eth0} up`,
      `route add default via ${A.office.lan} dev ${IFACES.pbx.eth0}`,
    ]),
    restore(ns.isp1, "isp1 firewall (BCP 38)", ispRules(IFACES.isp1, w1.network, null)),
    restore(ns.isp2, "isp2 firewall (BCP 38, CGNAT)", ispRules(IFACES.isp2, w2.network, A.isp2.nat)),
    restore(ns.office, "office static SNAT for the LAN", [
      "*nat",
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
      // Static SNAT on purpose (not MASQUERADE): its conntrack entries outlive a route change,
      // which is the stale-mapping problem wanctl must fix. The office's own traffic is not NATed.
      `-A POSTROUTING -s ${A.lan.network} -o ${IFACES.office.wan1} -j SNAT --to-source ${w1.address}`,
      `-A POSTROUTING -s ${A.lan.network} -o ${IFACES.office.wan2} -j SNAT --to-source ${w2.address}`,
      "COMMIT",
    ]),
  ];
}
