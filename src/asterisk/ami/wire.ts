// The AMI wire format, pure: packets and their fields, actions serialised for sending, and the
// parser that frames the server's bytes into a banner, packets and errors. No sockets, no timers.
//
// Wire format (Asterisk main/manager.c): a banner line `Asterisk Call Manager/<version>\r\n`, then
// packets of `Key: Value\r\n` lines, each packet ended by an empty line. Asterisk < 14 answers
// `Command` with `Response: Follows`, a few header lines, then raw CLI text (which may contain empty
// lines and colons) up to `--END COMMAND--`; Asterisk ≥ 14 sends the text as repeated `Output:`.

import { AmiError, AmiParseError } from "./errors.js";

// --- packets and actions ---------------------------------------------------------------------------

/**
 * The `Key: Value` lines of one packet, in wire order. Keys may repeat (`Output:`, `Line-…`,
 * `Variable:`), so this is a list, not a map. Lookups ignore case, as Asterisk's own
 * `astman_get_header` does.
 */
export class AmiFields implements Iterable<readonly [string, string]> {
  readonly entries: ReadonlyArray<readonly [string, string]>;

  constructor(entries: ReadonlyArray<readonly [string, string]>) {
    this.entries = entries;
  }

  /** First value of `key`, or undefined. */
  get(key: string): string | undefined {
    const k = key.toLowerCase();
    for (const [name, value] of this.entries) if (name.toLowerCase() === k) return value;
    return undefined;
  }

  /** Every value of `key`, in order. */
  getAll(key: string): string[] {
    const k = key.toLowerCase();
    const out: string[] = [];
    for (const [name, value] of this.entries) if (name.toLowerCase() === k) out.push(value);
    return out;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Plain object, first value of each key wins (repeated keys: use getAll). */
  toRecord(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of this.entries) if (!(name in out)) out[name] = value;
    return out;
  }

  [Symbol.iterator](): Iterator<readonly [string, string]> {
    return this.entries[Symbol.iterator]();
  }
}

/** One packet as framed by the parser. */
export interface AmiPacket {
  readonly fields: AmiFields;
  /** Only for old-style `Response: Follows` (Asterisk < 14 Command): the text before `--END COMMAND--`, by line. */
  readonly body?: readonly string[];
}

export type AmiResponseStatus = "Success" | "Error" | "Goodbye" | "Follows";

export interface AmiResponse {
  readonly response: AmiResponseStatus;
  readonly message?: string;
  readonly actionId: string;
  readonly fields: AmiFields;
  /** CLI output: the `Output:` values (Asterisk ≥ 14) or the `Follows` body (older); else empty. */
  readonly output: readonly string[];
}

export interface AmiEvent {
  /** The `Event:` value, e.g. `Registry`. */
  readonly event: string;
  readonly actionId?: string;
  readonly fields: AmiFields;
}

/** Result of an action answered with `EventList: start` … `EventList: Complete`. */
export interface AmiListResult {
  readonly response: AmiResponse;
  /** The events between start and the completion event. */
  readonly items: readonly AmiEvent[];
  /** The final event (`…Complete`, carries `ListItems`); undefined if the action was not a list. */
  readonly complete: AmiEvent | undefined;
}

export type AmiFieldValue = string | number | boolean;

/**
 * Fields of an action besides `Action` and `ActionID`. A record (array values repeat the key,
 * undefined values are left out) or an ordered list of pairs.
 */
export type AmiActionFields =
  | Readonly<Record<string, AmiFieldValue | readonly AmiFieldValue[] | undefined>>
  | ReadonlyArray<readonly [string, AmiFieldValue]>;

const RESPONSE_STATUSES: readonly AmiResponseStatus[] = ["Success", "Error", "Goodbye", "Follows"];

export function isResponseStatus(s: string): s is AmiResponseStatus {
  return (RESPONSE_STATUSES as readonly string[]).includes(s);
}

// Printable ASCII without a colon, no leading/trailing space: what AMI keys look like
// (`Line-000000-000001`, `ChanVariable(foo)`); anything else is treated as garbage.
const KEY_RE = /^[\x21-\x39\x3b-\x7e](?:[\x20-\x39\x3b-\x7e]*[\x21-\x39\x3b-\x7e])?$/;

