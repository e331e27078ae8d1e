// AMI wire helpers of the simulator: how Asterisk's manager.c frames what it sends, and a strict
// reader of what clients send. Kept independent of src/asterisk/ami on purpose.

export type Pairs = Array<[string, string]>;

/** One packet: `Key: Value\r\n` lines and the empty line. Values are written as given (no checks). */
export function packet(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
}

export class ClientAction {
  readonly pairs: Pairs;
  constructor(pairs: Pairs) {
    this.pairs = pairs;
  }

  /** astman_get_header(): first match, case-insensitive, leading blanks of the value skipped. */
  get(key: string): string {
    const k = key.toLowerCase();
    for (const [name, value] of this.pairs) if (name.toLowerCase() === k) return value.replace(/^[ \t]+/, "");
    return "";
  }

  has(key: string): boolean {
    const k = key.toLowerCase();
    return this.pairs.some(([name]) => name.toLowerCase() === k);
  }

  get action(): string {
    return this.get("Action");
  }

  get actionId(): string {
    return this.get("ActionID");
  }
}

/**
 * Frames client actions as manager.c does: lines up to CRLF (a bare LF is accepted too), an empty
 * line ends the action; `Key: Value` split at the first colon. Lines without a colon are kept with
 * an empty key (Asterisk stores them and no lookup ever matches them).
 */
export class ActionReader {
  #buffer = "";
  #lines: Pairs = [];
  /** Bound on one action, like Asterisk's inbuf/header limits (generous). */
  readonly maxBytes: number;

  constructor(maxBytes = 64 * 1024) {
    this.maxBytes = maxBytes;
  }

  push(text: string): { actions: ClientAction[]; overflow: boolean } {
    this.#buffer += text;
    const actions: ClientAction[] = [];
    for (let nl = this.#buffer.indexOf("\n"); nl !== -1; nl = this.#buffer.indexOf("\n")) {
      let line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (this.#lines.length > 0) actions.push(new ClientAction(this.#lines));
        this.#lines = [];
        continue;
      }
      const colon = line.indexOf(":");
      this.#lines.push(colon === -1 ? ["", line] : [line.slice(0, colon).trim(), line.slice(colon + 1)]);
    }
    const overflow = this.#buffer.length > this.maxBytes || this.#lines.length > 1024;
    return { actions, overflow };
  }
}

/** manager.c permission classes. */
export const PERMS = ["system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf", "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message"] as const;

/** get_perm(): a comma list of class names; `all` gives every class. */
export function parsePerms(value: string): Set<string> {
  const words = value.split(",").map((w) => w.trim().toLowerCase());
  if (words.includes("all")) return new Set(PERMS);
  return new Set(words.filter((w) => (PERMS as readonly string[]).includes(w)));
}

/** Events: header: on/yes/true → all, off/no/false → none, else classes. */
export function parseEventMask(value: string): Set<string> {
  const v = value.trim().toLowerCase();
  if (["on", "yes", "true", "1", "all"].includes(v)) return new Set(PERMS);
  if (["off", "no", "false", "0", "none"].includes(v)) return new Set();
  return parsePerms(v);
}

/** Timestamp as Asterisk prints it: seconds with six decimals. */
export function amiTimestamp(ms = Date.now()): string {
  return (ms / 1000).toFixed(6);
}

/** IPv4 `a.b.c.d/mask` (dotted or prefix length) membership. */
export function inNetwork(address: string, network: string): boolean {
  const [net, mask] = network.split("/");
  const toInt = (a: string): number | null => {
    const parts = a.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
    return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  };
  const a = toInt(address);
  const n = toInt(net ?? "");
  if (a === null || n === null) return false;
  let m: number;
  if (mask === undefined) m = 0xffffffff;
  else if (/^\d+$/.test(mask)) m = Number(mask) === 0 ? 0 : (0xffffffff << (32 - Number(mask))) >>> 0;
  else {
    const mi = toInt(mask);
    if (mi === null) return false;
    m = mi;
  }
  return (a & m) >>> 0 === (n & m) >>> 0;
}

/** `192.168.50.0/24` → `192.168.50.0/255.255.255.0`, as `pjsip show transport` prints local_net. */
export function dottedNetwork(network: string): string {
  const [net, mask] = network.split("/");
  if (mask === undefined || !/^\d+$/.test(mask)) return network;
  const m = Number(mask) === 0 ? 0 : (0xffffffff << (32 - Number(mask))) >>> 0;
  return `${net}/${[24, 16, 8, 0].map((s) => (m >>> s) & 255).join(".")}`;
}
