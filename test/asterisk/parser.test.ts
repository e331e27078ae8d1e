import { describe, expect, it } from "vitest";

import { AmiParser, type AmiParserOutput } from "../../src/asterisk/ami/wire.js";
import { prng, recvStream, transcriptNames } from "./fixtures.js";

// Plain-object view of parser outputs, so runs can be compared with toEqual.
type Flat =
  | { kind: "banner"; version: string; offset: number }
  | { kind: "packet"; fields: Array<[string, string]>; body?: string[]; offset: number; size: number }
  | { kind: "error"; code: string; offset: number; length: number; message: string; actionId?: string };

function flatten(outs: AmiParserOutput[]): Flat[] {
  return outs.map((o): Flat => {
    if (o.kind === "banner") return { kind: "banner", version: o.version, offset: o.offset };
    if (o.kind === "packet") {
      const f: Flat = { kind: "packet", fields: o.packet.fields.entries.map(([k, v]) => [k, v]), offset: o.offset, size: o.size };
      if (o.packet.body) f.body = [...o.packet.body];
      return f;
    }
    const e: Flat = { kind: "error", code: o.error.code, offset: o.error.offset, length: o.error.length, message: o.error.message };
    if (o.error.actionId !== undefined) e.actionId = o.error.actionId;
    return e;
  });
}

