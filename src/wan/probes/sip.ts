/**
 * SIP probe: an OPTIONS request over UDP to the ITSP's proxy from the link's source address. Any
 * SIP response that belongs to our request (top Via branch and Call-ID match), 1xx to 6xx,
 * proves the path: a 404 or 403 came back through the link as surely as a 200. Datagrams that
 * are not SIP, or are responses to something else, are ignored, and the probe keeps waiting
 * until its timeout. One fresh socket per run (a random local port), so an old answer can never
 * be taken for a new one.
 */
import { createSocket } from "node:dgram";
import { HostResolver, SocketProbe, elapsedMs, errorText, now, udpErrorOutcome, type Outcome } from "./common.js";
import { buildOptions, matchOptionsResponse } from "./sip-message.js";
import { hostPort, type LinkBinding, type ProbeTiming } from "./types.js";

export interface SipProbeOptions {
  /** User part of From and Contact. Default "wanctl". */
  readonly user?: string;
  /** As for DNS: an ICMP port-unreachable from the proxy host counts as the path working. Default true. */
  readonly refusedMeansUp?: boolean;
}

export class SipProbe extends SocketProbe {
  readonly type = "sip" as const;
  private readonly resolver: HostResolver;
  private readonly refusedMeansUp: boolean;

  constructor(
    link: LinkBinding,
    readonly host: string,
    readonly port: number,
    timing: ProbeTiming,
    private readonly options: SipProbeOptions = {},
  ) {
    super(`sip ${hostPort(host, port)}`, link, timing);
    this.resolver = new HostResolver(host, this.family);
    this.refusedMeansUp = options.refusedMeansUp ?? true;
  }

  protected async start(finish: (o: Outcome) => void, onCleanup: (fn: () => void) => void): Promise<void> {
    const address = await this.resolver.resolve();
    const socket = createSocket(this.family === 6 ? "udp6" : "udp4");
    onCleanup(() => socket.close());
    let t0 = 0;
    let req: ReturnType<typeof buildOptions> | undefined;
    socket.on("error", (err) => finish(udpErrorOutcome(err, this.refusedMeansUp, t0)));
    socket.on("message", (msg) => {
      if (!req) return;
      const r = matchOptionsResponse(req, msg);
      if (!r) return; // garbage, or a response to something else
      finish({ ok: true, rttMs: elapsedMs(t0), detail: `SIP ${r.status}${r.reason ? ` ${r.reason}` : ""}` });
    });
    socket.bind({ address: this.link.sourceAddress, port: 0, exclusive: true }, () => {
      socket.connect(this.port, address, (err?: Error) => {
        if (err) return finish({ ok: false, error: errorText(err) });
        const localPort = socket.address().port;
        req = buildOptions({
          host: this.host,
          port: this.port,
          localAddress: this.link.sourceAddress,
          localPort,
          ...(this.options.user ? { user: this.options.user } : {}),
        });
        t0 = now();
        socket.send(req.text, (e) => {
          if (e) finish({ ok: false, error: errorText(e) });
        });
      });
    });
  }
}