export function isValidKey(key: string): boolean {
  return KEY_RE.test(key);
}

/** Flatten action fields to ordered pairs. */
export function actionFieldPairs(fields: AmiActionFields): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (Array.isArray(fields)) {
    for (const [k, v] of fields as ReadonlyArray<readonly [string, AmiFieldValue]>) out.push([k, String(v)]);
    return out;
  }
  for (const [k, v] of Object.entries(fields as Readonly<Record<string, unknown>>)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) out.push([k, String(item)]);
    else out.push([k, String(v)]);
  }
  return out;
}

/**
 * Serialise an action. Refuses CR/LF in keys and values: one would end the packet early and let
 * the rest be read as another action (header injection). Errors name the key, never the value.
 */
export function serializeAction(action: string, actionId: string, fields: AmiActionFields = {}): string {
  const pairs = actionFieldPairs(fields);
  for (const [k] of pairs) {
    const lower = k.toLowerCase();
    if (lower === "action" || lower === "actionid") {
      throw new AmiError(`AMI field '${k}' is set by the client; pass the action name separately`);
    }
  }
  const all: Array<[string, string]> = [["Action", action], ["ActionID", actionId], ...pairs];
  let text = "";
  for (const [k, v] of all) {
    if (!isValidKey(k)) throw new AmiError(`invalid AMI field name ${JSON.stringify(k.slice(0, 40))}`);
    if (/[\r\n]/.test(v)) throw new AmiError(`AMI field '${k}' contains a line break`);
    text += `${k}: ${v}\r\n`;
  }
  return text + "\r\n";
}

export const REDACTED = "[REDACTED]";

// chan_sip `register => user:secret@host` lines and URIs with a password; `sip:user@host` has no
// password and is left alone.
const USERINFO_SECRET_RE = /(^|[\s=>/])((?!sips?:|tel:)[^\s:@/]+(?:@[^\s:@/]+)?):([^\s@/]+)@/gi;

/**
 * Copy of an action's fields fit for a log line: values of secret-like keys (`Secret`, `*password*`)
 * and the password part of `user:secret@host` values (sip.conf `register =>`) are replaced.
 */
export function redactFields(pairs: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  return pairs.map(([k, v]): [string, string] => {
    if (/secret|passw|token/i.test(k)) return [k, REDACTED];
    return [k, v.replace(USERINFO_SECRET_RE, (_m, pre: string, user: string) => `${pre}${user}:${REDACTED}@`)];
  });
}

// --- the parser ------------------------------------------------------------------------------------
//
// It works on bytes, splitting at LF (a LF byte never occurs inside a UTF-8 sequence) and dropping
// one CR before it, so bare-LF streams work too (Asterisk itself sends a stray bare LF after
// PJSIPRegister's "Unable to retrieve registration entry"). Memory is bounded: the bytes of the
// packet being assembled never exceed `maxPacketSize`; past that the packet is dropped with an error
// and the parser skips to the next packet boundary (an empty line) without keeping what it skips.

export const DEFAULT_MAX_PACKET_SIZE = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const BANNER_PREFIX = "Asterisk Call Manager/";
const END_COMMAND = "--END COMMAND--";
const PREVIEW_BYTES = 16;

export interface AmiParserOptions {
  /** Largest packet accepted, in bytes (lines and their terminators). Default 1 MiB. */
  maxPacketSize?: number;
  /** Expect the banner line first (a server's stream). Default true. */
  expectBanner?: boolean;
}

export type AmiParserOutput =
  | { readonly kind: "banner"; readonly version: string; readonly offset: number }
  | { readonly kind: "packet"; readonly packet: AmiPacket; readonly offset: number; readonly size: number }
  | { readonly kind: "error"; readonly error: AmiParseError };

type Mode =
  | "banner"
  | "headers" // Key: Value lines until an empty line
  | "follows-headers" // after `Response: Follows`: Privilege/ActionID lines
  | "follows-body" // raw CLI text until `--END COMMAND--`
  | "discard" // after an overflow: skip to the next empty line
  | "discard-follows"; // after an overflow inside a Follows body: skip past `--END COMMAND--`

