// What the daemon needs from whatever moves the office's default route.

export interface RouteLink {
  name: string;
  interface: string;
  gateway: string;
}

export interface SwitchResult {
  /** The link that carries the default route now. */
  active: string;
  durationMs: number;
}

export interface RouteBackend {
  /**
   * Set when wanctl does not move the routes but follows a router that does (route.backend
   * "none"): `activate` only confirms, and the drill checks every step without moving anything.
   */
  readonly follows?: boolean;
  /** The configured link that carries the default route now, or undefined when none does. */
  activeLink(): Promise<string | undefined>;
  /**
   * Installs what lets `link` be probed while another is active (its own routing). Idempotent;
   * returns the link's source address for the probes. Throws when the link has no address yet.
   */
  prepareLink(link: string): Promise<string>;
  /** The link's own address now (it may change: DHCP, PPP), or undefined when it has none. */
  linkAddress?(link: string): Promise<string | undefined>;
  /** Makes `link` carry the default route. */
  activate(link: string): Promise<SwitchResult>;
  /**
   * Deletes the connection-tracking entries of SIP/RTP flows still tied to the other links (their
   * NAT mapping is stale once `link` carries the traffic); returns how many. Absent: not supported.
   */
  flushStaleFlows?(link: string): Promise<number>;
}
