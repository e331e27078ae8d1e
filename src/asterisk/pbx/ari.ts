// Optional ARI over HTTP (plain fetch, basic auth): a health check, and a module reload for setups
// that want it. ARI cannot change file-based PJSIP objects (docs/design.md), so the adapter's changes
// always go through AMI; this is only a second opinion on whether Asterisk is alive.

import { safeUrl } from "../../lib/http.js";

export interface AriSettings {
  /** Base URL, e.g. http://192.168.50.10:8088/ari */
  readonly url: string;
  readonly username: string;
  readonly password: string;
}

export interface AriInfo {
  readonly version: string | undefined;
  readonly systemName: string | undefined;
  readonly startup: string | undefined;
}

export class AriError extends Error {
  override name = "AriError";
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

async function ariRequest(ari: AriSettings, method: "GET" | "PUT", path: string, timeoutMs: number, fetchImpl: typeof fetch): Promise<Response> {
  const base = ari.url.replace(/\/+$/, "");
  const where = `${safeUrl(ari.url)}${path}`;
  let response: Response;
  try {
    response = await fetchImpl(`${base}${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`${ari.username}:${ari.password}`).toString("base64")}`, accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    const why = e.name === "TimeoutError" || e.name === "AbortError" ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
    throw new AriError(`ARI ${method} ${where} failed: ${why}`);
  }
  if (response.status === 401) throw new AriError(`ARI at ${safeUrl(ari.url)} refused user '${ari.username}' (401): check asterisk.ari.username/password and ari.conf`, 401);
  if (!response.ok) throw new AriError(`ARI ${method} ${where} answered ${response.status} ${response.statusText}`.trim(), response.status);
  return response;
}

/** GET /asterisk/info: Asterisk's version and system name. */
export async function ariInfo(ari: AriSettings, options: { timeoutMs: number; fetch?: typeof fetch }): Promise<AriInfo> {
  const response = await ariRequest(ari, "GET", "/asterisk/info", options.timeoutMs, options.fetch ?? fetch);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new AriError(`ARI ${safeUrl(ari.url)}/asterisk/info did not answer JSON`);
  }
  const b = (body ?? {}) as { system?: { version?: unknown }; config?: { name?: unknown }; status?: { startup_time?: unknown } };
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  return { version: str(b.system?.version), systemName: str(b.config?.name), startup: str(b.status?.startup_time) };
}

/** PUT /asterisk/modules/{name}: reload one module (204 on success). */
export async function ariReloadModule(ari: AriSettings, module: string, options: { timeoutMs: number; fetch?: typeof fetch }): Promise<void> {
  if (!/^[A-Za-z0-9_.-]+$/.test(module)) throw new AriError(`not a module name: ${JSON.stringify(module.slice(0, 40))}`);
  await ariRequest(ari, "PUT", `/asterisk/modules/${module}`, options.timeoutMs, options.fetch ?? fetch);
}
