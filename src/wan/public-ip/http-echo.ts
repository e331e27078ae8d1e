// Public address from IP echo services ("what is my IP" over HTTP): each one asked at once from
// the link's source address; the address that a majority of the valid answers agree on wins.
import { isIP } from "node:net";
import { httpFetch, safeUrl } from "../../lib/http.js";
import { notPublicReason } from "./address.js";
import type { SourceAnswer } from "./types.js";

export interface HttpEchoOptions {
  /** Each request's deadline. Default 3000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly userAgent?: string;
  /**
   * Asks one URL some other way than a GET from this host: a router fetching it through the link
   * (route.backend "routeros"). Never rejects. Default: askEcho.
   */
  readonly ask?: (url: string) => Promise<SourceAnswer>;
}

/**
 * The address in an echo service's answer: the whole (trimmed) text body is the address, or a JSON
 * object's `ip` field (`?format=json` of several services). Anything else is not an answer.
 */
export function parseEchoBody(body: string): string | null {
  const text = body.trim();
  if (isIP(text)) return text;
  if (text.startsWith("{")) {
    try {
      const ip = (JSON.parse(text) as { ip?: unknown }).ip;
      if (typeof ip === "string" && isIP(ip)) return ip;
    } catch {
      // not JSON either
    }
  }
  return null;
}

/** An echo service's answer read: the public address of the expected family in it, or why it is none. */
export function echoAnswer(source: string, body: string, family: 4 | 6): SourceAnswer {
  const address = parseEchoBody(body);
  if (address === null) return { source, error: `no IP address in the answer ${JSON.stringify(body.slice(0, 40))}` };
  if (isIP(address) !== family) return { source, error: `answered ${address}, not an IPv${family} address` };
  const why = family === 4 ? notPublicReason(address) : null;
  if (why) return { source, error: `answered ${address}, which is ${why}, not a public address` };
  return { source, address };
}

/** Asks one echo service. Never rejects. */
export async function askEcho(url: string, sourceAddress: string, options: HttpEchoOptions = {}): Promise<SourceAnswer> {
  const source = safeUrl(url);
  try {
    const res = await httpFetch({
      url,
      localAddress: sourceAddress,
      timeoutMs: options.timeoutMs ?? 3000,
      maxBodyBytes: 1024,
      headers: { "User-Agent": options.userAgent ?? "wanctl", Accept: "text/plain, application/json;q=0.5" },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (res.status < 200 || res.status > 299) return { source, error: `HTTP ${res.status}` };
    return echoAnswer(source, res.body, isIP(sourceAddress) === 6 ? 6 : 4);
  } catch (err) {
    return { source, error: (err as Error).message.replace(`${source}: `, "") };
  }
}

export interface Consensus {
  readonly address?: string;
  /** Votes for the address, and valid answers in all. */
  readonly votes: number;
  readonly valid: number;
  readonly answers: readonly SourceAnswer[];
  readonly disagreement: readonly SourceAnswer[];
}

/** The address that more than half of the valid answers give, if one does. */
export function majority(answers: readonly SourceAnswer[]): Consensus {
  const valid = answers.filter((a) => a.address !== undefined);
  const counts = new Map<string, number>();
  for (const a of valid) counts.set(a.address!, (counts.get(a.address!) ?? 0) + 1);
  let best: string | undefined;
  let votes = 0;
  for (const [address, n] of counts) {
    if (n > votes) {
      best = address;
      votes = n;
    }
  }
  const address = best !== undefined && votes * 2 > valid.length ? best : undefined;
  const disagreement = address === undefined ? (counts.size > 1 ? valid : []) : valid.filter((a) => a.address !== address);
  return { ...(address !== undefined ? { address } : {}), votes: address ? votes : 0, valid: valid.length, answers, disagreement };
}

/**
 * Asks every URL at once. Stops early (aborting the others) as soon as one address has more than
 * half of all the URLs behind it: the rest could no longer change the outcome.
 */
export async function echoConsensus(urls: readonly string[], sourceAddress: string, options: HttpEchoOptions = {}): Promise<Consensus> {
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const answers: (SourceAnswer | undefined)[] = urls.map(() => undefined);
  const counts = new Map<string, number>();
  await new Promise<void>((resolve) => {
    let pending = urls.length;
    if (pending === 0) resolve();
    urls.forEach((url, i) => {
      void (options.ask ? options.ask(url) : askEcho(url, sourceAddress, { ...options, signal })).then((a) => {
        if (stop.signal.aborted) return; // decided already
        answers[i] = a;
        if (a.address !== undefined) {
          const n = (counts.get(a.address) ?? 0) + 1;
          counts.set(a.address, n);
          if (n * 2 > urls.length) {
            stop.abort();
            return resolve();
          }
        }
        if (--pending === 0) resolve();
      });
    });
  });
  if (!stop.signal.aborted) stop.abort();
  // Sources cut short by an early decision did not answer: they are left out, not counted against.
  return majority(answers.filter((a): a is SourceAnswer => a !== undefined));
}
