// Public address through STUN: a Binding request from a UDP socket bound to the link's source
// address (policy routing sends it out through that link), retransmitted a bounded number of times.
import { lookup } from "node:dns/promises";
import { createSocket } from "node:dgram";
import { isIP } from "node:net";
import { encodeBindingRequest, newTransactionId, parseBindingResponse, type TransportAddress } from "./stun-codec.js";

export interface StunQueryOptions {
  /** Give up after this long. Default 3000 ms. */
  readonly timeoutMs?: number;
  /** First retransmission after this long, doubling each time (RFC 5389's RTO). Default 250 ms. */
  readonly initialRtoMs?: number;
  /** Requests sent at most (the first and its retransmissions). Default 4. */
  readonly maxSends?: number;
  readonly signal?: AbortSignal;
  /** SOFTWARE attribute of the request. */
  readonly software?: string;
}

export type StunAnswer =
  | { readonly ok: true; readonly mapped: TransportAddress; readonly via: string; readonly sends: number }
  | { readonly ok: false; readonly error: string; readonly sends: number };

/**
 * Asks one STUN server for the address and port it sees. The socket is bound to `sourceAddress`
 * and connected to the server, so only the server's datagrams reach it; an answer must carry our
 * transaction id (and a right FINGERPRINT when it has one). Never rejects.
 */
export async function stunQuery(host: string, port: number, sourceAddress: string, options: StunQueryOptions = {}): Promise<StunAnswer> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const maxSends = Math.max(1, options.maxSends ?? 4);
  let rto = options.initialRtoMs ?? 250;
  const family = isIP(sourceAddress) === 6 ? 6 : 4;
  let server: string;
  try {
    server = isIP(host) ? host : (await lookup(host, { family })).address;
  } catch (err) {
    return { ok: false, error: `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, sends: 0 };
  }
  const txid = newTransactionId();
  const request = encodeBindingRequest(txid, options.software);
  const socket = createSocket(family === 6 ? "udp6" : "udp4");
  let sends = 0;
  return new Promise<StunAnswer>((resolve) => {
    let done = false;
    let retransmit: NodeJS.Timeout | undefined;
    const finish = (a: { ok: true; mapped: TransportAddress; via: string } | { ok: false; error: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      clearTimeout(retransmit);
      options.signal?.removeEventListener("abort", onAbort);
      try {
        socket.close();
      } catch {
        // closed already
      }
      resolve({ ...a, sends });
    };
    const onAbort = (): void => finish({ ok: false, error: "aborted" });
    const deadline = setTimeout(() => finish({ ok: false, error: `no STUN answer within ${timeoutMs} ms (${sends} request${sends === 1 ? "" : "s"} sent)` }), timeoutMs);
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const send = (): void => {
      if (done) return;
      if (sends >= maxSends) return; // the deadline ends it
      sends++;
      socket.send(request, (err) => {
        if (err) finish({ ok: false, error: `send: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
      });
      retransmit = setTimeout(send, rto);
      rto *= 2;
    };
    socket.on("error", (err: NodeJS.ErrnoException) => finish({ ok: false, error: err.code ?? err.message }));
    socket.on("message", (msg) => {
      const r = parseBindingResponse(msg, txid);
      if (r === null) return; // not our answer
      if (r.ok) finish({ ok: true, mapped: r.mapped, via: r.via });
      else finish({ ok: false, error: r.error });
    });
    socket.bind({ address: sourceAddress, port: 0, exclusive: true }, () => {
      socket.connect(port, server, (err?: Error) => {
        if (err) return finish({ ok: false, error: `connect: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
        send();
      });
    });
  });
}
