// The API wire format against byte sequences built by hand from the documented encoding.
import { describe, expect, test } from "vitest";
import { encodeLength, encodeSentence, parseReply, SentenceDecoder, WireError } from "../../src/wan/route/routeros/wire.js";

describe("word lengths", () => {
  test.each([
    [0, [0x00]],
    [0x7f, [0x7f]],
    [0x80, [0x80, 0x80]],
    [0x3fff, [0xbf, 0xff]],
    [0x4000, [0xc0, 0x40, 0x00]],
    [0x1fffff, [0xdf, 0xff, 0xff]],
    [0x200000, [0xe0, 0x20, 0x00, 0x00]],
    [0xfffffff, [0xef, 0xff, 0xff, 0xff]],
    [0x10000000, [0xf0, 0x10, 0x00, 0x00, 0x00]],
  ])("%i is encoded as the documented bytes", (length, bytes) => {
    expect([...encodeLength(length)]).toEqual(bytes);
  });

  test("each boundary length decodes back, in a sentence", () => {
    for (const length of [1, 0x7f, 0x80, 0x3fff, 0x4000]) {
      const word = "x".repeat(length);
      const [sentence] = new SentenceDecoder().push(encodeSentence([word, "=a=b"]));
      expect(sentence).toEqual([word, "=a=b"]);
    }
  });
});

describe("sentences", () => {
  // "!re" "=name=wan1" ".tag=7" "" then "!done" ".tag=7" "", written out byte by byte.
  const bytes = Buffer.from([
    0x03, ...Buffer.from("!re"),
    0x0a, ...Buffer.from("=name=wan1"),
    0x06, ...Buffer.from(".tag=7"),
    0x00,
    0x05, ...Buffer.from("!done"),
    0x06, ...Buffer.from(".tag=7"),
    0x00,
  ]);

  test("a command is encoded as its words and a zero-length word", () => {
    expect(encodeSentence(["/ip/route/print", ".tag=1"])).toEqual(
      Buffer.from([0x0f, ...Buffer.from("/ip/route/print"), 0x06, ...Buffer.from(".tag=1"), 0x00]),
    );
  });

  test("whole replies decode in one push", () => {
    expect(new SentenceDecoder().push(bytes)).toEqual([
      ["!re", "=name=wan1", ".tag=7"],
      ["!done", ".tag=7"],
    ]);
  });

  test("a stream split at every possible byte gives the same sentences", () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      const decoder = new SentenceDecoder();
      const got = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      expect(got, `split at byte ${cut}`).toEqual([
        ["!re", "=name=wan1", ".tag=7"],
        ["!done", ".tag=7"],
      ]);
      expect(decoder.pending).toBe(false);
    }
  });

  test("one byte at a time, a two-byte length split between chunks", () => {
    const long = "=comment=" + "y".repeat(200);
    const stream = encodeSentence(["!re", long]);
    const decoder = new SentenceDecoder();
    const got = [...stream].flatMap((b) => decoder.push(Buffer.from([b])));
    expect(got).toEqual([["!re", long]]);
  });

  test("UTF-8 words round-trip", () => {
    expect(new SentenceDecoder().push(encodeSentence(["!re", "=comment=Büro ☎"]))).toEqual([["!re", "=comment=Büro ☎"]]);
  });

  test("a reserved control byte is a protocol error", () => {
    expect(() => new SentenceDecoder().push(Buffer.from([0xf8]))).toThrow(WireError);
  });

  test("a word beyond the bound is refused before it is buffered", () => {
    expect(() => new SentenceDecoder().push(Buffer.from([0xe0, 0x20, 0x00, 0x00]))).toThrow(/longer than/);
  });

  test("an empty word cannot be sent inside a sentence", () => {
    expect(() => encodeSentence(["/x", ""])).toThrow(WireError);
  });
});

describe("replies", () => {
  test("attributes, values with '=', and the tag", () => {
    const reply = parseReply(["!re", "=.id=*1A", "=comment=a=b", "=disabled=", ".tag=4"]);
    expect(reply).toEqual({ type: "!re", tag: "4", attributes: { ".id": "*1A", comment: "a=b", disabled: "" }, text: [] });
  });

  test("!fatal carries its reason as a plain word", () => {
    expect(parseReply(["!fatal", "session terminated on request"])).toEqual({
      type: "!fatal",
      attributes: {},
      text: ["session terminated on request"],
    });
  });

  test("!empty (RouterOS 7.18) is read like any reply word", () => {
    expect(parseReply(["!empty", ".tag=9"])).toMatchObject({ type: "!empty", tag: "9" });
  });
});
