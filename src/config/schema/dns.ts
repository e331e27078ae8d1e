// DNS records that follow the active link's public address, and the providers that hold them.
import { z } from "zod";
import { dnsName, host, httpUrl, port, secret } from "./common.js";

const providerId = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, { error: "expected a short lower-case id such as cloudflare" })
  .describe("Id that records use to name this provider.");

const provider = z
  .discriminatedUnion("type", [
    z.strictObject({
      id: providerId,
      type: z.literal("dyndns2"),
      server: httpUrl().describe("Update URL of the service, e.g. https://members.dyndns.org/nic/update."),
      username: z.string().min(1).describe("Account user name."),
      password: secret().describe("Account password or update key."),
    }),
    z.strictObject({
      id: providerId,
      type: z.literal("cloudflare"),
      token: secret().describe("API token with Zone.DNS edit permission."),
      apiUrl: httpUrl().default("https://api.cloudflare.com/client/v4").describe("API base URL."),
    }),
    z.strictObject({
      id: providerId,
      type: z.literal("rfc2136"),
      server: host().describe("Primary name server that accepts dynamic updates."),
      port: port().default(53).describe("Its DNS port."),
      zone: dnsName().describe("Zone that holds the records."),
      tsig: z
        .strictObject({
          name: z
            .string()
            .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/, { error: "expected a TSIG key name such as wanctl-key" })
            .describe("TSIG key name (as in the server's key statement)."),
          algorithm: z
            .enum(["hmac-sha256", "hmac-sha512", "hmac-sha1", "hmac-md5"])
            .default("hmac-sha256")
            .describe("TSIG algorithm."),
          secret: secret().describe("Base64 TSIG key."),
        })
        .describe("TSIG key that signs the updates."),
    }),
    z.strictObject({
      id: providerId,
      type: z.literal("duckdns"),
      token: secret().describe("DuckDNS account token."),
      server: httpUrl().default("https://www.duckdns.org/update").describe("Update URL."),
    }),
  ])
  .describe("A DNS provider.");

const record = z.strictObject({
  name: dnsName().describe("Host name that must point at the office, e.g. office.example.com."),
  provider: z.string().describe("Id of the provider that holds it."),
  ttl: z.int().min(1).max(86400).default(60).describe("TTL in seconds; keep it low so a switch shows quickly."),
  verify: z
    .boolean()
    .default(true)
    .describe("After an update, ask the authoritative server until it answers the new address."),
});

/** The SIP services an office publishes with SRV records (RFC 3263), and their usual port. */
export const SIP_SERVICES = { "_sip._udp": 5060, "_sip._tcp": 5060, "_sips._tcp": 5061 } as const;
export type SipService = keyof typeof SIP_SERVICES;

/** Provider types that can hold SRV records. */
export const SRV_PROVIDER_TYPES: readonly DnsProviderConfig["type"][] = ["rfc2136", "cloudflare"];

const srvService = z.strictObject({
  service: z
    .enum(Object.keys(SIP_SERVICES) as [SipService, ...SipService[]])
    .describe("The SRV service and protocol: _sip._udp, _sip._tcp or _sips._tcp (SIP over TLS)."),
  port: z
    .int({ error: "expected a port number (an integer 1-65535)" })
    .min(1)
    .max(65535)
    .optional()
    .describe("Port the office answers on through every link; default 5060 for _sip, 5061 for _sips."),
  weight: z
    .int({ error: "expected a whole number 0-65535" })
    .min(0)
    .max(65535)
    .default(0)
    .describe("SRV weight of every target (RFC 2782: it only chooses among targets of one priority, and each link has its own; 0 when there is nothing to choose)."),
});

const sip = z
  .strictObject({
    domain: dnsName().describe("The office's SIP domain, e.g. office.example.com: the SRV records are _sip._udp.<domain> and so on."),
    provider: z.string().describe("Id of the provider that holds the per-link names and the SRV records (rfc2136 or cloudflare for SRV)."),
    hosts: z
      .record(z.string(), dnsName())
      .optional()
      .describe('Each link\'s own host name, by link name, e.g. {"wan1": "wan1.office.example.com"}; kept at that link\'s public address. Default: <link>.<domain> for every link. Only these links are SRV targets.'),
    services: z
      .array(srvService)
      .default([{ service: "_sip._udp", weight: 0 }])
      .describe("SRV records to keep, each listing every link's host name, the active link first. [] for the per-link names alone."),
    ttl: z.int().min(1).max(86400).default(60).describe("TTL in seconds of the per-link names and the SRV records."),
    verify: z.boolean().default(true).describe("After an update, ask the authoritative server until it answers the new value."),
  })
  .describe("The office's SIP domain: a host name per link at that link's own address, and SRV records that list every link, the active one first.");

