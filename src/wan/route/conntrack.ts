// Parsing conntrack's listing and choosing the stale SIP/RTP entries. Pure: no commands here.

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

/** Parses `conntrack -L` lines (default output); lines it cannot read are skipped. */
export function parseConntrackList(text: string): ConntrackEntry[] {
  const entries: ConntrackEntry[] = [];
  for (const line of text.split("\n")) {
    const protocol = line.trim().split(/\s+/)[0];
    const pairs = [...line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)].map((m) => [m[1]!, m[2]!] as const);
    if (!protocol || pairs.length < 8) continue;
    const tuple = (from: number): ConntrackTuple | undefined => {
      const fields = Object.fromEntries(pairs.slice(from, from + 4));
      const sport = Number(fields.sport);
      const dport = Number(fields.dport);
      if (!fields.src || !fields.dst || !Number.isInteger(sport) || !Number.isInteger(dport)) return undefined;
      return { src: fields.src, dst: fields.dst, sport, dport };
    };
    const original = tuple(0);
    const reply = tuple(4);
    if (original && reply) entries.push({ protocol, original, reply });
  }
  return entries;
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
