// Keeps secrets out of alerts. Alerts carry free text from other steps (an error from a DNS
// provider may quote its own URL with a token in it), so key-based redaction is not enough: every
// string is also scrubbed of the secret values the daemon has read from the config.
import { REDACTED, redactSecrets } from "../config/secrets.js";
import type { Alert } from "./alert.js";

/** Shorter values are not scrubbed: they would match ordinary text and garble the message. */
export const MIN_SCRUBBED_LENGTH = 4;

/** The forms a secret can take in text, longest first so that a longer form is replaced whole. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SCRUBBED_LENGTH) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const form of secretForms(secrets)) out = out.split(form).join(REDACTED);
  return out;
}

function scrubDeep(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === "string") return scrubText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, secrets));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, scrubDeep(child, secrets)]));
}

/** A copy of the alert with secret fields redacted and secret values scrubbed from every string. */
export function sanitizeAlert(alert: Alert, secrets: readonly string[] = []): Alert {
  return scrubDeep(redactSecrets(alert), secrets) as Alert;
}
