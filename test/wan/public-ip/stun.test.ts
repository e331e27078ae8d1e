import { afterEach, describe, expect, it } from "vitest";
import {
  ATTR,
  BINDING_REQUEST,
  BINDING_SUCCESS,
  checkFingerprint,
  checkMessageIntegrity,
  crc32,
  decodeMessage,
  encodeAddress,
  encodeBindingRequest,
  encodeBindingSuccess,
  findAttribute,
  MAGIC_COOKIE,
  parseBindingResponse,
} from "../../../src/wan/public-ip/stun-codec.js";
import { stunQuery } from "../../../src/wan/public-ip/stun.js";
import { startStunServer, type FakeStunServer } from "./stun-server.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

// RFC 5769 test vectors: §2.2 sample IPv4 response and §2.3 sample IPv6 response, password
// "VOkJxbRl1RmTxUk/WvJxBt", mapped 192.0.2.1 / 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
const PASSWORD = Buffer.from("VOkJxbRl1RmTxUk/WvJxBt");
const TXID = hex("b7e7a701 bc34d686 fa87dfae");
const IPV4_RESPONSE = hex(`
  0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200008 0001a147 e112a643
  00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
  80280004 c07d4c96`);
const IPV6_RESPONSE = hex(`
  01010048 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
  00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
  80280004 c8fb0b4c`);

describe("STUN codec (RFC 5769 test vectors)", () => {
  it("decodes the sample IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853, FINGERPRINT and MESSAGE-INTEGRITY check out", () => {
    const msg = decodeMessage(IPV4_RESPONSE)!;
    expect(msg.type).toBe(BINDING_SUCCESS);
    expect(msg.transactionId).toEqual(TXID);
    expect(msg.attributes.map((a) => a.type)).toEqual([ATTR.SOFTWARE, ATTR.XOR_MAPPED_ADDRESS, ATTR.MESSAGE_INTEGRITY, ATTR.FINGERPRINT]);
    expect(findAttribute(msg, ATTR.SOFTWARE)!.value.toString()).toBe("test vector");
    expect(checkFingerprint(IPV4_RESPONSE, msg)).toBe(true);
    expect(checkMessageIntegrity(IPV4_RESPONSE, msg, PASSWORD)).toBe(true);
    expect(checkMessageIntegrity(IPV4_RESPONSE, msg, Buffer.from("wrong"))).toBe(false);
    expect(parseBindingResponse(IPV4_RESPONSE, TXID)).toEqual({
      ok: true,
      mapped: { family: 4, address: "192.0.2.1", port: 32853 },
      via: "XOR-MAPPED-ADDRESS",
      software: "test vector",
    });
  });

  it("decodes the sample IPv6 response (XORed with cookie and transaction id)", () => {
    const msg = decodeMessage(IPV6_RESPONSE)!;
    expect(checkFingerprint(IPV6_RESPONSE, msg)).toBe(true);
    expect(checkMessageIntegrity(IPV6_RESPONSE, msg, PASSWORD)).toBe(true);
    expect(parseBindingResponse(IPV6_RESPONSE, TXID)).toMatchObject({
      ok: true,
      mapped: { family: 6, address: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853 },
    });
  });

  it("encodes what it decodes: the vectors' XOR-MAPPED-ADDRESS values come out byte for byte", () => {
    expect(encodeAddress({ address: "192.0.2.1", port: 32853 }, TXID, true)).toEqual(hex("0001a147 e112a643"));
    expect(encodeAddress({ address: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853 }, TXID, true)).toEqual(
      hex("0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9"),
    );
  });

  it("builds a Binding request with the magic cookie, the transaction id and a valid FINGERPRINT", () => {
    const req = encodeBindingRequest(TXID, "wanctl/0.1.0");
    expect(req.readUInt16BE(0)).toBe(BINDING_REQUEST);
    expect(req.readUInt16BE(2)).toBe(req.length - 20);
    expect(req.readUInt32BE(4)).toBe(MAGIC_COOKIE);
    expect(req.subarray(8, 20)).toEqual(TXID);
    const msg = decodeMessage(req)!;
    expect(checkFingerprint(req, msg)).toBe(true);
    expect(findAttribute(msg, ATTR.SOFTWARE)!.value.toString()).toBe("wanctl/0.1.0");
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926); // the CRC-32 check value
  });

  it("rejects what is not an answer to our request", () => {
    expect(parseBindingResponse(IPV4_RESPONSE, Buffer.alloc(12))).toBeNull(); // another transaction
    for (let k = 0; k < IPV4_RESPONSE.length; k++) expect(decodeMessage(IPV4_RESPONSE.subarray(0, k))).toBeNull();
    const badFingerprint = Buffer.from(IPV4_RESPONSE);
    badFingerprint[badFingerprint.length - 1] = badFingerprint[badFingerprint.length - 1]! ^ 1;
    expect(parseBindingResponse(badFingerprint, TXID)).toBeNull();
    const topBits = Buffer.from(IPV4_RESPONSE);
    topBits[0] = topBits[0]! | 0x40;
    expect(decodeMessage(topBits)).toBeNull();
    const noCookie = Buffer.from(IPV4_RESPONSE);
    noCookie[4] = 0;
    expect(decodeMessage(noCookie)).toBeNull();
    const overrun = Buffer.from(IPV4_RESPONSE);
    overrun[23] = 200; // SOFTWARE claims 200 bytes
    expect(decodeMessage(overrun)).toBeNull();
    expect(parseBindingResponse(encodeBindingRequest(TXID), TXID)).toBeNull(); // a request
  });

  it("falls back to MAPPED-ADDRESS, and prefers XOR-MAPPED-ADDRESS when both are there", () => {
    const plain = encodeBindingSuccess(TXID, { address: "203.0.113.10", port: 4000 }, { xorMapped: false, plainMapped: true });
    expect(parseBindingResponse(plain, TXID)).toMatchObject({ ok: true, via: "MAPPED-ADDRESS", mapped: { address: "203.0.113.10", port: 4000 } });
    // An ALG that rewrote the plain one must not win.
    const both = encodeBindingSuccess(TXID, { address: "203.0.113.10", port: 4000 }, { plainMapped: true });
    const tampered = Buffer.from(both);
    const m = decodeMessage(tampered)!;
    const plainAttr = findAttribute(m, ATTR.MAPPED_ADDRESS)!;
    tampered[plainAttr.offset + 8 + 3] = 99; // last octet of the plain address
    expect(parseBindingResponse(tampered, TXID)).toBeNull(); // the FINGERPRINT catches it ...
    const noFp = both.subarray(0, both.length - 8);
    noFp.writeUInt16BE(noFp.length - 20, 2);
    noFp[plainAttr.offset + 8 + 3] = 99;
    expect(parseBindingResponse(noFp, TXID)).toMatchObject({ via: "XOR-MAPPED-ADDRESS", mapped: { address: "203.0.113.10" } }); // ... and without one XOR wins
  });
});

