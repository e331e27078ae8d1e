// Which IPv4 addresses can be an office's public address. The documentation ranges
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) count as public: the lab uses them as such, and
// a real ISP never hands them out, so treating them as public costs nothing.
import { isIPv4 } from "node:net";

/** Ranges that are never reachable from the Internet, with the words used in messages. */
const NOT_PUBLIC: readonly (readonly [string, number, string])[] = [
  ["0.0.0.0", 8, "\"this network\""],
  ["10.0.0.0", 8, "private (RFC 1918)"],
  ["100.64.0.0", 10, "carrier-grade NAT (RFC 6598)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private (RFC 1918)"],
  ["192.168.0.0", 16, "private (RFC 1918)"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];

export function ipv4ToInt(address: string): number {
  const parts = address.split(".").map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** An IPv4 block: its first address as a number, and its prefix length (32: one address). */
export interface Ipv4Block {
  readonly base: number;
  readonly bits: number;
}

const prefixMask = (bits: number): number => (bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0);

/** An address ("203.0.113.10") or a CIDR block ("203.0.113.0/24"), or null when `text` is neither. */
export function parseBlock(text: string): Ipv4Block | null {
  const m = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?:\/(\d{1,2}))?$/.exec(text);
  if (!m || !isIPv4(m[1]!)) return null;
  const bits = m[2] === undefined ? 32 : Number(m[2]);
  if (bits > 32) return null;
  return { base: (ipv4ToInt(m[1]!) & prefixMask(bits)) >>> 0, bits };
}

/** Whether the address `n` (ipv4ToInt) is in `block`. */
export function inBlock(n: number, block: Ipv4Block): boolean {
  return (n & prefixMask(block.bits)) >>> 0 === block.base;
}

/** Whether two blocks share an address. */
export function blocksOverlap(a: Ipv4Block, b: Ipv4Block): boolean {
  const mask = prefixMask(Math.min(a.bits, b.bits));
  return (a.base & mask) >>> 0 === (b.base & mask) >>> 0;
}

/** Why `address` cannot be a public address, or null when it can. */
export function notPublicReason(address: string): string | null {
  if (!isIPv4(address)) return "not an IPv4 address";
  const n = ipv4ToInt(address);
  for (const [base, bits, what] of NOT_PUBLIC) if (inBlock(n, { base: ipv4ToInt(base), bits })) return what;
  return null;
}

/** An IPv4 address that the Internet can reach (documentation ranges included, see above). */
export function isPublicIPv4(address: string): boolean {
  return notPublicReason(address) === null;
}
