// AMI packet types, field access and action serialisation. No I/O here.

import { AmiError } from "./errors.js";

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
