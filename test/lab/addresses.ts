// The lab's fixed addressing plan. The recorded Asterisk fixtures assume these values
// (wan1 public 198.51.100.10, wan2 public 203.0.113.10, registrar 192.0.2.60, LAN 192.168.50.0/24),
// so they are constants, not options. Every address exists only inside the lab's namespaces.

export type LinkId = "wan1" | "wan2";
export const LINKS: readonly LinkId[] = ["wan1", "wan2"];

export interface LinkPlan {
  /** The office's interface for this link. */
  ifname: LinkId;
  /** The office's address on it, and its prefix length. */
  address: string;
  prefixLen: number;
  network: string;
  /** The ISP's side of the access link: the office's gateway. */
  gateway: string;
  /** What the internet sees as the source of traffic through this link. */
  publicAddress: string;
  /** The ISP namespace role behind this link. */
  isp: "isp1" | "isp2";
  /** Routing table holding this link's own default route (see enableLinkProbes). */
  table: number;
}

export const LINK_PLAN: Readonly<Record<LinkId, LinkPlan>> = {
  wan1: {
    ifname: "wan1",
    address: "198.51.100.10",
    prefixLen: 30,
    network: "198.51.100.8/30",
    gateway: "198.51.100.9",
    publicAddress: "198.51.100.10", // a real public /30: no NAT at the ISP
    isp: "isp1",
    table: 101,
  },
  wan2: {
    ifname: "wan2",
    address: "100.64.0.2",
    prefixLen: 30,
    network: "100.64.0.0/30",
    gateway: "100.64.0.1",
    publicAddress: "203.0.113.10", // carrier-grade NAT at isp2
    isp: "isp2",
    table: 102,
  },
};

/** Well-known service addresses on the inet namespace (/32 on its loopback). */
export const SERVICES = {
  probe1: "192.0.2.1",
  probe2: "192.0.2.2",
  probe3: "192.0.2.3",
  smtp: "192.0.2.25",
  dns: "192.0.2.53",
  registrar: "192.0.2.60",
  http: "192.0.2.80",
} as const;

export const ADDRESSES = {
  office: { wan1: "198.51.100.10", wan2: "100.64.0.2", lan: "192.168.50.1" },
  lan: { network: "192.168.50.0/24", prefixLen: 24 },
  pbx: { eth0: "192.168.50.10" },
  isp1: { cust: "198.51.100.9", up: "198.51.100.2", uplinkNetwork: "198.51.100.0/30" },
  isp2: { cust: "100.64.0.1", up: "203.0.113.2", nat: "203.0.113.10", uplinkNetwork: "203.0.113.0/30" },
  inet: { isp1: "198.51.100.1", isp2: "203.0.113.1" },
  public: { wan1: "198.51.100.10", wan2: "203.0.113.10" },
  services: SERVICES,
} as const;

export type LabAddresses = typeof ADDRESSES;
