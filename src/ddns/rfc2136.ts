// RFC 2136 dynamic update signed with TSIG (RFC 8945), for BIND, Knot, PowerDNS and the like.
//
// Built here on node:crypto rather than by driving nsupdate:
// - the TSIG secret never leaves the process: no `-y alg:name:secret` on a command line (visible
//   in `ps`), no key file to write, guard and remove;
// - the answer is read exactly (rcode, the TSIG error BADKEY/BADSIG/BADTIME, whether the
//   response's own signature verifies) instead of parsed from nsupdate's prose;
// - the update leaves from the active link's source address like every other DNS exchange here;
// - the gateway needs no bind9-dnsutils.
// The message is small: zone SOA, delete the name's A (or SRV) RRset, add the new records
// (idempotent, so a retransmission or a retry is harmless; the server applies all or nothing).
// Tested against a real BIND in the lab.
import { randomInt } from "node:crypto";
import { readSecret } from "../config/secrets.js";
import { DnsExchangeError, dnsExchange, queryA, querySrv } from "./dns-client.js";
import { aRdata, decodeMessage, encodeReplaceRRset, normalizeName, rcodeName, signTsig, srvRdata, TSIG_ERRORS, TYPE, verifyTsig, type RRsetInit, type TsigKey } from "../dns/wire.js";
import { DdnsError, type CallOptions, type DnsProvider, type ProviderContext, type RecordConfig, srvWords, type SrvData, type UpdateOutcome } from "./provider.js";
import type { DnsProviderConfig } from "./provider.js";

type Rfc2136Config = Extract<DnsProviderConfig, { type: "rfc2136" }>;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9, NOTZONE: 10 } as const;

export function inZone(name: string, zone: string): boolean {
  const n = normalizeName(name);
  const z = normalizeName(zone);
  return n === z || n.endsWith(`.${z}`);
}

export function createRfc2136Provider(config: Rfc2136Config, ctx: ProviderContext): DnsProvider {
  const where = config.port === 53 ? config.server : `${config.server}:${config.port}`;
  const key = (): TsigKey => {
    const secret = readSecret(config.tsig.secret, `dns.providers[${config.id}].tsig.secret`, ctx.env);
    const bytes = Buffer.from(secret.trim(), "base64");
    if (bytes.length === 0) throw new DdnsError(`TSIG key '${config.tsig.name}': the secret is not base64`, "permanent", { code: "badsecret" });
    return { name: config.tsig.name, algorithm: config.tsig.algorithm, secret: bytes };
  };
  const exchangeOpts = (signal: AbortSignal, call: CallOptions) => {
    const source = call.sourceAddress ?? ctx.sourceAddress;
    return { port: config.port, timeoutMs: ctx.requestTimeoutMs, signal, ...(source ? { sourceAddress: source } : {}) };
  };

  /** Replaces the name's RRset with one signed update; `what` says the new records in words. */
  async function replace(record: RecordConfig, rrset: RRsetInit, what: string, signal: AbortSignal, call: CallOptions): Promise<UpdateOutcome> {
    const name = normalizeName(record.name);
    if (!inZone(name, config.zone)) {
      throw new DdnsError(`${name} is not in zone ${normalizeName(config.zone)} (provider ${config.id})`, "permanent", { code: "NOTZONE" });
    }
    const tsigKey = key();
    const unsigned = encodeReplaceRRset(randomInt(0x10000), normalizeName(config.zone), name, rrset);
    const { signed, mac } = signTsig(unsigned, tsigKey, ctx.now() / 1000);
    let raw: Buffer;
    try {
      raw = await dnsExchange(config.server, signed, exchangeOpts(signal, call));
    } catch (err) {
      const e = err as DnsExchangeError;
      throw new DdnsError(`${name}: update to ${where}: ${e.message}`, "transient", { code: e instanceof DnsExchangeError ? e.kind : "network" });
    }
    let msg;
    try {
      msg = decodeMessage(raw);
    } catch (err) {
      throw new DdnsError(`${name}: malformed answer from ${where}: ${(err as Error).message}`, "transient", { code: "malformed" });
    }
    const check = verifyTsig(raw, msg, tsigKey, mac);
    if (!check.ok && check.reason === "tsig error") {
      const tsigError = TSIG_ERRORS[check.error!] ?? `TSIG error ${check.error}`;
      if (tsigError === "BADTIME") {
        throw new DdnsError(`TSIG time of key '${config.tsig.name}' rejected by ${where} for ${name} (BADTIME): the clocks differ by more than 5 minutes`, "transient", { code: tsigError });
      }
      throw new DdnsError(`TSIG key '${config.tsig.name}' rejected by ${where} for ${name} (${tsigError})`, "permanent", { code: tsigError });
    }
    const rc = msg.rcode;
    if (rc === RCODE.NOERROR) {
      if (!check.ok) {
        throw new DdnsError(`${name}: ${where} answered NOERROR but its answer is not authenticated (${check.detail})`, "transient", { code: "unsigned" });
      }
      return { changed: true, detail: `${where} accepted ${what} ttl ${record.ttl} in zone ${normalizeName(config.zone)}` };
    }
    const rn = rcodeName(rc);
    if (rc === RCODE.NOTAUTH) throw new DdnsError(`${name}: ${where} is not authoritative for zone ${normalizeName(config.zone)} (NOTAUTH)`, "permanent", { code: rn });
    if (rc === RCODE.REFUSED) {
      throw new DdnsError(`${name}: update refused by ${where} (REFUSED): does its allow-update / update-policy grant key '${config.tsig.name}' this name?`, "permanent", { code: rn });
    }
    if (rc === RCODE.NOTZONE || rc === RCODE.FORMERR || rc === RCODE.NOTIMP) throw new DdnsError(`${name}: ${where} answered ${rn}`, "permanent", { code: rn });
    throw new DdnsError(`${name}: ${where} answered ${rn}`, "transient", { code: rn });
  }

  /** A query's answer, or an error when the server answers neither with data nor NXDOMAIN. */
  const answered = <T extends { rcode: number; rcodeName: string }>(r: T, name: string): T => {
    if (r.rcode !== 0 && r.rcodeName !== "NXDOMAIN") throw new Error(`${where} answered ${r.rcodeName} for ${name}`);
    return r;
  };

  return {
    id: config.id,
    type: "rfc2136",
    authoritative: () => ({ server: config.server, port: config.port }),

    update: (record, address, signal, call = {}) => replace(record, { type: TYPE.A, ttl: record.ttl, rdata: [aRdata(address)] }, `A ${address}`, signal, call),

    updateSrv: (record, targets, signal, call = {}) =>
      replace(record, { type: TYPE.SRV, ttl: record.ttl, rdata: targets.map(srvRdata) }, `SRV ${targets.map(srvWords).join(", ")}`, signal, call),

    async current(record: RecordConfig, signal: AbortSignal, call: CallOptions = {}): Promise<string | null> {
      return answered(await queryA(config.server, record.name, exchangeOpts(signal, call)), record.name).addresses[0] ?? null;
    },

    async currentSrv(record: RecordConfig, signal: AbortSignal, call: CallOptions = {}): Promise<SrvData[]> {
      return answered(await querySrv(config.server, record.name, exchangeOpts(signal, call)), record.name).records;
    },
  };
}
