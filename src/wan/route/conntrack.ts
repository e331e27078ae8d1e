// Which connection-tracking entries a switch makes stale, as `conntrack -D` filters, and how many
// a deletion removed. Pure: no commands here.
//
// After the office leaves a link, every UDP flow NATed to that link's address is dead: its packets
// still get the old address and leave through the new link, where the ISP drops them as spoofed
// (BCP 38), and as long as the flow keeps sending (a trunk's keep-alives, RTP, a VPN) the entry
// never expires. So all of them go, not only SIP and RTP: the office's source NAT toward that link
// (SNAT or MASQUERADE: `--src-nat <address>` matches the entries NATed to it) and the port forwards
// that came in through it (`--dst <address> --dst-nat`). The gateway's own flows from its addresses
// (wanctl's probes among them) are not NATed and are left alone, and so is TCP.
//
// One `conntrack -D` per filter: conntrack walks the table once and deletes what matches, instead
// of one process per entry.

/** The `conntrack -D` arguments (after `-D`) that delete the stale flows of a link left at `address`. */
export function staleFlowFilters(address: string): string[][] {
  return [
    ["-p", "udp", "--src-nat", address],
    ["-p", "udp", "--dst", address, "--dst-nat"],
  ];
}

/** How many entries `conntrack -D` says it deleted ("... N flow entries have been deleted."), or null. */
export function deletedCount(output: string): number | null {
  const m = /(\d+) flow entr(?:y|ies) ha(?:ve|s) been deleted/.exec(output);
  return m ? Number(m[1]) : null;
}

// --- the router's connection table (route.backend "routeros"), filtered on this side ---

export interface ConntrackTuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

export interface ConntrackEntry {
  protocol: string;
  original: ConntrackTuple;
  reply: ConntrackTuple;
}

export interface FlowSelector {
  sipPorts: readonly number[];
  rtpPorts: { from: number; to: number };
  /** Addresses of the links the office no longer uses: flows NATed to them are stale. */
  staleAddresses: ReadonlySet<string>;
}

function isVoicePort(port: number, selector: FlowSelector): boolean {
  return selector.sipPorts.includes(port) || (port >= selector.rtpPorts.from && port <= selector.rtpPorts.to);
}

/**
 * The UDP entries of SIP and RTP flows that are tied to a link the office left: NATed to its
 * address (the reply goes back to it), sent from it, or sent to it (a port forward: the PBX's
 * packets match the reply tuple and leave as that address). Flows inside the LAN and every other
 * flow are left alone.
 */
export function staleVoiceFlows<E extends ConntrackEntry>(entries: readonly E[], selector: FlowSelector): E[] {
  return entries.filter((entry) => {
    if (entry.protocol !== "udp") return false;
    const ports = [entry.original.sport, entry.original.dport, entry.reply.sport, entry.reply.dport];
    if (!ports.some((p) => isVoicePort(p, selector))) return false;
    return selector.staleAddresses.has(entry.reply.dst) || selector.staleAddresses.has(entry.original.src) || selector.staleAddresses.has(entry.original.dst);
  });
}
