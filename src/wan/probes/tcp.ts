// TCP connect probe: a completed handshake from the link's source address.
import { connect } from "node:net";
import { errorCode } from "../../lib/net-errors.js";
import { HostResolver, SocketProbe, elapsedMs, errorText, now, type Outcome } from "./common.js";
import { hostPort, type LinkBinding, type ProbeTiming } from "./types.js";

export interface TcpProbeOptions {
  /**
   * Whether "connection refused" counts as the path working. Default true: a refusal is a TCP
   * reset from the far end, so our SYN crossed the link and the reset came back through it; the
   * link works even though nothing listens on the port. (The gateway's own firewall must not
   * REJECT its probe traffic, and a host or router on the way that rejects with a reset or an
   * ICMP port-unreachable would also look like an answer: pick targets that accept the port.)
   * Unreachable errors (EHOSTUNREACH, ENETUNREACH: ICMP from a router, or no route) never count.
   */
  readonly refusedMeansUp?: boolean;
}

export class TcpProbe extends SocketProbe {
  readonly type = "tcp" as const;
  private readonly resolver: HostResolver;
  private readonly refusedMeansUp: boolean;

  constructor(
    link: LinkBinding,
    readonly host: string,
    readonly port: number,
    timing: ProbeTiming,
    options: TcpProbeOptions = {},
  ) {
    super(`tcp ${hostPort(host, port)}`, link, timing);
    this.resolver = new HostResolver(host, this.family);
    this.refusedMeansUp = options.refusedMeansUp ?? true;
  }

  protected async start(finish: (o: Outcome) => void, onCleanup: (fn: () => void) => void): Promise<void> {
    const address = await this.resolver.resolve();
    const t0 = now();
    const socket = connect({ host: address, port: this.port, localAddress: this.link.sourceAddress, family: this.family });
    // destroy() right after the handshake: a FIN, no data, no keep-alive.
    onCleanup(() => socket.destroy());
    socket.once("connect", () => finish({ ok: true, rttMs: elapsedMs(t0), detail: "connected" }));
    socket.once("error", (err) => {
      const rttMs = elapsedMs(t0);
      if (errorCode(err) === "ECONNREFUSED" && this.refusedMeansUp) {
        finish({ ok: true, rttMs, detail: "connection refused (the host answered)" });
      } else {
        finish({ ok: false, error: errorText(err) });
      }
    });
  }
}
