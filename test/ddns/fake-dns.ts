// An authoritative DNS server on 127.0.0.1 for the unit tests: A/SRV/NS answers from tables, and
// RFC 2136 updates (A and SRV RRsets) checked with TSIG (our own dns-wire signs and verifies; the lab checks the same
// code against a real BIND).
import { createSocket, type Socket } from "node:dgram";
import { aRdata, CLASS, decodeMessage, encodeMessage, encodeName, normalizeName, OPCODE, readA, readName, readSrv, signTsig, srvRdata, TYPE, verifyTsig, type SrvData, type TsigKey } from "../../src/dns/wire.js";

export interface FakeDnsOptions {
  zone: string;
  /** A records by name. */
  records: Record<string, string[]>;
  /** SRV records by name. */
  srv?: Record<string, SrvData[]>;
  /** The key updates must be signed with; unset: updates are refused. */
  key?: TsigKey;
  /** Name servers of the zone (NS answers) and their addresses (glue / A answers). */
  nameServers?: Record<string, string>;
  /** Force this rcode on the next updates (REFUSED=5, SERVFAIL=2, NOTAUTH=9...). */
  updateRcodes?: number[];
  /** Updates of these names are REFUSED (as an update-policy that does not grant them). */
  refuseNames?: string[];
  /** Answer A queries with the old value this many times after an update (a slow secondary). */
  staleAnswersAfterUpdate?: number;
  /** Drop every datagram. */
  silent?: boolean;
}

export interface FakeDns {
  port: number;
  queries: { type: number; name: string }[];
  updates: { name: string; address: string; ttl: number }[];
  /** SRV RRsets written by updates, one entry per update message. */
  srvUpdates: { name: string; targets: SrvData[]; ttl: number }[];
  options: FakeDnsOptions;
  close(): Promise<void>;
}

export async function startFakeDns(options: FakeDnsOptions): Promise<FakeDns> {
  const socket: Socket = createSocket("udp4");
  const queries: FakeDns["queries"] = [];
  const updates: FakeDns["updates"] = [];
  const srvUpdates: FakeDns["srvUpdates"] = [];
  const srv = (options.srv ??= {});
  let stale = 0;
  let staleValue: string[] = [];
  const zone = normalizeName(options.zone);
  socket.on("message", (raw, from) => {
    if (options.silent) return;
    const reply = (b: Buffer): void => void socket.send(b, from.port, from.address);
    const msg = decodeMessage(raw);
    const q = msg.questions[0]!;
    if (msg.opcode === OPCODE.QUERY) {
      const name = normalizeName(q.name);
      queries.push({ type: q.type, name });
      let answers: { name: string; type: number; class: number; ttl: number; rdata: Buffer }[] = [];
      if (q.type === TYPE.A) {
        const glue = options.nameServers?.[name];
        let values = options.records[name] ?? (glue ? [glue] : []);
        if (stale > 0 && name in options.records) {
          stale--;
          values = staleValue;
        }
        answers = values.map((a) => ({ name, type: TYPE.A, class: CLASS.IN, ttl: 60, rdata: aRdata(a) }));
      } else if (q.type === TYPE.SRV) {
        answers = (srv[name] ?? []).map((t) => ({ name, type: TYPE.SRV, class: CLASS.IN, ttl: 60, rdata: srvRdata(t) }));
      } else if (q.type === TYPE.NS && name === zone) {
        answers = Object.keys(options.nameServers ?? {}).map((ns) => ({ name, type: TYPE.NS, class: CLASS.IN, ttl: 60, rdata: encodeName(ns) }));
      }
      const inZone = name === zone || name.endsWith(`.${zone}`);
      const rcode = !inZone ? 5 : answers.length || name in options.records || name in srv || name === zone ? 0 : 3;
      return reply(encodeMessage({ id: msg.id, qr: true, aa: inZone, rcode, questions: [q], answers }));
    }
    // UPDATE
    const plain = (rcode: number, tsigError?: number): Buffer => {
      const t = msg.additional.at(-1);
      if (tsigError === undefined || !t) return encodeMessage({ id: msg.id, qr: true, opcode: OPCODE.UPDATE, rcode, questions: [q] });
      // An error response carries an unsigned TSIG (empty MAC) with the error (RFC 8945 §5.3.2).
      const alg = readName(raw, t.rdataOffset!).name;
      const fixed = Buffer.alloc(16);
      fixed.writeUInt16BE(0, 0);
      fixed.writeUInt32BE(Math.floor(Date.now() / 1000), 2);
      fixed.writeUInt16BE(300, 6);
      fixed.writeUInt16BE(0, 8); // MAC size 0
      fixed.writeUInt16BE(msg.id, 10);
      fixed.writeUInt16BE(tsigError, 12);
      fixed.writeUInt16BE(0, 14);
      const rdata = Buffer.concat([encodeName(alg), fixed]);
      return encodeMessage({ id: msg.id, qr: true, opcode: OPCODE.UPDATE, rcode, questions: [q], additional: [{ name: t.name, type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, rdata }] });
    };
    const tsig = msg.additional.at(-1);
    if (!options.key || !tsig || tsig.type !== TYPE.TSIG) return reply(plain(5));
    if (normalizeName(tsig.name) !== normalizeName(options.key.name)) return reply(plain(9, 17)); // BADKEY
    const check = verifyTsig(raw, msg, options.key, null);
    if (!check.ok) return reply(plain(9, 16)); // BADSIG
    const forced = options.updateRcodes?.shift();
    const sign = (rcode: number): Buffer =>
      signTsig(encodeMessage({ id: msg.id, qr: true, opcode: OPCODE.UPDATE, rcode, questions: [q] }), options.key!, Date.now() / 1000, { requestMac: check.tsig!.mac }).signed;
    if (forced !== undefined) return reply(sign(forced));
    if (msg.authority.some((rr) => options.refuseNames?.includes(normalizeName(rr.name)))) return reply(sign(5));
    if (normalizeName(q.name) !== zone) return reply(sign(9));
    const written = new Map<string, { targets: SrvData[]; ttl: number }>();
    for (const rr of msg.authority) {
      const name = normalizeName(rr.name);
      if (rr.type === TYPE.SRV) {
        if (rr.class === CLASS.ANY) srv[name] = [];
        else {
          srv[name] = [...(srv[name] ?? []), readSrv(raw, rr)!];
          const w = written.get(name) ?? { targets: [], ttl: rr.ttl };
          w.targets.push(readSrv(raw, rr)!);
          written.set(name, w);
        }
        continue;
      }
      if (rr.class === CLASS.ANY && rr.type === TYPE.A) {
        staleValue = options.records[name] ?? [];
        options.records[name] = [];
      } else if (rr.class === CLASS.IN && rr.type === TYPE.A) {
        const address = readA(rr)!;
        options.records[name] = [...(options.records[name] ?? []), address];
        updates.push({ name, address, ttl: rr.ttl });
      }
    }
    for (const [name, w] of written) srvUpdates.push({ name, ...w });
    stale = options.staleAnswersAfterUpdate ?? 0;
    reply(sign(0));
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    queries,
    updates,
    srvUpdates,
    options,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
