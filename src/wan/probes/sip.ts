/**
 * SIP probe: an OPTIONS request over UDP to the ITSP's proxy from the link's source address. Any
 * SIP response that belongs to our request (top Via branch and Call-ID match), 1xx to 6xx,
 * proves the path: a 404 or 403 came back through the link as surely as a 200. Datagrams that
 * are not SIP, or are responses to something else, are ignored, and the probe keeps waiting
 * until its timeout. Each run is a new transaction (branch and Call-ID) over the probe's one
 * socket (UdpChannel), so an old answer is never taken for a new one.
 */
import { HostResolver, SocketProbe, UdpChannel, type Outcome } from "./common.js";
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
  private readonly channel: UdpChannel;

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
    this.channel = new UdpChannel(this.family, link.sourceAddress);
  }

  override async close(): Promise<void> {
    await super.close();
    this.channel.close();
  }

  protected async start(finish: (o: Outcome) => void, onCleanup: (fn: () => void) => void): Promise<void> {
    const address = await this.resolver.resolve();
    let req: ReturnType<typeof buildOptions> | undefined;
    await this.channel.exchange({
      address,
      port: this.port,
      request: (localPort) => {
        req = buildOptions({
          host: this.host,
          port: this.port,
          localAddress: this.link.sourceAddress,
          localPort,
          ...(this.options.user ? { user: this.options.user } : {}),
        });
        return req.text;
      },
      match: (msg) => {
        const r = req && matchOptionsResponse(req, msg); // else garbage, or a response to something else
        return r ? `SIP ${r.status}${r.reason ? ` ${r.reason}` : ""}` : null;
      },
      refusedMeansUp: this.refusedMeansUp,
      finish,
      onCleanup,
    });
  }

}
