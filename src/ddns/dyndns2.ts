// dyndns2, the update protocol of Dyn and the many services that copied it (No-IP, Google
// Domains, OVH, Strato, ...): GET <server>?hostname=<name>&myip=<ip> with HTTP basic auth and a
// User-Agent that names the client; the body's first word says what happened.
import { readSecret } from "../config/secrets.js";
import { safeUrl } from "../lib/http.js";
import { DdnsError, type CallOptions, type DnsProvider, type ProviderContext, type RecordConfig, type UpdateOutcome } from "./provider.js";
import type { DnsProviderConfig } from "./provider.js";
import { getUpdateService, statusError } from "./text-service.js";

type Dyndns2Config = Extract<DnsProviderConfig, { type: "dyndns2" }>;

/** Answers after which retrying cannot help until the config changes. */
const PERMANENT: Readonly<Record<string, string>> = {
  badauth: "the user name or password is wrong",
  "!donator": "the account cannot use this feature",
  notfqdn: "the host name is not a fully qualified domain name",
  nohost: "the host name does not exist in this account",
  numhost: "too many host names in one update",
  abuse: "the host name is blocked for update abuse",
  badagent: "the service refuses this client (User-Agent or request)",
  "!yours": "the host name belongs to another account",
  badsys: "the system parameter is wrong",
};

/** Answers that mean the service has trouble: wait long before the next try (30 min, per the protocol). */
const SERVICE_TROUBLE: Readonly<Record<string, string>> = {
  "911": "the service has a problem or is in maintenance",
  dnserr: "the service has a DNS error",
};
const SERVICE_TROUBLE_WAIT_MS = 30 * 60_000;

/** What a dyndns2 answer body means (exported for tests). */
export function interpretDyndns2(body: string, name: string): UpdateOutcome | DdnsError {
  const first = body.trim().split(/\r?\n/)[0]?.trim() ?? "";
  const [word = "", ...rest] = first.split(/\s+/);
  const code = word.toLowerCase();
  if (code === "good") return { changed: true, detail: `good ${rest.join(" ")}`.trim() };
  if (code === "nochg") return { changed: false, detail: `nochg ${rest.join(" ")}`.trim() };
  const permanent = PERMANENT[code];
  if (permanent) return new DdnsError(`${name}: ${word}: ${permanent}`, "permanent", { code: word });
  const trouble = SERVICE_TROUBLE[code];
  if (trouble) return new DdnsError(`${name}: ${word}: ${trouble}`, "transient", { code: word, retryAfterMs: SERVICE_TROUBLE_WAIT_MS });
  return new DdnsError(`${name}: unexpected answer ${JSON.stringify(first.slice(0, 60))}`, "transient", { code: "unexpected" });
}

export function createDyndns2Provider(config: Dyndns2Config, ctx: ProviderContext): DnsProvider {
  return {
    id: config.id,
    type: "dyndns2",
    async update(record: RecordConfig, address: string, signal: AbortSignal, call: CallOptions = {}): Promise<UpdateOutcome> {
      const source = call.sourceAddress ?? ctx.sourceAddress;
      const password = readSecret(config.password, `dns.providers[${config.id}].password`, ctx.env);
      const url = new URL(config.server);
      url.searchParams.set("hostname", record.name.replace(/\.$/, ""));
      url.searchParams.set("myip", address);
      const auth = Buffer.from(`${config.username}:${password}`, "utf8").toString("base64");
      const res = await getUpdateService(record.name, url, { Authorization: `Basic ${auth}` }, ctx, signal, source);
      if (res.status === 401 || res.status === 403) {
        // Some services answer badauth with a 401 and no body.
        const said = res.body.trim() ? interpretDyndns2(res.body, record.name) : null;
        if (said instanceof DdnsError) throw said;
        throw new DdnsError(`${record.name}: HTTP ${res.status} from ${safeUrl(config.server)}: the credentials are refused`, "permanent", { code: `http-${res.status}` });
      }
      if (res.status < 200 || res.status > 299) throw statusError(record.name, res, config.server, ctx.now());
      const outcome = interpretDyndns2(res.body, record.name);
      if (outcome instanceof DdnsError) throw outcome;
      return outcome;
    },
  };
}
