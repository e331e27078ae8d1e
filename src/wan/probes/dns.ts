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
 * address and port reach it, and a response must carry our random ID and echo our question.
 */
import { randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import { HostResolver, SocketProbe, elapsedMs, errorText, now, udpErrorOutcome, type Outcome } from "./common.js";
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
  }

  protected async start(finish: (o: Outcome) => void, onCleanup: (fn: () => void) => void): Promise<void> {
    const address = await this.resolver.resolve();
    const query = encodeQuery(randomInt(0x10000), this.name, this.family === 6 ? TYPE_AAAA : TYPE_A);
    const socket = createSocket(this.family === 6 ? "udp6" : "udp4");
    onCleanup(() => socket.close());
    let t0 = 0;
    socket.on("error", (err) => finish(udpErrorOutcome(err, this.refusedMeansUp, t0)));
    socket.on("message", (msg) => {
      const r = matchResponse(query, msg);
      if (!r) return; // not the answer to our question: keep waiting until the timeout
      const rttMs = elapsedMs(t0);
      finish({ ok: true, rttMs, detail: `rcode ${r.rcodeName}, ${r.answers} answer${r.answers === 1 ? "" : "s"}${r.truncated ? ", truncated" : ""}` });
    });
    socket.bind({ address: this.link.sourceAddress, port: 0, exclusive: true }, () => {
      socket.connect(this.port, address, (err?: Error) => {
        if (err) return finish({ ok: false, error: errorText(err) });
        t0 = now();
        socket.send(query, (err) => {
          if (err) finish({ ok: false, error: errorText(err) });
        });
      });
    });
  }
}
