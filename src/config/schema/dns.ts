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

export const dns = z
  .strictObject({
    providers: z.array(provider).default([]).describe("DNS providers."),
    records: z.array(record).default([]).describe("Records that follow the active link's public address."),
  })
  .describe("Dynamic or failover DNS.");

export type DnsConfig = z.infer<typeof dns>;
export type DnsProviderConfig = z.infer<typeof provider>;
