// Secrets in the config: which fields hold them, how to read them, and how to keep them out of
// logs, status output and alerts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SecretRef } from "./schema/common.js";

/** Field names that hold secrets anywhere in the config (the schema uses only these for secrets). */
export const SECRET_KEYS = ["secret", "password", "token", "webhookUrl"] as const;

export const REDACTED = "[redacted]";

export class SecretError extends Error {}

/** Reads a secret's value; `where` names the config path for the error message. */
export function readSecret(ref: SecretRef, where: string, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof ref === "string") return ref;
  let file: string;
  if ("file" in ref) {
    file = ref.file;
  } else {
    const dir = env.CREDENTIALS_DIRECTORY;
    if (!dir) {
      throw new SecretError(`${where}: credential ${JSON.stringify(ref.credential)} needs $CREDENTIALS_DIRECTORY (set by systemd's LoadCredential=), which is not set`);
    }
    file = join(dir, ref.credential);
  }
  try {
    return readFileSync(file, "utf8").replace(/\r?\n$/, "");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new SecretError(`${where}: cannot read the secret file ${file} (${reason})`);
  }
}

/** Paths of the secrets written inline in a config value (for the readable-by-others warning). */
export function inlineSecretPaths(value: unknown, path = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => inlineSecretPaths(item, `${path}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const childPath = path ? `${path}.${key}` : key;
    if ((SECRET_KEYS as readonly string[]).includes(key) && typeof child === "string") return [childPath];
    return inlineSecretPaths(child, childPath);
  });
}

/** A deep copy with every secret field replaced, for status output and alerts. */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item)) as T;
  if (value === null || typeof value !== "object") return value;
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    copy[key] = (SECRET_KEYS as readonly string[]).includes(key) ? REDACTED : redactSecrets(child);
  }
  return copy as T;
}
