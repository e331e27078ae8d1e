// The provider adapters of the config, by id, and the User-Agent they send.
import { packageVersion } from "../lib/version.js";
import { createCloudflareProvider } from "./cloudflare.js";
import { createDuckdnsProvider } from "./duckdns.js";
import { createDyndns2Provider } from "./dyndns2.js";
import type { DnsProvider, DnsProviderConfig, ProviderContext } from "./provider.js";
import { createRfc2136Provider } from "./rfc2136.js";

export const DEFAULT_USER_AGENT = (): string => `wanctl/${packageVersion()}`;

/** Builds the provider adapters of the config, by id. */
export function createProviders(providers: readonly DnsProviderConfig[], ctx: ProviderContext): Map<string, DnsProvider> {
  const out = new Map<string, DnsProvider>();
  for (const p of providers) {
    switch (p.type) {
      case "dyndns2":
        out.set(p.id, createDyndns2Provider(p, ctx));
        break;
      case "cloudflare":
        out.set(p.id, createCloudflareProvider(p, ctx));
        break;
      case "rfc2136":
        out.set(p.id, createRfc2136Provider(p, ctx));
        break;
      case "duckdns":
        out.set(p.id, createDuckdnsProvider(p, ctx));
        break;
    }
  }
  return out;
}
