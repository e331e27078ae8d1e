// Building blocks shared by the config sections: addresses, ports, durations and secrets.
import { isIP } from "node:net";
import { z } from "zod";

export const ipv4 = () => z.ipv4({ error: "expected an IPv4 address such as 192.0.2.1" });

/** A host name or an IP address (v4 or v6). */
export const host = () =>
  z
    .string()
    .min(1, { error: "expected a host name or an IP address" })
    .refine((value) => isIP(value) !== 0 || /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9-_]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9-_]{0,61}[a-zA-Z0-9])?)*\.?$/.test(value), {
      error: "expected a host name or an IP address",
    });

export const port = () =>
  z.int({ error: "expected a port number (an integer 1-65535)" }).min(1).max(65535);

export const positiveInt = () => z.int({ error: "expected a whole number" }).min(1);

export const milliseconds = () => z.int({ error: "expected a whole number of milliseconds" }).min(1);

export const seconds = () => z.int({ error: "expected a whole number of seconds" }).min(0);

export const httpUrl = () =>
  z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" });

/** A DNS name such as office.example.com (no trailing dot needed). */
export const dnsName = () =>
  z
    .string()
    .regex(/^(?=.{1,253}\.?$)([a-zA-Z0-9_*]([a-zA-Z0-9-_]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9-_]{0,61}[a-zA-Z0-9])?)+\.?$/, {
      error: "expected a fully qualified DNS name such as office.example.com",
    });

/**
 * A secret is written inline, read from a file, or read from a systemd credential
 * ($CREDENTIALS_DIRECTORY/<name>, see systemd.exec(5) LoadCredential=). Files keep secrets out of
 * a config that others can read.
 */
export const secret = () =>
  z
    .union([
      z.string().min(1, { error: "a secret must not be empty" }),
      z.strictObject({
        file: z.string().min(1).describe("Path of a file whose content (trailing newline removed) is the secret."),
      }),
      z.strictObject({
        credential: z
          .string()
          .regex(/^[A-Za-z0-9_.@-]+$/, { error: "expected a systemd credential name" })
          .describe("Name of a systemd credential (LoadCredential=); read from $CREDENTIALS_DIRECTORY/<name>."),
      }),
    ], { error: 'expected the secret as a string, {"file": "/path"} or {"credential": "name"}' });

export type SecretRef = z.infer<ReturnType<typeof secret>>;