describe("STUN client over UDP on 127.0.0.1", () => {
  let server: FakeStunServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("learns the mapped address, asking from the link's source address", async () => {
    server = await startStunServer({ mapped: { address: "203.0.113.10", port: 40000 } });
    const r = await stunQuery("127.0.0.1", server.port, "127.0.0.1", { software: "wanctl/test" });
    expect(r).toMatchObject({ ok: true, mapped: { family: 4, address: "203.0.113.10", port: 40000 }, via: "XOR-MAPPED-ADDRESS", sends: 1 });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.from.address).toBe("127.0.0.1");
    expect(server.requests[0]!.fingerprintOk).toBe(true);
  });

  it("reports the real source it saw (no NAT on loopback)", async () => {
    server = await startStunServer();
    const r = await stunQuery("127.0.0.1", server.port, "127.0.0.1");
    expect(r).toMatchObject({ ok: true, mapped: { address: "127.0.0.1" } });
  });

  it("retransmits with the same transaction id until an answer comes", async () => {
    server = await startStunServer({ dropFirst: 2, mapped: { address: "198.51.100.10", port: 1 } });
    const r = await stunQuery("127.0.0.1", server.port, "127.0.0.1", { initialRtoMs: 20, maxSends: 4, timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: true, sends: 3, mapped: { address: "198.51.100.10" } });
    expect(new Set(server.requests.map((q) => q.transactionId.toString("hex"))).size).toBe(1);
  });

  it("gives up after a bounded number of requests", async () => {
    server = await startStunServer({ silent: true });
    const r = await stunQuery("127.0.0.1", server.port, "127.0.0.1", { initialRtoMs: 10, maxSends: 3, timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, sends: 3 });
    expect(r.ok ? "" : r.error).toMatch(/no STUN answer within 300 ms/);
    expect(server.requests).toHaveLength(3);
  });

  it("ignores junk and other transactions, then takes the real answer", async () => {
    server = await startStunServer({ noiseFirst: true, mapped: { address: "203.0.113.10", port: 2 } });
    const r = await stunQuery("127.0.0.1", server.port, "127.0.0.1");
    expect(r).toMatchObject({ ok: true, mapped: { address: "203.0.113.10" } });
  });

  it("takes MAPPED-ADDRESS from an RFC 3489-style server", async () => {
    server = await startStunServer({ plainOnly: true, mapped: { address: "203.0.113.10", port: 3 } });
    expect(await stunQuery("127.0.0.1", server.port, "127.0.0.1")).toMatchObject({ ok: true, via: "MAPPED-ADDRESS" });
  });

  it("reports an error response", async () => {
    server = await startStunServer({ error: { code: 400, reason: "Bad Request" } });
    expect(await stunQuery("127.0.0.1", server.port, "127.0.0.1")).toMatchObject({ ok: false, error: "STUN error 400 Bad Request" });
  });

  it("fails fast when the source address is not ours, and on abort", async () => {
    server = await startStunServer();
    expect(await stunQuery("127.0.0.1", server.port, "192.0.2.123")).toMatchObject({ ok: false, error: expect.stringMatching(/EADDRNOTAVAIL/) });
    const ac = new AbortController();
    ac.abort();
    expect(await stunQuery("127.0.0.1", server.port, "127.0.0.1", { signal: ac.signal })).toMatchObject({ ok: false, error: "aborted" });
  });
});
