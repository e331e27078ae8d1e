// The RouterOS API's wire format (the binary API on 8728/8729), pure: no sockets here.
//
// A *word* is its length, encoded in 1 to 5 bytes, then that many bytes. A *sentence* is words
// ended by a zero-length word. The client sends commands (`/ip/route/print`, `=name=value`
// attributes, `?name=value` queries, `.tag=N`); the router answers with sentences that begin with
// a reply word: `!re` (one record), `!done` (the command ended; may carry `=ret=`), `!trap` (an
// error, followed by `!done`), `!fatal` (the router closes the connection; the second word is the
// reason) and, since RouterOS 7.18, `!empty` (the command has no record to return; a `!done`
// follows). Replies carry the command's `.tag`.
//
// Length encoding (most significant byte first):
//   < 0x80           1 byte   len
//   < 0x4000         2 bytes  len | 0x8000
//   < 0x200000       3 bytes  len | 0xC00000
//   < 0x10000000     4 bytes  len | 0xE0000000
//   otherwise        5 bytes  0xF0, then len in 4 bytes
// A first byte of 0xF8 or more is a reserved control byte that no RouterOS sends.
// Words are text; wanctl reads and writes them as UTF-8 (RouterOS itself stores bytes).

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireError";
  }
}

/** The longest word the decoder accepts: a record is a few hundred bytes, a fetched page a few KiB. */
export const MAX_WORD_BYTES = 1 << 20;
/** The most words in one sentence the decoder accepts. */
export const MAX_SENTENCE_WORDS = 4096;

export function encodeLength(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) throw new WireError(`cannot encode a word of ${length} bytes`);
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x4000) return Buffer.from([(length >> 8) | 0x80, length & 0xff]);
  if (length < 0x200000) return Buffer.from([(length >> 16) | 0xc0, (length >> 8) & 0xff, length & 0xff]);
  if (length < 0x10000000) return Buffer.from([(length >>> 24) | 0xe0, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff]);
  return Buffer.from([0xf0, length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff]);
}

export function encodeSentence(words: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const word of words) {
    if (word.length === 0) throw new WireError("a word in a sentence cannot be empty (an empty word ends the sentence)");
    const bytes = Buffer.from(word, "utf8");
    parts.push(encodeLength(bytes.length), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** The length at `offset`: its value and how many bytes encode it, or null when not all are here yet. */
function decodeLength(buf: Buffer, offset: number): { length: number; size: number } | null {
  if (offset >= buf.length) return null;
  const first = buf[offset]!;
  let size: number;
  let length: number;
  if (first < 0x80) return { length: first, size: 1 };
  else if (first < 0xc0) [size, length] = [2, first & 0x3f];
  else if (first < 0xe0) [size, length] = [3, first & 0x1f];
  else if (first < 0xf0) [size, length] = [4, first & 0x0f];
  else if (first === 0xf0) [size, length] = [5, 0];
  else throw new WireError(`control byte 0x${first.toString(16)} where a word length was expected`);
  if (offset + size > buf.length) return null;
  for (let i = 1; i < size; i++) length = length * 256 + buf[offset + i]!;
  return { length, size };
}

/**
 * Turns a byte stream into sentences whatever the chunking: a length or a word may be split across
 * any number of chunks. Bounded: a word longer than MAX_WORD_BYTES or a sentence of more than
 * MAX_SENTENCE_WORDS words is a WireError (a broken or hostile peer must not exhaust memory).
 */
export class SentenceDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  private words: string[] = [];

  push(chunk: Buffer): string[][] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const sentences: string[][] = [];
    let offset = 0;
    for (;;) {
      const head = decodeLength(this.buffer, offset);
      if (!head) break;
      if (head.length > MAX_WORD_BYTES) throw new WireError(`a word of ${head.length} bytes is longer than the ${MAX_WORD_BYTES} accepted`);
      const end = offset + head.size + head.length;
      if (end > this.buffer.length) break;
      if (head.length === 0) {
        // An empty sentence is ignored (the protocol allows it).
        if (this.words.length > 0) sentences.push(this.words);
        this.words = [];
      } else {
        if (this.words.length >= MAX_SENTENCE_WORDS) throw new WireError(`a sentence of more than ${MAX_SENTENCE_WORDS} words`);
        this.words.push(this.buffer.toString("utf8", offset + head.size, end));
      }
      offset = end;
    }
    this.buffer = this.buffer.subarray(offset);
    return sentences;
  }

  /** Bytes or words received that do not make a whole sentence yet. */
  get pending(): boolean {
    return this.buffer.length > 0 || this.words.length > 0;
  }
}

export type ReplyType = "!re" | "!done" | "!trap" | "!fatal" | "!empty";

/** A sentence from the router, read. */
export interface Reply {
  /** The reply word; unknown ones are kept as they are (a newer RouterOS may add some, as 7.18 did). */
  readonly type: ReplyType | string;
  readonly tag?: string;
  /** `=name=value` words (`.id` included); a value may contain `=`. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Words that are not attributes: `!fatal`'s reason. */
  readonly text: readonly string[];
}

export function parseReply(words: readonly string[]): Reply {
  const [type = "", ...rest] = words;
  const attributes: Record<string, string> = {};
  const text: string[] = [];
  let tag: string | undefined;
  for (const word of rest) {
    if (word.startsWith(".tag=")) tag = word.slice(5);
    else if (word.startsWith("=")) {
      const eq = word.indexOf("=", 1);
      if (eq === -1) attributes[word.slice(1)] = "";
      else attributes[word.slice(1, eq)] = word.slice(eq + 1);
    } else text.push(word);
  }
  return { type, ...(tag !== undefined ? { tag } : {}), attributes, text };
}

/** `=name=value` words for a command's arguments. */
export function attributeWords(values: Readonly<Record<string, string>>): string[] {
  return Object.entries(values).map(([name, value]) => `=${name}=${value}`);
}

/** `?name=value` query words: every condition must hold (the API ANDs consecutive queries). */
export function queryWords(where: Readonly<Record<string, string>>): string[] {
  return Object.entries(where).map(([name, value]) => `?${name}=${value}`);
}