function parseChunks(chunks: Uint8Array[], options?: ConstructorParameters<typeof AmiParser>[0]): Flat[] {
  const p = new AmiParser(options);
  const out: AmiParserOutput[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return flatten(out);
}

/** Split `buf` at random positions: mostly small pieces (down to one byte), sometimes large ones. */
function randomSplit(buf: Buffer, rnd: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const r = rnd();
    const n = r < 0.3 ? 1 : r < 0.8 ? 1 + Math.floor(rnd() * 16) : 1 + Math.floor(rnd() * 4096);
    chunks.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return chunks;
}

const packetsOf = (flat: Flat[]) => flat.filter((f): f is Extract<Flat, { kind: "packet" }> => f.kind === "packet");
const errorsOf = (flat: Flat[]) => flat.filter((f): f is Extract<Flat, { kind: "error" }> => f.kind === "error");
const get = (p: { fields: Array<[string, string]> }, key: string) => p.fields.find(([k]) => k === key)?.[1];
const getAll = (p: { fields: Array<[string, string]> }, key: string) => p.fields.filter(([k]) => k === key).map(([, v]) => v);

/** Count packet terminators the simple way (every packet of the recordings ends with CRLF CRLF). */
const countTerminators = (s: string) => s.split("\r\n\r\n").length - 1;

describe("AMI parser on the recorded Asterisk 20 streams", () => {
  const names = transcriptNames();

  it("finds the transcripts", () => {
    expect(names).toEqual(
      expect.arrayContaining(["chan-sip", "channels", "errors", "login-bad", "login-ok", "pjsip-external-address", "registrations"]),
    );
  });

  for (const name of names) {
    it(`${name}: banner first, one packet per terminator, no errors`, () => {
      const stream = recvStream(name);
      const flat = parseChunks([stream]);
      expect(flat[0]).toEqual({ kind: "banner", version: "9.0.0", offset: 0 });
      expect(errorsOf(flat)).toEqual([]);
      const packets = packetsOf(flat);
      expect(packets.length).toBe(countTerminators(stream.toString("utf8")));
      // Offsets/sizes are real positions in the stream.
      for (const p of packets) {
        const text = stream.subarray(p.offset, p.offset + p.size).toString("utf8");
        expect(text.startsWith(`${p.fields[0]![0]}:`)).toBe(true);
        expect(text).toMatch(/\n\r\n$/); // errors.jsonl has one packet ending in a bare LF + CRLF
      }
    });

    it(`${name}: the same packets however the bytes are split (seeded, 200 runs)`, () => {
      const stream = recvStream(name);
      const reference = parseChunks([stream]);
      const rnd = prng(0xa5 + name.length);
      for (let run = 0; run < 200; run++) {
        expect(parseChunks(randomSplit(stream, rnd))).toEqual(reference);
      }
      // And one byte at a time.
      const bytes: Buffer[] = [];
      for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
      expect(parseChunks(bytes)).toEqual(reference);
    });

    it(`${name}: bare LF instead of CRLF gives the same fields`, () => {
      const crlf = packetsOf(parseChunks([recvStream(name)])).map((p) => p.fields);
      const lf = Buffer.from(recvStream(name).toString("utf8").replace(/\r\n/g, "\n"), "utf8");
      const flat = parseChunks(randomSplit(lf, prng(7)));
      expect(errorsOf(flat)).toEqual([]);
      expect(packetsOf(flat).map((p) => p.fields)).toEqual(crlf);
    });
  }

  it("pjsip-external-address: GetConfig lines and `pjsip show transport` Output lines, spaces kept", () => {
    const packets = packetsOf(parseChunks([recvStream("pjsip-external-address")]));
    const g1 = packets.find((p) => get(p, "ActionID") === "g1")!;
    expect(get(g1, "Category-000000")).toBe("transport-udp");
    expect(getAll(g1, "Line-000000-000004")).toEqual(["external_media_address=198.51.100.10"]);
    expect(get(g1, "Line-000000-000005")).toBe("external_signaling_address=198.51.100.10");
    const g2 = packets.find((p) => get(p, "ActionID") === "g2")!;
    expect(get(g2, "Line-000000-000005")).toBe("external_signaling_address=203.0.113.10");

    const c2 = packets.find((p) => get(p, "ActionID") === "c2")!;
    const out = getAll(c2, "Output");
    expect(out[0]).toBe(""); // `Output: ` is an empty line of output
    expect(out[1]).toBe("Transport:  <TransportId........>  <Type>  <cos>  <tos>  <BindAddress....................>");
    expect(out).toContain(" external_media_address      : 203.0.113.10"); // leading space of the CLI text kept
    expect(out).toContain(" ca_list_file                : "); // trailing space kept
    expect(out.at(-1)).toBe("");
    expect(out.length).toBe(37); // Asterisk 20.20.1: no external_signaling_hostname line
  });

  it("errors: the bare LF after `Unable to retrieve registration entry` and the extra empty line are tolerated", () => {
    const flat = parseChunks([recvStream("errors")]);
    expect(errorsOf(flat)).toEqual([]);
    const packets = packetsOf(flat);
    const e6 = packets.find((p) => get(p, "ActionID") === "e6")!;
    expect(get(e6, "Message")).toBe("Unable to retrieve registration entry");
    const e7 = packets.find((p) => get(p, "ActionID") === "e7")!;
    expect(get(e7, "Response")).toBe("Error");
    expect(getAll(e7, "Output")).toEqual(["No such command 'no such command here' (type 'core show help no such' for other possible commands)"]);
  });

  it("chan-sip: tabs and trailing spaces inside Output values survive", () => {
    const packets = packetsOf(parseChunks([recvStream("chan-sip")]));
    const c2 = packets.find((p) => get(p, "ActionID") === "c2")!;
    const out = getAll(c2, "Output");
    expect(out).toContain("  Outbound transport:\t  UDP");
    expect(out).toContain("  Outb. proxy:            <not set> ");
    expect(out).toContain("  Externaddr:             203.0.113.10:0");
    expect(out.at(-1)).toBe("----");
  });

  it("registrations: events with repeated ActionID and events without", () => {
    const packets = packetsOf(parseChunks([recvStream("registrations")]));
    const events = packets.filter((p) => get(p, "Event") === "Registry").map((p) => get(p, "Status"));
    expect(events).toEqual(["Unregistered", "Registered", "Unregistered", "Registered"]);
    const details = packets.filter((p) => get(p, "Event") === "OutboundRegistrationDetail");
    expect(details.map((d) => get(d, "Expiration"))).toEqual(["3600", "120"]);
    expect(get(details[0]!, "ContactHeaderParams")).toBe(""); // `Key: ` with nothing after it
  });
});

describe("AMI parser: old-style `Response: Follows` (Asterisk < 14 Command)", () => {
  const follows =
    "Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n" +
    "Transport:  transport-udp  udp\n\n  external_media_address : 203.0.113.10\nlast line--END COMMAND--\r\n\r\n";

  it("collects the raw body (colons, empty lines) up to --END COMMAND--, then goes on", () => {
    const stream = Buffer.from(`Asterisk Call Manager/2.10.6\r\n${follows}Response: Success\r\nActionID: 8\r\nPing: Pong\r\n\r\n`);
    const reference = parseChunks([stream]);
    expect(errorsOf(reference)).toEqual([]);
    const packets = packetsOf(reference);
    expect(packets).toHaveLength(2);
    expect(packets[0]!.fields).toEqual([
      ["Response", "Follows"],
      ["Privilege", "Command"],
      ["ActionID", "7"],
    ]);
    expect(packets[0]!.body).toEqual(["Transport:  transport-udp  udp", "", "  external_media_address : 203.0.113.10", "last line"]);
    expect(get(packets[1]!, "Ping")).toBe("Pong");
    const rnd = prng(99);
    for (let run = 0; run < 100; run++) expect(parseChunks(randomSplit(stream, rnd))).toEqual(reference);
  });

  it("an empty body and a marker on its own line", () => {
    const s = "Asterisk Call Manager/1.1\r\nResponse: Follows\r\nPrivilege: Command\r\n--END COMMAND--\r\n\r\n" +
      "Response: Follows\r\nPrivilege: Command\r\nActionID: x\r\nline\n--END COMMAND--\r\n\r\n";
    const packets = packetsOf(parseChunks([Buffer.from(s)]));
    expect(packets.map((p) => p.body)).toEqual([[], ["line"]]);
  });
});

describe("AMI parser: garbage", () => {
  const GARBAGE_SEED = 0x5eed;

  /** A line of random bytes: no LF (it is one line), no colon (so it cannot pass for a field). */
  function garbageLine(rnd: () => number): Buffer {
    const n = 1 + Math.floor(rnd() * 40);
    const bytes: number[] = [];
    for (let i = 0; i < n; i++) {
      let b = Math.floor(rnd() * 256);
      if (b === 0x0a || b === 0x3a || (i === 0 && b === 0x0d)) b = 0x41;
      bytes.push(b);
    }
    return Buffer.from([...bytes, 0x0d, 0x0a]);
  }

  for (const name of transcriptNames()) {
    it(`${name}: garbage lines between packets are reported where they are; every packet still parses`, () => {
      const stream = recvStream(name);
      const reference = packetsOf(parseChunks([stream])).map((p) => ({ fields: p.fields, body: p.body }));
      const rnd = prng(GARBAGE_SEED + name.length);
      for (let run = 0; run < 40; run++) {
        // Cut the stream at packet boundaries (after the banner, after each CRLF CRLF) and insert garbage.
        const parts: Buffer[] = [];
        const expectedOffsets: number[] = [];
        let length = 0;
        const text = stream.toString("latin1");
        const cuts = [text.indexOf("\r\n") + 2];
        for (let i = text.indexOf("\r\n\r\n"); i !== -1; i = text.indexOf("\r\n\r\n", i + 4)) cuts.push(i + 4);
        let prev = 0;
        for (const cut of cuts) {
          parts.push(stream.subarray(prev, cut));
          length += cut - prev;
          prev = cut;
          if (rnd() < 0.5) continue;
          const lines = 1 + Math.floor(rnd() * 3);
          for (let l = 0; l < lines; l++) {
            const g = garbageLine(rnd);
            expectedOffsets.push(length);
            parts.push(g);
            length += g.length;
          }
        }
        parts.push(stream.subarray(prev));
        const dirty = Buffer.concat(parts);
        const flat = parseChunks(randomSplit(dirty, rnd));
        expect(packetsOf(flat).map((p) => ({ fields: p.fields, body: p.body }))).toEqual(reference);
        const errors = errorsOf(flat);
        expect(errors.map((e) => e.code)).toEqual(expectedOffsets.map(() => "garbage"));
        expect(errors.map((e) => e.offset)).toEqual(expectedOffsets);
      }
    });
  }

  it("a bad line inside a packet is skipped and the packet kept", () => {
    const s = "Asterisk Call Manager/9.0.0\r\nResponse: Success\r\n\x00\x01\xff junk\r\nActionID: 3\r\n\x7f\xfe: binary key\r\nPing: Pong\r\n\r\n";
    const flat = parseChunks([Buffer.from(s, "latin1")]);
    expect(packetsOf(flat).map((p) => p.fields)).toEqual([
      [
        ["Response", "Success"],
        ["ActionID", "3"],
        ["Ping", "Pong"],
      ],
    ]);
    const errors = errorsOf(flat);
    const at1 = s.indexOf("\x00");
    const at2 = s.indexOf("\x7f");
    expect(errors.map((e) => [e.code, e.offset])).toEqual([
      ["garbage", at1],
      ["garbage", at2],
    ]);
    expect(errors[0]!.message).toContain(`at byte ${at1}`);
    expect(errors[0]!.message).toContain("\\x00\\x01\\xff junk"); // escaped preview
    expect(errors[1]!.message).not.toContain("binary key"); // never the value of a `Key: Value` line
  });

  it("a stream that does not start with the banner is reported, and parsing goes on", () => {
    const flat = parseChunks([Buffer.from("SSH-2.0-OpenSSH_9.6\r\nResponse: Success\r\nActionID: 1\r\n\r\n")]);
    expect(flat[0]).toMatchObject({ kind: "error", code: "banner", offset: 0 });
    expect(packetsOf(flat)).toHaveLength(1);
  });

  it("a stream that ends mid-packet is reported as truncated", () => {
    const flat = parseChunks([Buffer.from("Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nActionID: 9\r\nMess")]);
    expect(errorsOf(flat)).toEqual([expect.objectContaining({ code: "truncated", offset: 29, actionId: "9" })]);
  });
});

describe("AMI parser: bounded buffer", () => {
  const MAX = 4096;
  const head = "Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nActionID: a\r\n\r\n";
  const tail = "Event: Registry\r\nStatus: Registered\r\n\r\nResponse: Success\r\nActionID: b\r\n\r\n";

  function feedBounded(stream: Buffer, rnd: () => number): { flat: Flat[]; maxBuffered: number; maxChunk: number } {
    const p = new AmiParser({ maxPacketSize: MAX });
    const out: AmiParserOutput[] = [];
    let maxBuffered = 0;
    let maxChunk = 0;
    for (const c of randomSplit(stream, rnd)) {
      out.push(...p.push(c));
      maxChunk = Math.max(maxChunk, c.length);
      maxBuffered = Math.max(maxBuffered, p.bufferedBytes);
      // The bound the design promises: limit + one chunk at the very most (in fact: the limit).
      expect(p.bufferedBytes).toBeLessThanOrEqual(MAX + c.length);
    }
    out.push(...p.end());
    return { flat: flatten(out), maxBuffered, maxChunk };
  }

  const cases: Array<[string, string]> = [
    ["many lines", `Event: Huge\r\nActionID: big\r\n${"Output: 0123456789abcdef0123456789abcdef\r\n".repeat(20_000)}\r\n`],
    ["one endless line", `Response: Success\r\nActionID: big\r\nOutput: ${"x".repeat(300_000)}\r\n\r\n`],
    ["a first line with no end in sight", `${"Secret: hunter2".padEnd(200_000, "y")}\r\nMore: z\r\n\r\n`],
    ["an endless Follows body with empty lines in it", `Response: Follows\r\nActionID: big\r\n${"text\n\n".repeat(50_000)}--END COMMAND--\r\n\r\n`],
  ];

  for (const [what, huge] of cases) {
    it(`${what}: one overflow error at the packet's start, memory bounded, parsing resumes`, () => {
      const stream = Buffer.from(head + huge + tail, "latin1");
      const rnd = prng(0xb16 + what.length);
      for (let run = 0; run < 20; run++) {
        const { flat, maxBuffered } = feedBounded(stream, rnd);
        expect(maxBuffered).toBeLessThanOrEqual(MAX);
        const errors = errorsOf(flat);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ code: "overflow", offset: head.length });
        expect(errors[0]!.message).toContain(`starting at byte ${head.length}`);
        expect(errors[0]!.message).toContain(`${MAX} bytes`);
        expect(errors[0]!.message).not.toContain("hunter2");
        if (huge.includes("ActionID: big")) expect(errors[0]!.actionId).toBe("big");
        expect(packetsOf(flat).map((p) => get(p, "ActionID") ?? get(p, "Event"))).toEqual(["a", "Registry", "b"]);
      }
    });
  }

  it("a packet of exactly maxPacketSize bytes fits; one byte more does not", () => {
    const make = (size: number) => {
      const prefix = "Event: Fit\r\nData: ";
      return `${prefix}${"d".repeat(size - prefix.length - 2)}\r\n\r\n`;
    };
    const ok = parseChunks([Buffer.from(`Asterisk Call Manager/9.0.0\r\n${make(MAX)}`)], { maxPacketSize: MAX });
    expect(errorsOf(ok)).toEqual([]);
    expect(packetsOf(ok)).toHaveLength(1);
    const over = parseChunks([Buffer.from(`Asterisk Call Manager/9.0.0\r\n${make(MAX + 1)}`)], { maxPacketSize: MAX });
    expect(errorsOf(over).map((e) => e.code)).toEqual(["overflow"]);
    expect(packetsOf(over)).toHaveLength(0);
  });

  it("the transcripts themselves fit the default limit and a small one", () => {
    for (const name of transcriptNames()) {
      const stream = recvStream(name);
      const biggest = Math.max(64, ...packetsOf(parseChunks([stream])).map((p) => p.size));
      const flat = parseChunks([stream], { maxPacketSize: biggest });
      expect(errorsOf(flat)).toEqual([]);
    }
  });
});
