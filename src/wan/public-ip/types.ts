// What learning a link's public address gives back, whatever the method.
import type { PublicIpConfig } from "../../config/schema/links.js";

export type PublicIpMethod = PublicIpConfig["method"];

/** One source's answer (an echo URL, a STUN server, an interface). */
export interface SourceAnswer {
  /** The URL, `stun host:port` or `interface wan1`. */
  readonly source: string;
  readonly address?: string;
  readonly error?: string;
}

export interface PublicIpResult {
  /** The link's name. */
  readonly link: string;
  readonly method: PublicIpMethod;
  readonly ok: boolean;
  /** The link's public address, when ok. */
  readonly address?: string;
  /** Plain words: where the address came from, or why there is none. */
  readonly detail: string;
  /** Sources whose answer differs from the address (or, without one, every answer): reported, never hidden. */
  readonly disagreement?: readonly SourceAnswer[];
  /** Every source asked and what it said. */
  readonly answers: readonly SourceAnswer[];
  readonly durationMs: number;
}
