import { describe, expect, it } from "vitest";
import { CLASS, decodeMessage, encodeMessage, encodeName, encodeReplaceRRset, OPCODE, readSrv, srvRdata, readName, signTsig, TYPE, verifyTsig } from "../../src/dns/wire.js";

const KEY = { name: "wanctl-key", algorithm: "hmac-sha256" as const, secret: Buffer.from("k".repeat(32)) };

describe("DNS wire format for updates", () => {
  it("builds an RFC 2136 update: zone SOA, delete the A RRset (class ANY), add the A record", () => {
    const m = decodeMessage(encodeReplaceRRset(7, "example.com", "office.example.com", { type: TYPE.A, ttl: 60, rdata: [Buffer.from([203, 0, 113, 10])] }));
    expect(m).toMatchObject({ id: 7, qr: false, opcode: OPCODE.UPDATE, questions: [{ name: "example.com", type: TYPE.SOA, class: CLASS.IN }], answers: [] });
    expect(m.authority.map((r) => [r.name, r.type, r.class, r.ttl, [...r.rdata].join(".")])).toEqual([
      ["office.example.com", TYPE.A, CLASS.ANY, 0, ""],
      ["office.example.com", TYPE.A, CLASS.IN, 60, "203.0.113.10"],
    ]);
  });

  it("replaces an SRV RRset in one update: delete it, then add every target (RFC 2782 RDATA, target uncompressed)", () => {
    const targets = [
      { priority: 10, weight: 0, port: 5060, target: "wan2.office.example.com" },
      { priority: 20, weight: 5, port: 5062, target: "wan1.office.example.com" },
    ];
    const raw = encodeReplaceRRset(8, "example.com", "_sip._udp.office.example.com", { type: TYPE.SRV, ttl: 60, rdata: targets.map(srvRdata) });
    const m = decodeMessage(raw);
    expect(m.authority.map((r) => [r.name, r.type, r.class, r.ttl])).toEqual([
      ["_sip._udp.office.example.com", TYPE.SRV, CLASS.ANY, 0],
      ["_sip._udp.office.example.com", TYPE.SRV, CLASS.IN, 60],
      ["_sip._udp.office.example.com", TYPE.SRV, CLASS.IN, 60],
    ]);
    expect(m.authority[0]!.rdata).toHaveLength(0);
    expect(m.authority.slice(1).map((rr) => readSrv(raw, rr))).toEqual(targets);
    expect([...m.authority[1]!.rdata.subarray(0, 6)]).toEqual([0, 10, 0, 0, 0x13, 0xc4]);
    expect(readSrv(raw, m.authority[0]!)).toBeNull();
  });

  it("reads an SRV target that a server compressed", () => {
    // Header, then "example.com" at 12, then SRV RDATA 10 0 5060 "wan1" + pointer to 12.
    const msg = Buffer.concat([Buffer.alloc(12), encodeName("example.com"), Buffer.from([0, 10, 0, 0, 0x13, 0xc4, 4, ...Buffer.from("wan1"), 0xc0, 12])]);
    const rdataOffset = 12 + 13;
    expect(readSrv(msg, { name: "_sip._udp.example.com", type: TYPE.SRV, class: CLASS.IN, ttl: 60, rdata: msg.subarray(rdataOffset), rdataOffset })).toEqual({ priority: 10, weight: 0, port: 5060, target: "wan1.example.com" });
  });

  it("follows name compression and refuses loops and overruns", () => {
    // "office" + pointer to offset 12 ("example.com")
    const buf = Buffer.concat([Buffer.alloc(12), encodeName("example.com"), Buffer.from([6, ...Buffer.from("office"), 0xc0, 12])]);
    expect(readName(buf, 12 + 13)).toEqual({ name: "office.example.com", next: buf.length });
    const loop = Buffer.concat([Buffer.alloc(12), Buffer.from([0xc0, 12])]);
    expect(() => readName(loop, 12)).toThrow(/loop/);
    expect(() => readName(Buffer.from([5, 97]), 0)).toThrow(/past the message/);
    expect(() => encodeName("a..b")).toThrow(/bad DNS name/);
  });

  it("signs with TSIG and verifies a signed response over the request MAC; tampering or another key fails", () => {
    const req = encodeReplaceRRset(99, "example.com", "office.example.com", { type: TYPE.A, ttl: 60, rdata: [Buffer.from([203, 0, 113, 10])] });
    const { signed, mac } = signTsig(req, KEY, 1_764_000_000);
    const decodedReq = decodeMessage(signed);
    expect(decodedReq.additional).toHaveLength(1);
    expect(decodedReq.additional[0]).toMatchObject({ name: "wanctl-key", type: TYPE.TSIG, class: CLASS.ANY, ttl: 0 });
    expect(verifyTsig(signed, decodedReq, KEY, null)).toMatchObject({ ok: true });

    const body = encodeMessage({ id: 99, qr: true, opcode: OPCODE.UPDATE, questions: decodedReq.questions });
    const response = signTsig(body, KEY, 1_764_000_001, { requestMac: mac }).signed;
    expect(verifyTsig(response, decodeMessage(response), KEY, mac)).toMatchObject({ ok: true });
    expect(verifyTsig(response, decodeMessage(response), KEY, Buffer.alloc(32))).toMatchObject({ ok: false, reason: "bad MAC" });
    const other = { ...KEY, secret: Buffer.from("x".repeat(32)) };
    expect(verifyTsig(response, decodeMessage(response), other, mac)).toMatchObject({ ok: false, reason: "bad MAC" });
    const tampered = Buffer.from(response);
    tampered[3] = tampered[3]! | 5; // rcode REFUSED
    expect(verifyTsig(tampered, decodeMessage(tampered), KEY, mac)).toMatchObject({ ok: false, reason: "bad MAC" });
    expect(verifyTsig(body, decodeMessage(body), KEY, mac)).toMatchObject({ ok: false, reason: "unsigned" });
    const error = signTsig(body, KEY, 1_764_000_001, { error: 17 }).signed;
    expect(verifyTsig(error, decodeMessage(error), KEY, mac)).toMatchObject({ ok: false, reason: "tsig error", detail: "BADKEY" });
  });
});
