// The few bytes of RFC 1035 a reachability probe needs: one question out, and a check that an
// answer is the response to it. Any response code counts: NXDOMAIN or REFUSED still came back.
// The message codec itself is shared with the DNS updates (src/dns/wire.ts).
import { encodeQuery as encodeDnsQuery, rcodeName, TYPE } from "../../dns/wire.js";

export const TYPE_A = TYPE.A;
export const TYPE_AAAA = TYPE.AAAA;

/** A standard query with recursion desired, one question. */
export function encodeQuery(id: number, name: string, qtype: number = TYPE_A): Buffer {
  return encodeDnsQuery(id & 0xffff, name, qtype, true);
}

export interface DnsResponseInfo {
  readonly id: number;
  readonly rcode: number;
  readonly rcodeName: string;
  readonly answers: number;
  readonly truncated: boolean;
}

/**
 * The response to `query` in `msg`, or null when `msg` is not one: too short, not a response (QR),
 * another ID, or (when the server echoed a question, as servers do) another question. Names
 * compare case-insensitively (resolvers may randomise case).
 */
export function matchResponse(query: Buffer, msg: Buffer): DnsResponseInfo | null {
  if (msg.length < 12 || query.length < 12) return null;
  const id = msg.readUInt16BE(0);
  if (id !== query.readUInt16BE(0)) return null;
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) === 0) return null; // a query, not a response
  if (((flags >> 11) & 0xf) !== 0) return null; // not a standard query's answer
  const qdcount = msg.readUInt16BE(4);
  if (qdcount > 1) return null;
  if (qdcount === 1) {
    const ours = query.subarray(12);
    const theirs = msg.subarray(12, 12 + ours.length);
    if (theirs.length !== ours.length || !sameQuestion(ours, theirs)) return null;
  }
  const rcode = flags & 0xf;
  return {
    id,
    rcode,
    rcodeName: rcodeName(rcode),
    answers: msg.readUInt16BE(6),
    truncated: (flags & 0x0200) !== 0,
  };
}

/**
 * The same question: equal length bytes, QTYPE and QCLASS; labels equal up to ASCII case. (The
 * first name of a message cannot be compressed: there is nothing before it to point to.)
 */
function sameQuestion(ours: Buffer, theirs: Buffer): boolean {
  let i = 0;
  for (;;) {
    const len = ours[i];
    if (len === undefined || theirs[i] !== len) return false;
    i++;
    if (len === 0) break;
    for (let j = 0; j < len; j++, i++) {
      if (lower(ours[i]) !== lower(theirs[i])) return false;
    }
  }
  return ours.subarray(i).equals(theirs.subarray(i));
}

const lower = (c: number | undefined): number | undefined => (c !== undefined && c >= 0x41 && c <= 0x5a ? c + 32 : c);
