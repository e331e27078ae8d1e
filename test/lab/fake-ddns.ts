// Protocol-faithful fakes of the HTTP DNS providers, on one server: dyndns2 (/nic/update),
// Cloudflare API v4 (/client/v4/...: zones, A and SRV records) and DuckDNS (/update). Used in-process by the unit tests
// (on 127.0.0.1) and as a script inside the lab's inet namespace:
//   node dist/test/lab/fake-ddns.js '<FakeDdnsConfig as JSON>'
// which prints {"listening":...} and then one JSON line per request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isIPv4 } from "node:net";
import { pathToFileURL } from "node:url";

export interface FakeDdnsConfig {
  host?: string;
  port?: number;
  dyndns2?: {
    username: string;
    password: string;
    /** Host names of the account and their current address (null: none yet). */
    hosts: Record<string, string | null>;
  };
  cloudflare?: {
    token: string;
    /** Zones by name → id. */
    zones: Record<string, string>;
    /** Existing records: A (content = address), or SRV (data). */
    records?: CfFakeRecord[];
  };
  duckdns?: {
    token: string;
    /** Subdomains of the account and their current address. */
    domains: Record<string, string | null>;
  };
  /** Answers given, in order, to the first requests of each service (as script() does at run time). */
  scripts?: Partial<Record<"dyndns2" | "cloudflare" | "duckdns", Scripted[]>>;
}

/** A record as the Cloudflare fake keeps it. */
export interface CfFakeRecord {
  id: string;
  zone: string;
  /** Absent: A. */
  type?: "A" | "SRV";
  name: string;
  /** A: the address. SRV: ignored (Cloudflare derives it from data). */
  content?: string;
  ttl: number;
  proxied?: boolean;
  data?: { priority: number; weight: number; port: number; target: string };
}

/** A scripted answer instead of the normal one: a dyndns2 word, an HTTP status, or no answer at all. */
export type Scripted = { body: string; status?: number; headers?: Record<string, string> } | { hang: true };

export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization?: string;
  userAgent?: string;
  contentType?: string;
  body?: unknown;
}

export interface FakeDdns {
  readonly url: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  /** The next requests to `service` get these answers, in order. */
  script(service: "dyndns2" | "cloudflare" | "duckdns", ...answers: Scripted[]): void;
  dyndns2Hosts(): Record<string, string | null>;
  cloudflareRecords(): CfFakeRecord[];
  duckdnsDomains(): Record<string, string | null>;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, value: unknown): void => {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(value));
};
const text = (res: ServerResponse, status: number, value: string, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { "Content-Type": "text/plain", ...headers });
  res.end(value);
};
/** An SRV record's content as Cloudflare shows it: weight, port and target (the priority is apart). */
const srvContent = (r: CfFakeRecord): string => `${r.data!.weight} ${r.data!.port} ${r.data!.target}`;

const cfError = (res: ServerResponse, status: number, code: number, message: string): void =>
  json(res, status, { success: false, errors: [{ code, message }], messages: [], result: null });

