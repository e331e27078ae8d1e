// Where a router switches by itself (route.backend "none"), which link carries the office is seen
// from outside: the public address its traffic leaves with, asked through the default route (the
// router's choice) of one STUN server or IP echo at a time, once per interval. The address names
// the link by the addresses each link is known by (its static public address, or the blocks in
// route.links). The daemon takes the watch; the backend (route/none.ts) and the public-ip step use
// the same looks.
import { performance } from "node:perf_hooks";
import { inBlock, parseBlock, type Ipv4Block } from "./public-ip/address.js";
import type { EgressConfig } from "../config/schema/routing.js";
import type { LinkConfig } from "../config/schema/links.js";
import { backoffDelay, backoffPolicy } from "../lib/backoff.js";
import { safeUrl } from "../lib/http.js";
import { askEcho } from "./public-ip/http-echo.js";
import { notPublicReason } from "./public-ip/address.js";
import { stunQuery } from "./public-ip/stun.js";
import type { SourceAnswer } from "./public-ip/types.js";

/** One look at the office's egress. */
export interface EgressSample {
  /** The public address the office's traffic leaves with; null when nothing answered. */
  readonly address: string | null;
  /** The configured link that address belongs to; null when none (or no answer). */
  readonly link: string | null;
  /** How it was learned, or why it could not be: one line for people. */
  readonly detail: string;
}

export interface EgressWatch {
  /** Looks now instead of at the end of the wait (a look in flight is left to finish). */
  lookNow(): void;
  stop(): Promise<void>;
}

/** Any address: the socket follows the default route, which is the router's to choose. */
const ANY = "0.0.0.0";

/** The addresses each link is known by: its static public address and route.links[link].addresses. */
export function linkAddressBlocks(links: readonly LinkConfig[], listed: Readonly<Record<string, { readonly addresses: readonly string[] }>>): Map<string, Ipv4Block[]> {
  const blocks = new Map<string, Ipv4Block[]>();
  for (const link of links) {
    const texts = [...(link.publicIp.method === "static" ? [link.publicIp.address] : []), ...(listed[link.name]?.addresses ?? [])];
    blocks.set(link.name, texts.map((t) => parseBlock(t)).filter((b) => b !== null));
  }
  return blocks;
}

/** The link whose addresses hold `address`, or null. */
export function linkOfAddress(address: string, blocks: ReadonlyMap<string, readonly Ipv4Block[]>): string | null {
  const one = parseBlock(address);
  if (one?.bits !== 32) return null;
  for (const [link, list] of blocks) if (list.some((b) => inBlock(one.base, b))) return link;
  return null;
}

export interface EgressDeps {
  /** Asks one source (a `stun host:port` or an echo URL) through the default route. Never rejects. Default: STUN or HTTP from this host. */
  ask?: (source: EgressSource, timeoutMs: number, signal: AbortSignal) => Promise<SourceAnswer>;
  /** The monotonic clock, ms. */
  now?: () => number;
  random?: () => number;
}

export type EgressSource = { readonly kind: "stun"; readonly host: string; readonly port: number } | { readonly kind: "http"; readonly url: string };

function sourcesOf(config: EgressConfig): EgressSource[] {
  return config.method === "stun" ? config.servers.map((s) => ({ kind: "stun" as const, host: s.host, port: s.port })) : config.urls.map((url) => ({ kind: "http" as const, url }));
}

const sourceName = (s: EgressSource): string => (s.kind === "stun" ? `STUN ${s.host}:${s.port}` : safeUrl(s.url));

/** STUN or an echo from this host, through the default route. */
async function askFromHere(source: EgressSource, timeoutMs: number, signal: AbortSignal): Promise<SourceAnswer> {
  const name = sourceName(source);
  if (source.kind === "http") return { ...(await askEcho(source.url, ANY, { timeoutMs, signal })), source: name };
  const r = await stunQuery(source.host, source.port, ANY, { timeoutMs, signal, initialRtoMs: Math.max(50, Math.floor(timeoutMs / 2)) });
  if (!r.ok) return { source: name, error: r.error };
  const why = notPublicReason(r.mapped.address);
  return why ? { source: name, error: `mapped ${r.mapped.address}, which is ${why}` } : { source: name, address: r.mapped.address };
}

