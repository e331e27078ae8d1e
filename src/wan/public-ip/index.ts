// A link's public address, learned through that link (never through whichever link is active):
// sockets are bound to the link's source address and the gateway's per-link policy routing
// (see src/wan/probes/types.ts) sends them out through it.
import { networkInterfaces } from "node:os";
import { performance } from "node:perf_hooks";
import type { LinkConfig } from "../../config/schema/links.js";
import type { LinkBinding } from "../probes/types.js";
import { notPublicReason } from "./address.js";
import { echoConsensus } from "./http-echo.js";
import { stunQuery } from "./stun.js";
import type { PublicIpResult, SourceAnswer } from "./types.js";

export { isPublicIPv4, notPublicReason } from "./address.js";
export { askEcho, echoAnswer, echoConsensus, majority, parseEchoBody } from "./http-echo.js";
export { stunQuery, type StunAnswer, type StunQueryOptions } from "./stun.js";
export type { PublicIpMethod, PublicIpResult, SourceAnswer } from "./types.js";

export interface PublicIpOptions {
  /** Deadline of one source (an echo request, a STUN exchange). Default 3000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** User-Agent of echo requests and SOFTWARE of STUN requests, e.g. `wanctl/0.1.0`. */
  readonly userAgent?: string;
  /** STUN: first retransmission after this long (doubling). Default 250 ms. */
  readonly stunInitialRtoMs?: number;
  /** STUN: requests sent at most per server. Default 4. */
  readonly stunMaxSends?: number;
  /** The IPv4 addresses on an interface (default: os.networkInterfaces()): a router's, or a test's. */
  readonly interfaceAddresses?: (ifname: string) => string[] | undefined;
  /** Asks an echo URL some other way than from this host (a router fetching it through the link); see HttpEchoOptions.ask. */
  readonly askEcho?: (url: string) => Promise<SourceAnswer>;
}

function osInterfaceAddresses(ifname: string): string[] | undefined {
  return networkInterfaces()[ifname]?.filter((a) => a.family === "IPv4").map((a) => a.address);
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 1000) / 1000;

/** Learns one link's public address the way its config says, through the link. Never rejects. */
export async function learnPublicIp(link: LinkConfig, binding: LinkBinding | undefined, options: PublicIpOptions = {}): Promise<PublicIpResult> {
  const t0 = performance.now();
  const method = link.publicIp.method;
  const fail = (detail: string, answers: readonly SourceAnswer[] = [], extra: Partial<PublicIpResult> = {}): PublicIpResult => ({
    link: link.name,
    method,
    ok: false,
    detail,
    answers,
    ...extra,
    durationMs: ms(t0),
  });
  const good = (address: string, detail: string, answers: readonly SourceAnswer[], extra: Partial<PublicIpResult> = {}): PublicIpResult => ({
    link: link.name,
    method,
    ok: true,
    address,
    detail,
    answers,
    ...extra,
    durationMs: ms(t0),
  });
  const cfg = link.publicIp;
  if (cfg.method === "static") return good(cfg.address, `static address ${cfg.address} from the config`, [{ source: "config", address: cfg.address }]);

  if (cfg.method === "interface") {
    const source = `interface ${link.interface}`;
    const addresses = (options.interfaceAddresses ?? osInterfaceAddresses)(link.interface);
    if (!addresses) return fail(`${link.name}: no interface ${link.interface}`, [{ source, error: "no such interface" }]);
    const pub = addresses.find((a) => notPublicReason(a) === null);
    if (pub) return good(pub, `${pub} is on ${link.interface}`, [{ source, address: pub }]);
    const words = addresses.map((a) => `${a} (${notPublicReason(a)})`).join(", ") || "no IPv4 address";
    return fail(`${link.name}: ${link.interface} has ${words}, no public address: the ISP NATs this link, use publicIp "stun" or "http"`, [
      { source, error: words },
    ]);
  }

  if (!binding) return fail(`${link.name}: no source address to ask from (the link has no address yet?)`);
  const base = { timeoutMs: options.timeoutMs ?? 3000, ...(options.signal ? { signal: options.signal } : {}) };

  if (cfg.method === "http") {
    const c = await echoConsensus(cfg.urls, binding.sourceAddress, {
      ...base,
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      ...(options.askEcho ? { ask: options.askEcho } : {}),
    });
    const dis = c.disagreement.length ? { disagreement: c.disagreement } : {};
    const disWords = c.disagreement.map((a) => `${a.source} said ${a.address}`).join(", ");
    if (c.address) {
      return good(c.address, `${c.address} from ${c.votes} of ${c.valid} echo answer${c.valid === 1 ? "" : "s"} through ${link.name}${disWords ? ` (disagreeing: ${disWords})` : ""}`, c.answers, dis);
    }
    const errors = c.answers.filter((a) => a.error).map((a) => `${a.source}: ${a.error}`);
    const why = c.valid === 0 ? `no valid answer from ${cfg.urls.length} echo service${cfg.urls.length === 1 ? "" : "s"}` : `no majority among the answers (${disWords})`;
    return fail(`${link.name}: ${why}${errors.length ? `; ${errors.join("; ")}` : ""}`, c.answers, dis);
  }

  // STUN: every server at once; the first good answer wins (a STUN server has no reason to lie,
  // and a dead one must not hold up a failover).
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const answers: SourceAnswer[] = [];
  const winner = await new Promise<SourceAnswer | undefined>((resolve) => {
    let pending = cfg.servers.length;
    for (const server of cfg.servers) {
      const source = `stun ${server.host}:${server.port}`;
      void stunQuery(server.host, server.port, binding.sourceAddress, {
        timeoutMs: base.timeoutMs,
        signal,
        ...(options.stunInitialRtoMs ? { initialRtoMs: options.stunInitialRtoMs } : {}),
        ...(options.stunMaxSends ? { maxSends: options.stunMaxSends } : {}),
        ...(options.userAgent ? { software: options.userAgent } : {}),
      }).then((r) => {
        if (stop.signal.aborted) return;
        let answer: SourceAnswer;
        if (!r.ok) answer = { source, error: r.error };
        else {
          const why = r.mapped.family === 4 ? notPublicReason(r.mapped.address) : null;
          answer = why ? { source, error: `mapped ${r.mapped.address}, which is ${why}: another NAT sits beyond this one?` } : { source, address: r.mapped.address };
        }
        answers.push(answer);
        if (answer.address !== undefined) {
          stop.abort();
          return resolve(answer);
        }
        if (--pending === 0) resolve(undefined);
      });
    }
  });
  if (!stop.signal.aborted) stop.abort();
  if (winner?.address) return good(winner.address, `${winner.address} from ${winner.source} through ${link.name}`, answers);
  return fail(`${link.name}: no STUN server answered with a public address; ${answers.map((a) => `${a.source}: ${a.error}`).join("; ")}`, answers);
}

/**
 * Every link's public address, each learned through its own link, all at once (for `wanctl ip`
 * and the failover pipeline). `bindings` name each link's source address (by link name); a link
 * without one can still use "static" and "interface".
 */
export async function publicAddresses(
  config: { readonly links: readonly LinkConfig[] },
  bindings: readonly LinkBinding[],
  options: PublicIpOptions = {},
): Promise<PublicIpResult[]> {
  return Promise.all(config.links.map((link) => learnPublicIp(link, bindings.find((b) => b.name === link.name), options)));
}
