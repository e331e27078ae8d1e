// The lab office as a MikroTik: the fake router with the lab's addressing (wan1 198.51.100.10/30
// via 198.51.100.9, wan2 100.64.0.2/30 via 100.64.0.1, lan 192.168.50.1/24), the two default
// routes wanctl manages, and routes it must never touch. Started behind the API or REST, with a
// wanctl client logged in as a user whose group has what wanctl needs.
import { ApiClient } from "../../src/wan/route/routeros/api.js";
import { RouterOsRouteBackend, type RouterOsRouteOptions } from "../../src/wan/route/routeros/backend.js";
import { certificateFingerprint, type RouterClient } from "../../src/wan/route/routeros/client.js";
import { RestClient } from "../../src/wan/route/routeros/rest.js";
import { makeCertificate, type TestCertificate } from "./certs.js";
import { FakeRouter, type FakeRouterOptions, type RouterWorld } from "./fake-router.js";
import { startApiServer, startRestServer, type ApiServer, type FakeServer } from "./fake-servers.js";

export type Transport = "api" | "api-tls" | "rest";

/** The lab's two links as the router backend knows them. */
export const OFFICE_LINKS = [
  { name: "wan1", interface: "wan1", gateway: "198.51.100.9", priority: 1 },
  { name: "wan2", interface: "wan2", gateway: "100.64.0.1", priority: 2 },
];

/** wanctl's backend for the office router, with the config's defaults. */
export function officeBackend(client: RouterClient, overrides: Partial<RouterOsRouteOptions> = {}): RouterOsRouteBackend {
  return new RouterOsRouteBackend({
    client,
    links: OFFICE_LINKS,
    markPrefix: "wanctl:",
    switchBy: "distance",
    activeDistance: 1,
    standbyDistance: 10,
    sipPorts: [5060, 5061],
    rtpPorts: { from: 10000, to: 20000 },
    ...overrides,
  });
}

export const WANCTL_POLICIES = ["read", "write", "api", "rest-api", "test"];

/** Routes the office router has besides wanctl's: a LAN route, an admin's fallback default route, a policy table route. */
export const OTHER_ROUTES = {
  lanRoute: { "dst-address": "10.0.0.0/8", gateway: "192.168.50.254", distance: "1", comment: "to the branch office" },
  fallback: { "dst-address": "0.0.0.0/0", gateway: "100.64.0.1", distance: "50", comment: "admin fallback" },
};

export function officeRouterOptions(world: RouterWorld, overrides: Partial<FakeRouterOptions> = {}): FakeRouterOptions {
  const v7 = !(overrides.version ?? "7.18.2").startsWith("6.");
  return {
    version: "7.18.2",
    users: [
      { name: "wanctl", password: "s3cret", group: "wanctl" },
      { name: "viewer", password: "v1ew", group: "viewer" },
    ],
    groups: { wanctl: WANCTL_POLICIES, viewer: ["read", "api", "rest-api"] },
    interfaces: ["wan1", "wan2", "lan"],
    addresses: [
      { address: "198.51.100.10/30", interface: "wan1" },
      { address: "100.64.0.2/30", interface: "wan2" },
      { address: "192.168.50.1/24", interface: "lan" },
    ],
    routes: [
      { gateway: "198.51.100.9", distance: "1", comment: "wanctl:wan1" },
      { gateway: "100.64.0.1", distance: "10", comment: "wanctl:wan2" },
      OTHER_ROUTES.lanRoute,
      OTHER_ROUTES.fallback,
      ...(v7 ? [{ gateway: "100.64.0.1", "routing-table": "via-wan2", comment: "wan2's own table" }] : []),
    ],
    ...(v7 ? { routingTables: ["via-wan2"] } : {}),
    world,
    ...overrides,
  };
}

export interface RunningRouter {
  readonly router: FakeRouter;
  readonly server: FakeServer | ApiServer;
  readonly certificate: TestCertificate | undefined;
  /** A wanctl client of this router (user wanctl unless told otherwise). */
  client(options?: { user?: string; password?: string; timeoutMs?: number }): RouterClient;
  close(): Promise<void>;
}

export async function startRouter(transport: Transport, options: FakeRouterOptions, listen: { host?: string } = {}): Promise<RunningRouter> {
  const router = new FakeRouter(options);
  await router.apply();
  const certificate = transport === "api" ? undefined : makeCertificate();
  const server =
    transport === "rest" ? await startRestServer(router, certificate!, listen) : await startApiServer(router, { ...listen, ...(certificate ? { tls: certificate } : {}) });
  const clients: RouterClient[] = [];
  const host = listen.host ?? "127.0.0.1";
  return {
    router,
    server,
    certificate,
    client: (o = {}) => {
      const settings = { host, port: server.port, user: o.user ?? "wanctl", password: o.password ?? "s3cret", timeoutMs: o.timeoutMs ?? 2000 };
      const tls = certificate ? { fingerprint256: certificateFingerprint(certificate.cert) } : undefined;
      const client = transport === "rest" ? new RestClient({ ...settings, tls: tls! }) : new ApiClient({ ...settings, ...(tls ? { tls } : {}) });
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    },
  };
}
