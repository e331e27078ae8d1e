// Everything route.backend "routeros" puts in place of the Linux adapters, built from the config:
// the router client (API or REST, with the password from its secret), the route backend, the
// router-side /ping probes, each link's public address as the router sees it, and the address
// wanctl's own requests (DNS updates) leave from.
import { createSocket } from "node:dgram";
import { isIP } from "node:net";
import { readFileSync } from "node:fs";
import type { Config } from "../../../config/schema/index.js";
import type { RouterOsRouteConfig } from "../../../config/schema/routing.js";
import { readSecret } from "../../../config/secrets.js";
import { safeUrl } from "../../../lib/http.js";
import { RouterPingProbe, type RouterPingVia } from "../../probes/routeros-ping.js";
import type { LinkBinding, Probe, ProbeTiming } from "../../probes/types.js";
import { echoAnswer, learnPublicIp, type PublicIpResult } from "../../public-ip/index.js";
import { ApiClient } from "./api.js";
import { RouterOsRouteBackend } from "./backend.js";
import type { RouterClient, TlsVerify } from "./client.js";
import { RestClient } from "./rest.js";

/** How long the router may take to fetch an echo URL through a link. */
const FETCH_TIMEOUT_MS = 5_000;

/** The client for route.router, the password read from its secret (throws a SecretError naming the path). */
export function routerClient(route: RouterOsRouteConfig, env: NodeJS.ProcessEnv = process.env): RouterClient {
  const r = route.router;
  const password = readSecret(r.password, "route.router.password", env);
  let tls: TlsVerify | undefined;
  if (r.tls && "fingerprint" in r.tls) tls = { fingerprint256: r.tls.fingerprint };
  else if (r.tls) {
    let ca: Buffer;
    try {
      ca = readFileSync(r.tls.ca);
    } catch (error) {
      throw new Error(`route.router.tls.ca: cannot read ${r.tls.ca} (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
    }
    tls = { ca, ...(r.tls.serverName ? { serverName: r.tls.serverName } : {}) };
  }
  const settings = { host: r.host, port: r.port, user: r.user, password, timeoutMs: r.timeoutMs };
  if (r.transport === "rest") return new RestClient({ ...settings, tls: tls! });
  return new ApiClient({ ...settings, ...(tls ? { tls } : {}) });
}

/** The route backend for route.backend "routeros" over `client`. */
export function routerOsBackend(config: Config, client: RouterClient): RouterOsRouteBackend {
  const route = config.route;
  if (route.backend !== "routeros") throw new Error(`route.backend is "${route.backend}", not "routeros"`);
  return new RouterOsRouteBackend({
    client,
    links: config.links,
    markPrefix: route.markPrefix,
    switchBy: route.switchBy,
    activeDistance: route.activeDistance,
    standbyDistance: route.standbyDistance,
    sipPorts: route.sipPorts,
    rtpPorts: route.rtpPorts,
  });
}

export interface RouterOsGateway {
  readonly client: RouterClient;
  readonly route: RouterOsRouteBackend;
  /** The router's /ping probes of a link's targets (route.backend "routeros" takes ICMP targets only). */
  makeProbes(link: LinkBinding, timing: ProbeTiming): Probe[];
  /** A link's public address, learned through the link by the router: its interface, the static one, or an echo it fetches. */
  publicAddress(link: string): Promise<PublicIpResult>;
  /**
   * Where wanctl's own requests (DNS updates) leave from: this host's address toward the router.
   * They follow the router's default route, which is the new link once the route step is done.
   */
  sourceAddress(): Promise<string>;
  close(): Promise<void>;
}

export function createRouterOsGateway(config: Config, options: { env?: NodeJS.ProcessEnv; client?: RouterClient } = {}): RouterOsGateway {
  const route = config.route;
  if (route.backend !== "routeros") throw new Error(`route.backend is "${route.backend}", not "routeros"`);
  const client = options.client ?? routerClient(route, options.env);
  const backend = routerOsBackend(config, client);

  const via = (link: LinkBinding): RouterPingVia => {
    const how = route.links[link.name] ?? { probeVia: "interface" as const };
    if (how.probeVia === "routing-table") return { "routing-table": how.routingTable! };
    if (how.probeVia === "src-address") return { "src-address": link.sourceAddress };
    return { interface: link.interface };
  };

  return {
    client,
    route: backend,
    makeProbes: (link, timing) =>
      config.monitor.targets.map((target) => {
        if (target.type !== "icmp") throw new Error(`route.backend "routeros" probes with the router's /ping: target type "${target.type}" cannot be probed through the router`);
        return new RouterPingProbe(link, target.host, timing, { client, via: via(link) });
      }),
    publicAddress: async (name) => {
      const link = config.links.find((l) => l.name === name);
      if (!link) throw new Error(`unknown link "${name}"`);
      const started = Date.now();
      try {
        const address = await backend.linkAddress(name);
        const onRouter = link.publicIp.method === "interface" ? await backend.interfaceAddresses(link.interface) : [];
        return await learnPublicIp(link, address ? { name, interface: link.interface, sourceAddress: address } : undefined, {
          interfaceAddresses: () => onRouter,
          askEcho: (url) =>
            backend.fetchThrough(name, url, FETCH_TIMEOUT_MS).then(
              (body) => echoAnswer(safeUrl(url), body, 4),
              (error: Error) => ({ source: safeUrl(url), error: error.message }),
            ),
        });
      } catch (error) {
        return { link: name, method: link.publicIp.method, ok: false, detail: `${name}: ${(error as Error).message}`, answers: [], durationMs: Date.now() - started };
      }
    },
    sourceAddress: () => localAddressToward(route.router.host),
    close: () => client.close(),
  };
}

/** The address this host would send from to reach `host` (a connected UDP socket; nothing is sent). */
export function localAddressToward(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(host) === 6 ? "udp6" : "udp4");
    socket.once("error", (error) => {
      socket.close();
      reject(new Error(`no route to the router ${host}: ${error.message}`));
    });
    socket.connect(9, host, () => {
      const { address } = socket.address();
      socket.close();
      resolve(address);
    });
  });
}
