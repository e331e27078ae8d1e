// Link quality. netem when the kernel has it; otherwise loss only, with the iptables
// `statistic` match in the ISP (this CI kernel lacks CONFIG_NET_SCH_NETEM). Impairment applies
// at the ISP, beyond the office, independently in each direction of traffic crossing it.
import { LINK_PLAN, type LinkId } from "./addresses.js";
import { IFACES, type LabNames } from "./names.js";
import { nsArgv } from "./netns.js";
import { exec, run } from "./proc.js";
import { IMPAIR_CHAIN } from "./topology.js";

export interface Impairment {
  /** Probability (percent, 0-100) that a packet crossing the ISP is dropped, per direction. */
  lossPct?: number;
  /** Added one-way delay per direction; needs netem. */
  delayMs?: number;
  /** Delay variation; needs netem and delayMs. */
  jitterMs?: number;
}

export interface LabCapabilities {
  /** The kernel has the netem qdisc (delay, jitter, loss). Without it, only loss is possible. */
  netem: boolean;
}

export class NetemUnavailableError extends Error {
  constructor(asked: Impairment) {
    super(
      `impair: delay/jitter (asked ${JSON.stringify(asked)}) needs the netem qdisc, which this kernel ` +
        "does not have (CONFIG_NET_SCH_NETEM off); only lossPct is possible here. " +
        "Check lab.capabilities.netem before asking for delay.",
    );
    this.name = "NetemUnavailableError";
  }
}

/** Probe for netem by adding and removing it on a namespace's loopback. */
export async function detectNetem(ns: string): Promise<boolean> {
  const add = await exec(nsArgv(ns, ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "0ms"]));
  if (add.code !== 0) return false;
  await exec(nsArgv(ns, ["tc", "qdisc", "del", "dev", "lo", "root"]));
  return true;
}

function validate(imp: Impairment): void {
  const { lossPct = 0, delayMs = 0, jitterMs = 0 } = imp;
  if (!(lossPct >= 0 && lossPct <= 100)) throw new RangeError(`impair: lossPct ${lossPct} not in 0..100`);
  if (!(delayMs >= 0)) throw new RangeError(`impair: delayMs ${delayMs} < 0`);
  if (!(jitterMs >= 0)) throw new RangeError(`impair: jitterMs ${jitterMs} < 0`);
  if (jitterMs > 0 && delayMs === 0) throw new RangeError("impair: jitterMs needs delayMs");
}

/** The ISP's two ports: egress on both covers both directions. */
const ispPorts = (link: LinkId) => [IFACES[LINK_PLAN[link].isp].cust, IFACES[LINK_PLAN[link].isp].up];

/** Replace the impairment on `link` (an impairment not given is none). */
export async function impair(names: LabNames, caps: LabCapabilities, link: LinkId, imp: Impairment): Promise<void> {
  validate(imp);
  const { lossPct = 0, delayMs = 0, jitterMs = 0 } = imp;
  if (!caps.netem && (delayMs > 0 || jitterMs > 0)) throw new NetemUnavailableError(imp);
  await clear(names, caps, link);
  const ns = names.ns[LINK_PLAN[link].isp];
  if (caps.netem) {
    const args = ["delay", `${delayMs}ms`, ...(jitterMs > 0 ? [`${jitterMs}ms`] : []), "loss", `${lossPct}%`];
    for (const dev of ispPorts(link)) {
      await run(nsArgv(ns, ["tc", "qdisc", "replace", "dev", dev, "root", "netem", ...args]));
    }
    return;
  }
  if (lossPct > 0) {
    const p = (lossPct / 100).toFixed(4);
    await run(nsArgv(ns, ["iptables", "-A", IMPAIR_CHAIN, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"]));
  }
}

/** Remove any impairment from `link`. Idempotent. */
export async function clear(names: LabNames, caps: LabCapabilities, link: LinkId): Promise<void> {
  const ns = names.ns[LINK_PLAN[link].isp];
  if (caps.netem) {
    for (const dev of ispPorts(link)) await exec(nsArgv(ns, ["tc", "qdisc", "del", "dev", dev, "root"]));
  }
  await run(nsArgv(ns, ["iptables", "-F", IMPAIR_CHAIN]));
}
