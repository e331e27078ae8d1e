// The few bytes of RFC 1035 a reachability probe needs: one question out, and a check that an
// answer is the response to it. Any response code counts: NXDOMAIN or REFUSED still came back.

export const RCODES: Readonly<Record<number, string>> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
};

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
const CLASS_IN = 1;

/** The labels of a name, without the root; throws on an empty label or one over 63 bytes. */
function labels(name: string): Buffer[] {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (trimmed === "") return [];
  return trimmed.split(".").map((l) => {
    const b = Buffer.from(l, "ascii");
    if (b.length === 0 || b.length > 63) throw new Error(`bad DNS name ${JSON.stringify(name)}`);
    return b;
  });
}

/** The question section (QNAME, QTYPE, QCLASS). */
function question(name: string, qtype: number): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels(name)) parts.push(Buffer.from([l.length]), l);
  parts.push(Buffer.from([0]));
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  parts.push(tail);
  return Buffer.concat(parts);
}

/** A standard query with recursion desired, one question. */
export function encodeQuery(id: number, name: string, qtype = TYPE_A): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  return Buffer.concat([header, question(name, qtype)]);
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
    rcodeName: RCODES[rcode] ?? `rcode ${rcode}`,
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