/**
 * Looks at the office's egress: one source at a time, starting with the last one that answered,
 * the next only when it fails. Keeps the latest sample for whoever needs one now (the route step,
 * the public-ip step), and can run as a watch.
 */
export class EgressLooker {
  private readonly sources: EgressSource[];
  private readonly ask: NonNullable<EgressDeps["ask"]>;
  private readonly now: () => number;
  private readonly random: () => number;
  /** The source that answered last: asked first next time. */
  private first = 0;
  private latest: { sample: EgressSample; at: number } | undefined;

  constructor(
    private readonly config: EgressConfig,
    private readonly blocks: ReadonlyMap<string, readonly Ipv4Block[]>,
    deps: EgressDeps = {},
  ) {
    this.sources = sourcesOf(config);
    this.ask = deps.ask ?? askFromHere;
    this.now = deps.now ?? (() => performance.now());
    this.random = deps.random ?? Math.random;
  }

  /** One look now. Never rejects; bounded by the number of sources × timeoutMs. */
  async look(signal: AbortSignal = new AbortController().signal): Promise<EgressSample> {
    const errors: string[] = [];
    for (let i = 0; i < this.sources.length && !signal.aborted; i++) {
      const index = (this.first + i) % this.sources.length;
      const answer = await this.ask(this.sources[index]!, this.config.timeoutMs, signal);
      if (answer.address === undefined) {
        errors.push(`${answer.source}: ${answer.error ?? "no answer"}`);
        continue;
      }
      this.first = index;
      const link = linkOfAddress(answer.address, this.blocks);
      const sample = { address: answer.address, link, detail: `${answer.source} saw ${answer.address}` };
      this.latest = { sample, at: this.now() };
      return sample;
    }
    const sample = { address: null, link: null, detail: errors.join("; ") || "stopped" };
    this.latest = { sample, at: this.now() };
    return sample;
  }

  /** The latest sample when it is younger than an interval, else a look now. */
  async current(): Promise<EgressSample> {
    if (this.latest && this.now() - this.latest.at < this.config.intervalMs) return this.latest.sample;
    return this.look();
  }

  /**
   * Looks once per interval until stopped, and hands every answer to `onSample`; failures only
   * after `downAfter` in a row (one lost packet is no outage). Until then the looks keep their
   * pace: failures come in a row exactly while the router is switching, when the next look
   * matters most. From then on they back off, up to 4 intervals (the office must be seen again
   * soon after the router finds a way out).
   */
  watch(
    onSample: (sample: EgressSample) => void,
    onFailure: (sample: EgressSample, inARow: number) => void = () => undefined,
    /** A callback threw: said, and the watch goes on (it must outlive a bug in what it feeds). */
    onError: (error: unknown) => void = () => undefined,
  ): EgressWatch {
    const stop = new AbortController();
    const interval = this.config.intervalMs;
    const policy = backoffPolicy({ initialMs: interval, maxMs: 4 * interval, factor: 2, jitter: 0.2 });
    let wake: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, ms);
      });
    const hand = (f: () => void): void => {
      try {
        f();
      } catch (error) {
        onError(error);
      }
    };
    const loop = (async () => {
      let failures = 0;
      while (!stop.signal.aborted) {
        const started = this.now();
        const sample = await this.look(stop.signal);
        if (stop.signal.aborted) break;
        if (sample.address !== null) {
          failures = 0;
          hand(() => onSample(sample));
          await sleep(Math.max(0, interval - (this.now() - started)));
        } else {
          failures++;
          hand(() => onFailure(sample, failures));
          if (failures >= this.config.downAfter) hand(() => onSample(sample));
          const delay = failures < this.config.downAfter ? interval : backoffDelay(failures - this.config.downAfter + 1, policy, this.random);
          await sleep(Math.max(0, delay - (this.now() - started)));
        }
      }
    })();
    return {
      lookNow: () => {
        clearTimeout(timer);
        wake?.();
      },
      stop: async () => {
        stop.abort();
        clearTimeout(timer);
        wake?.();
        await loop;
      },
    };
  }
}
