// A STUN server on 127.0.0.1 for the tests: answers Binding requests as told (XOR-MAPPED-ADDRESS,
// MAPPED-ADDRESS only, an error, nothing for the first N requests, garbage first).
import { createSocket, type RemoteInfo } from "node:dgram";
import {
  BINDING_REQUEST,
  checkFingerprint,
  decodeMessage,
  encodeBindingError,
  encodeBindingSuccess,
  encodeMessage,
  newTransactionId,
} from "../../../src/wan/public-ip/stun-codec.js";

export interface StunServerBehaviour {
  /** Mapped address to report; default the request's real source. */
  mapped?: { address: string; port: number };
  /** Ignore this many requests before answering. */
  dropFirst?: number;
  /** Answer with MAPPED-ADDRESS only (an RFC 3489 server). */
  plainOnly?: boolean;
  /** Answer with this error instead. */
  error?: { code: number; reason: string };
  /** Before the real answer, send a response for another transaction and some junk. */
  noiseFirst?: boolean;
  /** Never answer. */
  silent?: boolean;
}

export interface FakeStunServer {
  port: number;
  requests: { from: RemoteInfo; transactionId: Buffer; fingerprintOk: boolean | undefined }[];
  close(): Promise<void>;
}

export async function startStunServer(
  b: StunServerBehaviour = {},
  host = "127.0.0.1",
  port = 0,
  onRequest?: (from: RemoteInfo) => void,
): Promise<FakeStunServer> {
  const socket = createSocket("udp4");
  const requests: FakeStunServer["requests"] = [];
  socket.on("message", (msg, from) => {
    const m = decodeMessage(msg);
    if (!m || m.type !== BINDING_REQUEST) return;
    requests.push({ from, transactionId: m.transactionId, fingerprintOk: checkFingerprint(msg, m) });
    onRequest?.(from);
    if (b.silent || requests.length <= (b.dropFirst ?? 0)) return;
    const send = (out: Buffer): void => void socket.send(out, from.port, from.address);
    if (b.noiseFirst) {
      send(Buffer.from("not stun at all"));
      send(encodeBindingSuccess(newTransactionId(), { address: "192.0.2.99", port: 1 }));
      send(encodeMessage(BINDING_REQUEST, m.transactionId, []));
    }
    if (b.error) return send(encodeBindingError(m.transactionId, b.error.code, b.error.reason));
    const mapped = b.mapped ?? { address: from.address, port: from.port };
    send(encodeBindingSuccess(m.transactionId, mapped, b.plainOnly ? { plainMapped: true, xorMapped: false } : { software: "fake-stun" }));
  });
  await new Promise<void>((resolve) => socket.bind(port, host, resolve));
  return {
    port: socket.address().port,
    requests,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
