/**
 * DNS probe: one query over UDP from the link's source address; any response (NXDOMAIN,
 * SERVFAIL, REFUSED too) proves the path.
 *
 * Why a hand-built query on `dgram` rather than `dns.promises.Resolver` with `setLocalAddress()`:
 * c-ares turns NXDOMAIN, SERVFAIL and a timeout alike into rejections whose codes we would have to
 * sort (and a REFUSED or FORMERR answer into codes that look like local failures), its `timeout`
 * is a first-try timeout that it may grow, and the RTT would include c-ares's own queueing. A
 * socket of our own gives the exact RTT (send to receive), one try bounded by our timer, and
 * the answer's real rcode. The socket is connected, so only datagrams from the server's
 * address and port reach it, and a response must carry the run's random ID and echo our
 * question; it is kept from run to run (UdpChannel).
 */
import { randomInt } from "node:crypto";
import { HostResolver, SocketProbe, UdpChannel, type Outcome } from "./common.js";
import { encodeQuery, matchResponse, TYPE_A, TYPE_AAAA } from "./dns-wire.js";
import type { LinkBinding, ProbeTiming } from "./types.js";

export interface DnsProbeOptions {
  /** The server's port. Default 53. */
  readonly port?: number;
  /**
   * Whether an ICMP port-unreachable from the server (ECONNREFUSED on our connected socket)
   * counts as the path working: only the destination host sends it, so the link works though no
   * DNS server listens. Default true, as for TCP's connection refused.
   */
  readonly refusedMeansUp?: boolean;
}

export class DnsProbe extends SocketProbe {
  readonly type = "dns" as const;
  private readonly resolver: HostResolver;
  private readonly port: number;
  private readonly refusedMeansUp: boolean;
  private readonly channel: UdpChannel;

  constructor(
    link: LinkBinding,
    readonly server: string,
    readonly name: string,
    timing: ProbeTiming,
    options: DnsProbeOptions = {},
  ) {
    super(`dns ${name} @${server}`, link, timing);
    this.resolver = new HostResolver(server, this.family);
    this.port = options.port ?? 53;
    this.refusedMeansUp = options.refusedMeansUp ?? true;
    encodeQuery(0, name); // a bad name fails here, at construction, not at every round
    this.channel = new UdpChannel(this.family, link.sourceAddress);
  }

  override async close(): Promise<void> {
    await super.close();
    this.channel.close();
  }

  protected async start(finish: (o: Outcome) => void, onCleanup: (fn: () => void) => void): Promise<void> {
    const address = await this.resolver.resolve();
    const query = encodeQuery(randomInt(0x10000), this.name, this.family === 6 ? TYPE_AAAA : TYPE_A);
    await this.channel.exchange({
      address,
      port: this.port,
      request: () => query,
      match: (msg) => {
        const r = matchResponse(query, msg); // else not the answer to this run's question: keep waiting
        return r && `rcode ${r.rcodeName}, ${r.answers} answer${r.answers === 1 ? "" : "s"}${r.truncated ? ", truncated" : ""}`;
      },
      refusedMeansUp: this.refusedMeansUp,
      finish,
      onCleanup,
    });
  }

}
