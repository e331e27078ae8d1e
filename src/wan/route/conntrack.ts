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