/** Escaped, printable rendering of at most PREVIEW_BYTES bytes. */
export function previewBytes(bytes: Uint8Array): string {
  let out = "";
  const n = Math.min(bytes.length, PREVIEW_BYTES);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0x5c) out += "\\\\";
    else if (b === 0x22) out += '\\"';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return bytes.length > PREVIEW_BYTES ? `${out}…` : out;
}

/** Preview of a line that never shows a `Key: Value` line's value. */
function safeLinePreview(line: Uint8Array): string {
  const colon = line.indexOf(0x3a);
  return previewBytes(colon === -1 ? line : line.subarray(0, colon + 1));
}

export class AmiParser {
  readonly maxPacketSize: number;

  #mode: Mode;
  /** Stream offset of the next byte to be consumed. */
  #offset = 0;

  // The incomplete line at the end of the data seen so far (copied, so no caller chunk is retained).
  #partial: Buffer[] = [];
  #partialLen = 0;

  // The packet being assembled.
  #fields: Array<[string, string]> = [];
  #body: string[] = [];
  #packetStart = -1;
  #packetBytes = 0;

  // Discard state (after an overflow): length of the current skipped line, its first byte, and the
  // last bytes of it (to spot `--END COMMAND--` without buffering the line).
  #skipLineLen = 0;
  #skipFirstByte = -1;
  #skipTail = "";

  constructor(options: AmiParserOptions = {}) {
    const max = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    if (!Number.isInteger(max) || max < 64) throw new RangeError(`maxPacketSize must be an integer ≥ 64, got ${max}`);
    this.maxPacketSize = max;
    this.#mode = options.expectBanner === false ? "headers" : "banner";
  }

  /** Bytes held for the packet being assembled (never more than maxPacketSize). */
  get bufferedBytes(): number {
    return this.#packetBytes + this.#partialLen;
  }

