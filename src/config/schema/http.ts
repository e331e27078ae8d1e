// The HTTP listener: Prometheus metrics, the status page and its JSON API. Loopback by default;
// beyond loopback only with a token or a username and password (checked in index.ts).
import { isIP } from "node:net";
import { z } from "zod";
import { secret } from "./common.js";

/**
 * 9026: below the range Prometheus' port registry gives exporters (9100–9999, all taken), outside
 * Asterisk's default RTP range (10000–20000, wanctl may run on the PBX host) and unused by any
 * well-known exporter or service.
 */
export const DEFAULT_HTTP_PORT = 9026;
export const DEFAULT_HTTP_LISTEN = `127.0.0.1:${DEFAULT_HTTP_PORT}`;

export interface ListenAddress {
  host: string;
  port: number;
}

/** `192.0.2.1:9026` or `[::1]:9026`; undefined when it is not that. */
export function parseListen(text: string): ListenAddress | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if ((match[1] !== undefined ? isIP(host) !== 6 : isIP(host) !== 4) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** Only this host can connect (127.0.0.0/8, ::1). */
export function isLoopback(host: string): boolean {
  return host === "::1" || /^127\./.test(host);
}

const listen = z.string().refine((text) => parseListen(text) !== undefined, {
  error: 'expected an IP address and a port such as "127.0.0.1:9026" or "[::1]:9026"',
});

const auth = z
  .strictObject({
    token: secret().optional().describe("A bearer token: requests carry `Authorization: Bearer <token>` (Prometheus: `authorization: { credentials: ... }`)."),
    username: z.string().min(1).optional().describe("User name for HTTP basic authentication (a browser asks for it)."),
    password: secret().optional().describe("Password for HTTP basic authentication."),
  })
  .refine((a) => a.token !== undefined || a.username !== undefined, { error: "expected a token, or a username and password" })
  .refine((a) => (a.username === undefined) === (a.password === undefined), { error: "username and password go together" })
  .describe("Who may read the metrics and the page: a token, a username and password, or both. Required when listening beyond loopback. Plain HTTP: keep it on the LAN or a VPN.");

export const http = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Serve Prometheus metrics (/metrics), the status page (/) and its JSON API (/api/status, the same as `wanctl status --json`)."),
    listen: listen
      .default(DEFAULT_HTTP_LISTEN)
      .describe(`Address and port to listen on: "${DEFAULT_HTTP_LISTEN}" (this host only, the default), a LAN address such as "192.168.50.1:${DEFAULT_HTTP_PORT}", or "0.0.0.0:${DEFAULT_HTTP_PORT}" / "[::]:${DEFAULT_HTTP_PORT}" (every address; needs auth).`),
    auth: auth.optional(),
  })
  .describe("Metrics, the status page and its API, read-only, over HTTP.");

export type HttpConfig = z.infer<typeof http>;
