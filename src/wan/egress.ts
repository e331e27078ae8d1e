// Where a router switches by itself (route.backend "none"), which link carries the office is seen
// from outside: the public address its traffic leaves with. The watch that does this is built by
// the egress backend; this is its shape, as the daemon takes it.

/** One look at the office's egress. */
export interface EgressSample {
  /** The public address the office's traffic leaves with; null when nothing answered. */
  readonly address: string | null;
  /** The configured link that address belongs to; null when none (or no answer). */
  readonly link: string | null;
  /** How it was learned, or why it could not be: one line for people. */
  readonly detail: string;
}

export interface EgressWatch {
  stop(): Promise<void>;
}