export async function startFakeDdns(config: FakeDdnsConfig, log?: (line: string) => void): Promise<FakeDdns> {
  const seen: SeenRequest[] = [];
  const scripts: Record<string, Scripted[]> = {
    dyndns2: [...(config.scripts?.dyndns2 ?? [])],
    cloudflare: [...(config.scripts?.cloudflare ?? [])],
    duckdns: [...(config.scripts?.duckdns ?? [])],
  };
  const dynHosts = { ...(config.dyndns2?.hosts ?? {}) };
  const duckDomains = { ...(config.duckdns?.domains ?? {}) };
  const cfRecords = (config.cloudflare?.records ?? []).map((r) => ({ ...r }));
  let nextId = 1;
  const hanging = new Set<ServerResponse>();

  const scripted = (service: string, res: ServerResponse): boolean => {
    const s = scripts[service]!.shift();
    if (!s) return false;
    if ("hang" in s) {
      hanging.add(res);
      return true;
    }
    text(res, s.status ?? 200, s.body, s.headers);
    return true;
  };

  function dyndns2(req: IncomingMessage, res: ServerResponse, q: Record<string, string>): void {
    const cfg = config.dyndns2!;
    if (scripted("dyndns2", res)) return;
    const auth = req.headers.authorization ?? "";
    const expected = `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString("base64")}`;
    if (auth !== expected) return text(res, 401, "badauth", { "WWW-Authenticate": 'Basic realm="DDNS"' });
    // The protocol asks clients to name themselves: "company-device-version".
    if (!/^wanctl\/\S+/.test(req.headers["user-agent"] ?? "")) return text(res, 200, "badagent");
    const hostnames = (q.hostname ?? "").split(",").filter(Boolean);
    if (hostnames.length === 0 || hostnames.some((h) => !h.includes("."))) return text(res, 200, "notfqdn");
    if (hostnames.length > 20) return text(res, 200, "numhost");
    const ip = q.myip ?? "";
    if (!isIPv4(ip)) return text(res, 200, "dnserr");
    const lines = hostnames.map((h) => {
      if (!(h in dynHosts)) return "nohost";
      if (dynHosts[h] === ip) return `nochg ${ip}`;
      dynHosts[h] = ip;
      return `good ${ip}`;
    });
    text(res, 200, lines.join("\n"));
  }

  function duckdns(res: ServerResponse, q: Record<string, string>): void {
    const cfg = config.duckdns!;
    if (scripted("duckdns", res)) return;
    const domains = (q.domains ?? "").split(",").filter(Boolean);
    if (q.token !== cfg.token || domains.length === 0 || domains.some((d) => !(d in duckDomains))) return text(res, 200, "KO");
    const ip = q.ip ?? "";
    if (ip !== "" && !isIPv4(ip)) return text(res, 200, "KO");
    let changed = false;
    for (const d of domains) {
      if (duckDomains[d] !== ip) changed = true;
      duckDomains[d] = ip;
    }
    if (q.verbose === "true") return text(res, 200, `OK\n${ip}\n\n${changed ? "UPDATED" : "NOCHANGE"}`);
    text(res, 200, "OK");
  }

  function cloudflare(req: IncomingMessage, res: ServerResponse, path: string, q: Record<string, string>, body: unknown): void {
    const cfg = config.cloudflare!;
    if (scripted("cloudflare", res)) return;
    if (req.headers.authorization !== `Bearer ${cfg.token}`) return cfError(res, 401, 10000, "Authentication error");
    const rest = path.slice("/client/v4".length);
    const zoneById = (id: string): string | undefined => Object.entries(cfg.zones).find(([, zid]) => zid === id)?.[0];
    if (req.method === "GET" && rest === "/zones") {
      const result = Object.entries(cfg.zones)
        .filter(([name]) => !q.name || name === q.name)
        .map(([name, id]) => ({ id, name, status: "active" }));
      return json(res, 200, { success: true, errors: [], messages: [], result, result_info: { page: 1, count: result.length, total_count: result.length } });
    }
    const m = /^\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/.exec(rest);
    if (!m) return cfError(res, 404, 7003, "Could not route to " + rest + ", perhaps your object identifier is invalid?");
    const zone = zoneById(decodeURIComponent(m[1]!));
    if (!zone) return cfError(res, 404, 7003, "Could not route to /zones/" + m[1] + ", perhaps your object identifier is invalid?");
    const recordId = m[2] ? decodeURIComponent(m[2]) : undefined;
    const validate = (b: Record<string, unknown>, creating: boolean): string | null => {
      if (creating && b.type !== "A" && b.type !== "SRV") return "DNS record type is invalid";
      if (creating && typeof b.name !== "string") return "DNS record name is invalid";
      if (typeof b.ttl !== "number" || (b.ttl !== 1 && (b.ttl < 60 || b.ttl > 86400))) return "TTL must be between 60 and 86400 seconds, or 1 for Automatic";
      if (b.type === "SRV") {
        // SRV is written through data; content is read-only, the name starts with _service._proto.
        if (!/^_[a-z0-9-]+\._(tcp|udp|tls)\./i.test(String(b.name))) return "SRV name must be of the form _service._proto.name";
        const d = (b.data ?? {}) as Record<string, unknown>;
        for (const k of ["priority", "weight", "port"]) if (!Number.isInteger(d[k]) || (d[k] as number) < 0 || (d[k] as number) > 65535) return `SRV data.${k} must be an integer 0-65535`;
        if (typeof d.target !== "string" || d.target === "") return "SRV data.target is required";
        if (b.content !== undefined && b.content !== srvContent(b as unknown as CfFakeRecord)) return "content is read-only for SRV records; use data";
        return null;
      }
      if (typeof b.content !== "string" || !isIPv4(b.content)) return "Content for A record is invalid. Must be a valid IPv4 address";
      if (typeof b.proxied !== "boolean") return "proxied must be a boolean";
      return null;
    };
    /** As Cloudflare answers a record: SRV with its data, its content derived, and the priority also at the top level. */
    const view = (r: CfFakeRecord): Record<string, unknown> => {
      const type = r.type ?? "A";
      if (type === "A") return { ...r, type, zone_id: cfg.zones[zone] };
      return { ...r, type, content: srvContent(r), priority: r.data!.priority, proxied: false, proxiable: false, zone_id: cfg.zones[zone] };
    };
    if (req.method === "GET" && !recordId) {
      const result = cfRecords.filter((r) => r.zone === zone && (!q.type || q.type === (r.type ?? "A")) && (!q.name || r.name === q.name)).map(view);
      return json(res, 200, { success: true, errors: [], messages: [], result });
    }
    if (req.method === "POST" && !recordId) {
      const b = (body ?? {}) as Record<string, unknown>;
      const bad = validate(b, true);
      if (bad) return cfError(res, 400, 9021, bad);
      const rec: CfFakeRecord =
        b.type === "SRV"
          ? { id: `rec${nextId++}`, zone, type: "SRV", name: String(b.name), ttl: Number(b.ttl), data: { ...(b.data as NonNullable<CfFakeRecord["data"]>) } }
          : { id: `rec${nextId++}`, zone, name: String(b.name), content: String(b.content), ttl: Number(b.ttl), proxied: Boolean(b.proxied) };
      cfRecords.push(rec);
      return json(res, 200, { success: true, errors: [], messages: [], result: view(rec) });
    }
    const rec = recordId ? cfRecords.find((r) => r.id === recordId && r.zone === zone) : undefined;
    if (recordId && !rec) return cfError(res, 404, 81044, "Record does not exist.");
    if ((req.method === "PATCH" || req.method === "PUT") && rec) {
      const patch = (body ?? {}) as Record<string, unknown>;
      // PATCH merges into the record (and into an SRV record's data); PUT replaces it.
      const b: Record<string, unknown> = req.method === "PUT" ? patch : { ...rec, type: rec.type ?? "A", ...patch, ...(rec.data && patch.data ? { data: { ...rec.data, ...(patch.data as object) } } : {}) };
      const bad = validate(b, req.method === "PUT");
      if (bad) return cfError(res, 400, 9021, bad);
      if (rec.type === "SRV") Object.assign(rec, { ttl: b.ttl, data: b.data });
      else Object.assign(rec, { content: b.content, ttl: b.ttl, proxied: b.proxied });
      return json(res, 200, { success: true, errors: [], messages: [], result: view(rec) });
    }
    if (req.method === "DELETE" && rec) {
      cfRecords.splice(cfRecords.indexOf(rec), 1);
      return json(res, 200, { success: true, errors: [], messages: [], result: { id: rec.id } });
    }
    return cfError(res, 405, 10405, "Method not allowed");
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://fake");
      const query = Object.fromEntries(url.searchParams);
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const s: SeenRequest = {
        method: req.method ?? "",
        path: url.pathname,
        query,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(req.headers["user-agent"] ? { userAgent: req.headers["user-agent"] } : {}),
        ...(req.headers["content-type"] ? { contentType: req.headers["content-type"] } : {}),
        ...(body !== undefined ? { body } : {}),
        ...({ from: req.socket.remoteAddress } as object),
      };
      seen.push(s);
      log?.(JSON.stringify(s));
      if (url.pathname === "/nic/update" && config.dyndns2) return dyndns2(req, res, query);
      if (url.pathname === "/update" && config.duckdns) return duckdns(res, query);
      if (url.pathname.startsWith("/client/v4/") && config.cloudflare) return cloudflare(req, res, url.pathname, query, body);
      text(res, 404, "not found");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port ?? 0, config.host ?? "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${config.host ?? "127.0.0.1"}:${port}`,
    port,
    seen,
    script: (service, ...answers) => void scripts[service]!.push(...answers),
    dyndns2Hosts: () => ({ ...dynHosts }),
    cloudflareRecords: () => cfRecords.map((r) => ({ ...r })),
    duckdnsDomains: () => ({ ...duckDomains }),
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// As a script (in a lab namespace): config from argv, one JSON line per request on stdout.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const config = JSON.parse(process.argv[2] ?? "{}") as FakeDdnsConfig;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  void startFakeDdns(config, out).then((f) => out(JSON.stringify({ listening: f.url })));
  process.on("SIGTERM", () => process.exit(0));
}
