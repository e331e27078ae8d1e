// Which connection-tracking entries a switch makes stale, and the program that deletes them. Pure:
// no commands here.
//
// After the office leaves a link, every UDP flow NATed to that link's address is dead: its packets
// still get the old address and leave through the new link, where the ISP drops them as spoofed
// (BCP 38), and as long as the flow keeps sending (a trunk's keep-alives, RTP, a VPN) the entry
// never expires. So all of them go, not only SIP and RTP: the office's source NAT toward that link
// (SNAT or MASQUERADE: what `conntrack --src-nat <address>` matches) and the port forwards that came
// in through it (`--dst <address> --dst-nat`). The gateway's own flows from its addresses (wanctl's
// probes among them) are not NATed and are left alone, and so is TCP.
//
// Why not `conntrack -D` with those filters: conntrack-tools (1.4.7 in Debian 12, and still 1.4.9)
// sends the kernel no filter but the family (and --mark); it dumps the whole table to user space
// and filters there, so each pass costs the size of the table (284 ms with 50 000 entries). The
// kernel can filter the dump itself since Linux 5.8 (CTA_FILTER: protocol and address of either
// direction) and by status bits since 5.19 (CTA_STATUS_MASK: the NAT-done bits), but no release of
// conntrack-tools asks it to, and node has no netlink socket. So a short Perl program (perl-base is
// Essential in Debian and Ubuntu) asks for exactly the candidates — UDP, reply destination the
// address and SRC_NAT_DONE; UDP, original destination the address and DST_NAT_DONE — and deletes
// each by its original tuple and id (an entry gone meanwhile is not counted). It checks every
// returned entry again with conntrack's own rules (libnetfilter_conntrack's "is SNAT": NAT done and
// reply destination ≠ original source; "is DNAT or DPAT": NAT done and the reply source address or
// port ≠ the original destination's), so an older kernel that ignores a filter attribute and
// returns more deletes no more. It also reads the links' addresses itself (rtnetlink), one process
// fewer, and it runs as a helper started ahead (linux.ts), its sockets open, so a switch pays no
// process start. bench:conntrack, 50 000 entries: 29 ms p50 with the helper running, against 44 ms
// when each flush started its own perl (86 ms for the flush that starts it) and 157 ms for
// conntrack -D; the rest is the work itself: two filtered dumps and the deletes. Without perl, the
// conntrack -D passes below do the same, slower.

/**
 * The request that deletes the stale flows of the links left on `interfaces` (each one's address is
 * its first IPv4 address of global scope, as `ip -4 addr show dev` lists them; an interface that
 * is missing or has none has no flows NATed to it): their names on one line.
 */
export function flushRequest(interfaces: readonly string[]): string {
  for (const name of interfaces) {
    if (!INTERFACE.test(name) || name === "." || name === "..") throw new Error(`conntrack flush: "${name}" is not an interface name`);
  }
  return `${interfaces.join(" ")}\n`;
}

/** The count of deleted entries in the helper's answer; throws with its words when it answers an error. */
export function flushAnswer(line: string): number {
  if (/^\d+$/.test(line)) return Number(line);
  const error = /^error: (.*)$/.exec(line);
  throw new Error(error ? error[1] : `an answer that is no count: ${JSON.stringify(line.slice(0, 200))}`);
}

/** What Linux takes as an interface name (IFNAMSIZ 16 with the NUL; no slash, no blank). */
const INTERFACE = /^[^\s/]{1,15}$/;