export const dns = z
  .strictObject({
    providers: z.array(provider).default([]).describe("DNS providers."),
    records: z.array(record).default([]).describe("Records that follow the active link's public address."),
    sip: sip.optional(),
  })
  .describe("Dynamic or failover DNS.");

export type DnsConfig = z.infer<typeof dns>;
export type DnsProviderConfig = z.infer<typeof provider>;
export type SipDnsConfig = z.infer<typeof sip>;

/** The SRV record's port: as configured, or the service's usual one. */
export const srvPort = (s: SipDnsConfig["services"][number]): number => s.port ?? SIP_SERVICES[s.service];

/** Lower case, no trailing dot: how names compare. */
const lowerName = (name: string): string => name.replace(/\.$/, "").toLowerCase();

/** A link name that can be a host name's first label as it is (RFC 1123: no underscore). */
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Each SIP link's host name: as configured, or <link>.<domain>. Links missing here have none. */
export function sipHosts(sip: SipDnsConfig, links: readonly { readonly name: string }[]): { link: string; name: string }[] {
  if (sip.hosts) return links.filter((l) => sip.hosts![l.name] !== undefined).map((l) => ({ link: l.name, name: lowerName(sip.hosts![l.name]!) }));
  return links.map((l) => ({ link: l.name, name: `${l.name}.${lowerName(sip.domain)}` }));
}

/**
 * The checks of dns.sip that need the rest of the config: the provider exists and can hold SRV
 * records, the hosts name configured links, and no name is claimed twice.
 */
export function checkSipReferences(
  config: { readonly dns: DnsConfig; readonly links: readonly { readonly name: string }[] },
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  const sip = config.dns.sip;
  if (!sip) return;
  const provider = config.dns.providers.find((p) => p.id === sip.provider);
  if (!provider) {
    const known = config.dns.providers.map((p) => p.id).join(", ") || "none is configured";
    addIssue(["dns", "sip", "provider"], `no provider with id ${JSON.stringify(sip.provider)} (known: ${known})`);
  } else if (sip.services.length > 0 && !SRV_PROVIDER_TYPES.includes(provider.type)) {
    addIssue(["dns", "sip", "provider"], `provider ${JSON.stringify(sip.provider)} is ${provider.type}, which cannot hold SRV records (use ${SRV_PROVIDER_TYPES.join(" or ")}, or "services": [] for the per-link names alone)`);
  }
  const linkNames = config.links.map((l) => l.name);
  if (sip.hosts) {
    if (Object.keys(sip.hosts).length === 0) addIssue(["dns", "sip", "hosts"], "name at least one link's host, or leave hosts out for <link>.<domain> on every link");
    for (const link of Object.keys(sip.hosts)) {
      if (!linkNames.includes(link)) addIssue(["dns", "sip", "hosts", link], `no link named ${JSON.stringify(link)} (links: ${linkNames.join(", ")})`);
    }
  } else {
    for (const link of linkNames) {
      if (!HOST_LABEL.test(link)) addIssue(["dns", "sip", "domain"], `link name ${JSON.stringify(link)} cannot start a host name (${link}.${sip.domain}): name each link's host in dns.sip.hosts`);
    }
  }
  const seen = new Map<string, string>();
  for (const { link, name } of sipHosts(sip, config.links)) {
    const path = sip.hosts ? ["dns", "sip", "hosts", link] : ["dns", "sip", "domain"];
    const other = seen.get(name);
    if (other) addIssue(path, `host name ${name} is already ${other}'s`);
    else if (config.dns.records.some((r) => lowerName(r.name) === name)) {
      addIssue(path, `host name ${name} is also in dns.records, which points it at the active link: one record cannot follow both`);
    }
    seen.set(name, link);
  }
  const services = new Set<string>();
  sip.services.forEach((s, i) => {
    if (services.has(s.service)) addIssue(["dns", "sip", "services", i, "service"], `service ${s.service} is listed twice`);
    services.add(s.service);
  });
  if (provider?.type === "rfc2136") {
    const zone = lowerName(provider.zone);
    const outside = [lowerName(sip.domain), ...sipHosts(sip, config.links).map((h) => h.name)].filter((n) => n !== zone && !n.endsWith(`.${zone}`));
    if (outside.length) addIssue(["dns", "sip", "provider"], `${outside.join(", ")} ${outside.length === 1 ? "is" : "are"} not in zone ${zone} of provider ${JSON.stringify(provider.id)}`);
  }
}