  /** Total bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Feed bytes as they arrive, split anywhere. */
  push(chunk: Uint8Array): AmiParserOutput[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: AmiParserOutput[] = [];
    let pos = 0;
    while (pos < buf.length) {
      const lf = buf.indexOf(LF, pos);
      const end = lf === -1 ? buf.length : lf;

      if (this.#mode === "discard" || this.#mode === "discard-follows") {
        this.#skip(buf, pos, end);
        pos = this.#passSkipped(pos, end, lf);
        if (pos === -1) break;
        continue;
      }

      const lineStart = this.#offset - this.#partialLen;
      const lineLen = this.#partialLen + (end - pos);
      // A non-empty line that would take the packet past the limit: drop the packet. (The empty line
      // that ends a packet is not counted, so a packet of exactly maxPacketSize still fits.)
      // In a Follows body empty lines are content, so they count there.
      const inBody = this.#mode === "follows-headers" || this.#mode === "follows-body";
      const emptySoFar = lineLen === 0 || (lineLen === 1 && (this.#partialLen === 1 ? this.#partial[0]![0] : buf[pos]) === CR);
      if ((inBody || !emptySoFar) && this.#packetBytes + lineLen + (lf === -1 ? 0 : 1) > this.maxPacketSize) {
        out.push(this.#overflow(buf, pos, end, lineStart));
        pos = this.#passSkipped(pos, end, lf);
        if (pos === -1) break;
        continue;
      }

      if (lf === -1) {
        this.#partial.push(Buffer.from(buf.subarray(pos)));
        this.#partialLen += buf.length - pos;
        this.#offset += buf.length - pos;
        break;
      }

      let line = this.#partialLen === 0 ? buf.subarray(pos, lf) : Buffer.concat([...this.#partial, buf.subarray(pos, lf)]);
      this.#partial = [];
      this.#partialLen = 0;
      this.#offset += lf - pos + 1;
      pos = lf + 1;
      const rawLen = line.length + 1;
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      this.#line(line, lineStart, rawLen, out);
    }
    return out;
  }

  /** The stream ended: report a packet left half-done, and reset. */
  end(): AmiParserOutput[] {
    const out: AmiParserOutput[] = [];
    const pending = this.#fields.length > 0 || this.#body.length > 0 || this.#partialLen > 0 || this.#mode.startsWith("follows");
    if (pending) {
      const start = this.#packetStart >= 0 ? this.#packetStart : this.#offset - this.#partialLen;
      const length = this.#offset - start;
      const preview = this.#fields.length > 0 ? `${this.#fields[0]![0]}:` : safeLinePreview(Buffer.concat(this.#partial));
      out.push({
        kind: "error",
        error: new AmiParseError(
          "truncated",
          `AMI stream ended in the middle of a packet starting at byte ${start} (${length} bytes, first bytes "${preview}")`,
          { offset: start, length, preview, actionId: this.#actionId() },
        ),
      });
    }
    this.#resetPacket();
    this.#partial = [];
    this.#partialLen = 0;
    if (this.#mode !== "banner") this.#mode = "headers";
    return out;
  }

  // --- lines -------------------------------------------------------------------------------------

  #line(line: Buffer, lineStart: number, rawLen: number, out: AmiParserOutput[]): void {
    switch (this.#mode) {
      case "banner": {
        if (line.length === 0) return; // stray empty line before the banner: keep waiting for it
        const text = line.toString("utf8");
        this.#mode = "headers";
        if (text.startsWith(BANNER_PREFIX)) {
          out.push({ kind: "banner", version: text.slice(BANNER_PREFIX.length).trim(), offset: lineStart });
          return;
        }
        const preview = safeLinePreview(line);
        out.push({
          kind: "error",
          error: new AmiParseError(
            "banner",
            `expected the AMI banner "${BANNER_PREFIX}<version>" at byte ${lineStart}, got "${preview}"`,
            { offset: lineStart, length: rawLen, preview },
          ),
        });
        this.#headerLine(line, lineStart, rawLen, out);
        return;
      }
      case "headers":
        this.#headerLine(line, lineStart, rawLen, out);
        return;
      case "follows-headers": {
        const kv = splitField(line);
        if (kv && /^(privilege|actionid)$/i.test(kv[0])) {
          this.#fields.push(kv);
          this.#packetBytes += rawLen;
          return;
        }
        this.#mode = "follows-body";
        this.#bodyLine(line, lineStart, rawLen, out);
        return;
      }
      case "follows-body":
        this.#bodyLine(line, lineStart, rawLen, out);
        return;
      default:
        return; // discard modes are handled in push()
    }
  }

  #headerLine(line: Buffer, lineStart: number, rawLen: number, out: AmiParserOutput[]): void {
    if (line.length === 0) {
      // End of packet, or a stray empty line between packets (tolerated: Asterisk sends some).
      if (this.#fields.length > 0) this.#emit(lineStart + rawLen, out);
      return;
    }
    const kv = splitField(line);
    if (!kv) {
      // Skip the line, keep the packet: one bad line must not cost the packets around it.
      const preview = safeLinePreview(line);
      out.push({
        kind: "error",
        error: new AmiParseError(
          "garbage",
          `AMI line at byte ${lineStart} is not "Key: Value" (${rawLen} bytes, first bytes "${preview}"); skipped`,
          { offset: lineStart, length: rawLen, preview },
        ),
      });
      return;
    }
    if (this.#fields.length === 0) {
      this.#packetStart = lineStart;
      if (kv[0].toLowerCase() === "response" && kv[1].trim().toLowerCase() === "follows") this.#mode = "follows-headers";
    }
    this.#fields.push(kv);
    this.#packetBytes += rawLen;
  }

  #bodyLine(line: Buffer, lineStart: number, rawLen: number, out: AmiParserOutput[]): void {
    const text = line.toString("utf8");
    this.#packetBytes += rawLen;
    if (text.endsWith(END_COMMAND)) {
      // The CLI text need not end with a newline: the marker can share a line with it.
      const rest = text.slice(0, -END_COMMAND.length);
      if (rest !== "") this.#body.push(rest.endsWith("\r") ? rest.slice(0, -1) : rest);
      this.#mode = "headers";
      this.#emit(lineStart + rawLen, out);
      return;
    }
    this.#body.push(text);
  }

  #emit(endOffset: number, out: AmiParserOutput[]): void {
    const fields = new AmiFields(this.#fields);
    const packet: AmiPacket = this.#fields.length > 0 && this.#isFollows() ? { fields, body: this.#body } : { fields };
    out.push({ kind: "packet", packet, offset: this.#packetStart, size: endOffset - this.#packetStart });
    this.#resetPacket();
  }

  #isFollows(): boolean {
    const first = this.#fields[0];
    return first !== undefined && first[0].toLowerCase() === "response" && first[1].trim().toLowerCase() === "follows";
  }

  #actionId(): string | undefined {
    for (const [k, v] of this.#fields) if (k.toLowerCase() === "actionid") return v;
    return undefined;
  }

  #resetPacket(): void {
    this.#fields = [];
    this.#body = [];
    this.#packetStart = -1;
    this.#packetBytes = 0;
  }

  // --- overflow and resynchronisation ------------------------------------------------------------

  #overflow(buf: Buffer, pos: number, end: number, lineStart: number): AmiParserOutput {
    const start = this.#packetStart >= 0 ? this.#packetStart : lineStart;
    const first = this.#fields[0];
    const preview = first ? `${first[0]}:` : safeLinePreview(this.#partialLen > 0 ? this.#partial[0]! : buf.subarray(pos, end));
    const actionId = this.#actionId();
    const seen = this.#offset + (end - pos) - start;
    const wasFollows = this.#mode === "follows-body" || this.#mode === "follows-headers";
    const error = new AmiParseError(
      "overflow",
      `AMI packet starting at byte ${start} exceeds the maximum packet size of ${this.maxPacketSize} bytes ` +
        `(first bytes "${preview}"${actionId !== undefined ? `, ActionID ${actionId}` : ""}); skipped to the next packet`,
      { offset: start, length: seen, preview, actionId },
    );
    // Start skipping with the current line (already partly consumed) as the skipped line.
    this.#mode = wasFollows ? "discard-follows" : "discard";
    this.#skipLineLen = 0;
    this.#skipFirstByte = -1;
    this.#skipTail = "";
    for (const p of this.#partial) this.#skip(p, 0, p.length);
    this.#skip(buf, pos, end);
    this.#partial = [];
    this.#partialLen = 0;
    this.#resetPacket();
    return { kind: "error", error };
  }

  #skip(buf: Buffer, from: number, to: number): void {
    if (to <= from) return;
    if (this.#skipLineLen === 0) this.#skipFirstByte = buf[from]!;
    this.#skipLineLen += to - from;
    if (this.#mode === "discard-follows") {
      const keep = END_COMMAND.length + 1;
      this.#skipTail = (this.#skipTail + buf.subarray(Math.max(from, to - keep), to).toString("latin1")).slice(-keep);
    }
  }

  /** Past a skipped piece of a line: where to go on in the chunk, or -1 when the chunk ends first. */
  #passSkipped(pos: number, end: number, lf: number): number {
    this.#offset += end - pos;
    if (lf === -1) return -1;
    this.#offset += 1;
    this.#skipLineEnded();
    return lf + 1;
  }

  /** A skipped line ended: is it the boundary we resynchronise on? */
  #skipLineEnded(): void {
    const empty = this.#skipLineLen === 0 || (this.#skipLineLen === 1 && this.#skipFirstByte === CR);
    const tail = this.#skipTail.endsWith("\r") ? this.#skipTail.slice(0, -1) : this.#skipTail;
    if (this.#mode === "discard" && empty) this.#mode = "headers";
    // After `--END COMMAND--` the empty line that follows is a tolerated stray one.
    else if (this.#mode === "discard-follows" && tail.endsWith(END_COMMAND)) this.#mode = "headers";
    this.#skipLineLen = 0;
    this.#skipFirstByte = -1;
    this.#skipTail = "";
  }
}

/** `Key: Value` → [key, value] (one space after the colon dropped, the rest kept), or null. */
function splitField(line: Buffer): [string, string] | null {
  const colon = line.indexOf(0x3a);
  if (colon <= 0) return null;
  const key = line.subarray(0, colon).toString("latin1");
  if (!isValidKey(key)) return null;
  let valueStart = colon + 1;
  if (line[valueStart] === 0x20) valueStart++;
  // Values keep their own leading spaces: `pjsip show` output lines start with one.
  return [key, line.subarray(valueStart).toString("utf8")];
}
