// Record fingerprints: a stop lasts until the record's or its provider's config changes.
import { createHash } from "node:crypto";
import { readSecret, redactSecrets, SECRET_KEYS } from "../config/secrets.js";
import { normalizeName } from "../dns/wire.js";
import { codePointOrder, type DnsProviderConfig, type RecordConfig } from "./provider.js";

/**
 * A digest of a record's config and its provider's, so a stop lasts until either changes. Secrets
 * count (a new password or token must lift a `badauth` stop) but only through this one-way
 * SHA-256: neither they nor their own hashes are stored anywhere.
 */
export function recordFingerprint(record: RecordConfig, provider: DnsProviderConfig | undefined, env?: NodeJS.ProcessEnv): string {
  return fingerprintOf(record, provider, env).digest;
}

/** The fingerprint, and whether every secret could be read (`wanctl status` as a user may not). */
export function fingerprintOf(record: RecordConfig, provider: DnsProviderConfig | undefined, env?: NodeJS.ProcessEnv): { digest: string; complete: boolean } {
  const h = createHash("sha256").update("wanctl-ddns-fingerprint-v1\0");
  h.update(JSON.stringify(canonical({ record: { ...record, name: normalizeName(record.name) }, provider: redactSecrets(provider ?? null) })));
  const secrets: string[] = [];
  const complete = collectSecrets(provider, "", secrets, env);
  for (const s of secrets) h.update("\0").update(s);
  return { digest: h.digest("hex"), complete };
}

function collectSecrets(value: unknown, path: string, out: string[], env?: NodeJS.ProcessEnv): boolean {
  if (value === null || typeof value !== "object") return true;
  let complete = true;
  for (const [key, child] of Object.entries(value as Record<string, unknown>).sort(byKey)) {
    if ((SECRET_KEYS as readonly string[]).includes(key)) {
      try {
        out.push(`${path}.${key}=${readSecret(child as Parameters<typeof readSecret>[0], `${path}.${key}`, env)}`);
      } catch {
        out.push(`${path}.${key}=<unreadable ${JSON.stringify(child)}>`);
        complete = false;
      }
    } else complete = collectSecrets(child, `${path}.${key}`, out, env) && complete;
  }
  return complete;
}

/**
 * Keys in code-point order. Not localeCompare: its order follows the process's locale (in Estonian
 * "zone" sorts before "ttl"), so the daemon and a `wanctl status` run from another shell would
 * disagree on every fingerprint; and its first call loads ICU's collation, half a second here.
 */
const byKey = ([a]: [string, unknown], [b]: [string, unknown]): number => codePointOrder(a, b);

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .sort(byKey)
      .map(([k, v]) => [k, canonical(v)]),
  );
}
