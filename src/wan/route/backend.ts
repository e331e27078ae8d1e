// What the daemon needs from whatever moves the office's default route.

export interface RouteLink {
  name: string;
  interface: string;
  gateway: string;
}

export interface SwitchResult {
  /** The link that carries the default route now. */
  active: string;
  /** Connection-tracking entries of SIP/RTP flows deleted because their NAT mapping went stale. */
  conntrackDeleted: number;
  durationMs: number;
}

export interface RouteBackend {
  /** The configured link that carries the default route now, or undefined when none does. */
  activeLink(): Promise<string | undefined>;
  /**
   * Installs what lets `link` be probed while another is active (its own routing). Idempotent;
   * returns the link's source address for the probes. Throws when the link has no address yet.
   */
  prepareLink(link: string): Promise<string>;
  /** Makes `link` carry the default route and flushes the flows that still use the old one. */
  activate(link: string): Promise<SwitchResult>;
}