// The interfaces' addresses from rtnetlink (a process fewer than asking `ip`: a switch waits for
// this step), then ctnetlink over a NETLINK_NETFILTER socket. Numbers from linux/rtnetlink.h,
// linux/if_addr.h, linux/sockios.h, linux/netfilter/nfnetlink_conntrack.h and nf_conntrack_common.h
// (uapi); the CTA_FILTER flag bits from the kernel's nf_internals.h.
const FLUSH_PROGRAM = String.raw`use strict; use warnings; $| = 1;
my ($SRC_NAT_DONE, $DST_NAT_DONE, $UDP) = (1 << 7, 1 << 8, 17);
my ($FILTER_IP_DST, $FILTER_PROTO_NUM) = (1 << 1, 1 << 3);
sub netlink { socket(my $s, 16, 3, $_[0]) or die "netlink socket: $!\n"; bind($s, pack("S x2 L L", 16, 0, 0)) or die "netlink bind: $!\n"; $s } # AF_NETLINK, SOCK_RAW
my ($rt, $nl) = (netlink(0), netlink(12)); # NETLINK_ROUTE, NETLINK_NETFILTER
socket(my $inet, 2, 2, 0) or die "socket: $!\n"; # for SIOCGIFINDEX
my $seq = 0;
sub attr { my ($type, $data) = @_; my $len = 4 + length $data; pack("S S", $len, $type) . $data . "\0" x ((4 - $len % 4) % 4) }
sub nest { my $type = shift; attr($type | 0x8000, join "", @_) }
# A ctnetlink request (subsystem 1) for AF_INET.
sub request { my ($type, $flags, $body) = @_; $body = pack("C C n", 2, 0, 0) . $body; pack("L S S L L", 16 + length $body, (1 << 8) | $type, $flags, ++$seq, 0) . $body }
sub attrs { my ($buf) = @_; my %a; my $o = 0;
  while ($o + 4 <= length $buf) { my ($len, $type) = unpack("S S", substr($buf, $o, 4)); last if $len < 4; $a{$type & 0x3fff} = substr($buf, $o + 4, $len - 4); $o += ($len + 3) & ~3 }
  return \%a }
sub tuple { my $t = attrs($_[0] // ""); my $ip = attrs($t->{1} // ""); my $p = attrs($t->{2} // "");
  return { src => $ip->{1} // "", dst => $ip->{2} // "", proto => unpack("C", $p->{1} // "\0"), sport => unpack("n", $p->{2} // "\0\0"), dport => unpack("n", $p->{3} // "\0\0") } }
# Reads answers until the dump ends ($acks 0) or $acks acks came: calls $entry with each entry's payload; returns the acks of success and the errors (ENOENT: gone already, neither).
sub answers { my ($sock, $acks, $entry) = @_; my ($seen, $ok, @errors) = (0, 0);
  while (1) {
    defined recv($sock, my $buf, 1 << 20, 0) or die "netlink recv: $!\n";
    for (my $o = 0; $o + 16 <= length $buf;) {
      my ($len, $type) = unpack("L S", substr($buf, $o, 6));
      return ($ok, @errors) if $type == 3; # NLMSG_DONE
      if ($type == 2) { # NLMSG_ERROR: an ack when 0
        my $err = -unpack("l", substr($buf, $o + 16, 4));
        if ($err == 0) { $ok++ } elsif ($err != 2) { local $! = $err; push @errors, "$!" }
        return ($ok, @errors) if !$acks || ++$seen == $acks;
      } else { $entry->(substr($buf, $o + 16, $len - 16)) }
      $o += ($len + 3) & ~3 } } }
# One request: deletes the stale flows of the interfaces named, returns how many.
sub flush {
  my %index;
  for my $name (@_) { my $ifreq = pack("a16 x24", $name); $index{$name} = unpack("x16 i", $ifreq) if ioctl($inet, 0x8933, $ifreq) }
  my %first; # RTM_GETADDR for AF_INET: each interface's first address of scope global (IFA_LOCAL)
  send($rt, pack("L S S L L C C C C L", 24, 22, 0x301, ++$seq, 0, 2, 0, 0, 0, 0), 0) or die "netlink send: $!\n";
  my (undef, @failed) = answers($rt, 0, sub { my ($family, $scope, $index) = unpack("C x2 C L", $_[0]); my $a = attrs(substr($_[0], 8));
    $first{$index} //= $a->{2} // $a->{1} if $family == 2 && $scope == 0 });
  die "address dump: @failed\n" if @failed;
  my @stale;
  for my $ip (map { defined $index{$_} && defined $first{$index{$_}} ? $first{$index{$_}} : () } @_) {
    # [direction of the tuple filtered (1 original, 2 reply), NAT-done bit, the check of a returned entry]
    for my $kind ([2, $SRC_NAT_DONE, sub { my ($o, $r, $s) = @_; $r->{dst} eq $ip && ($s & $SRC_NAT_DONE) && $r->{dst} ne $o->{src} }],
                  [1, $DST_NAT_DONE, sub { my ($o, $r, $s) = @_; $o->{dst} eq $ip && ($s & $DST_NAT_DONE) && ($r->{src} ne $o->{dst} || $r->{sport} != $o->{dport}) }]) {
      my ($dir, $nat, $stale) = @$kind;
      my $filter = nest($dir, nest(1, attr(2, $ip)), nest(2, attr(1, pack("C", $UDP)))) . attr(3, pack("N", $nat)) . attr(26, pack("N", $nat))
        . nest(25, attr($dir, pack("L", $FILTER_IP_DST | $FILTER_PROTO_NUM)));
      my @errors;
      for my $body ($filter, "") { # a kernel that refuses the filter: the whole table, checked here
        send($nl, request(1, 0x301, $body), 0) or die "netlink send: $!\n"; # IPCTNL_MSG_CT_GET, NLM_F_REQUEST|NLM_F_DUMP
        (undef, @errors) = answers($nl, 0, sub { my $a = attrs(substr($_[0], 4)); my ($o, $r) = (tuple($a->{1}), tuple($a->{2}));
          return unless $o->{proto} == $UDP && $stale->($o, $r, unpack("N", $a->{3} // "\0\0\0\0"));
          push @stale, nest(1, $a->{1}) . (defined $a->{12} ? attr(12, $a->{12}) : "") . (defined $a->{18} ? attr(18, $a->{18}) : "") }); # tuple, CTA_ID, CTA_ZONE
        last unless @errors }
      die "conntrack dump: @errors\n" if @errors } }
  my ($deleted, @errors) = (0);
  while (my @batch = splice(@stale, 0, 64)) {
    send($nl, join("", map { request(2, 5, $_) } @batch), 0) or die "netlink send: $!\n"; # IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST|NLM_F_ACK
    my ($ok, @e) = answers($nl, scalar @batch, sub {}); $deleted += $ok; push @errors, @e }
  die "conntrack delete: @errors ($deleted deleted)\n" if @errors;
  return $deleted }
# One line in (the names), one line out (the count, or "error: " and why; then it ends).
while (my $line = <STDIN>) {
  my $deleted = eval { flush(split " ", $line) };
  if (defined $deleted) { print "$deleted\n"; next }
  (my $why = $@ || "no error text") =~ s/\s+/ /g; $why =~ s/ $//;
  print "error: $why\n"; exit 1 }
`;

/**
 * The flush program as a helper: started once (it opens its netlink sockets then), it reads one
 * request per line on stdin and answers each with one line (see flushRequest and flushAnswer). It
 * exits at the end of its input, so it ends with whoever started it, even one killed with -9, and
 * after an error (its sockets may still hold the rest of the failed answer: a fresh one starts clean).
 */
export const FLUSH_HELPER: readonly string[] = ["perl", "-e", FLUSH_PROGRAM];

// The same with conntrack-tools, where there is no perl: one `conntrack -D` per filter.

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
