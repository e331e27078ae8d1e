// The Login action: the event mask it may carry, its fields, and how a refusal is reported.

import { AmiActionError, AmiError, AmiLoginError } from "./errors.js";
import type { AmiEventMask } from "./options.js";

/** Checked up front: the classes go into a header line, so anything but a word would corrupt it. */
export function checkEventMask(events: AmiEventMask | null): void {
  if (Array.isArray(events) && !events.every((c) => /^[a-z_]+$/i.test(c))) {
    throw new AmiError("AMI event classes must be words like 'system' or 'call'");
  }
}

/** `null` leaves out `Events:`, so Asterisk applies the user's own read classes. */
export function loginFields(username: string, secret: string, events: AmiEventMask | null): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ["Username", username],
    ["Secret", secret],
  ];
  if (events !== null) fields.push(["Events", typeof events === "string" ? events : events.join(",")]);
  return fields;
}

/** Asterisk's `Response: Error` to Login means bad credentials or ACL: say so; anything else passes. */
export function loginFailure(error: unknown, username: string): unknown {
  return error instanceof AmiActionError ? new AmiLoginError(username, error.amiMessage) : error;
}
