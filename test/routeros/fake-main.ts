// The fake MikroTik as a process of its own, for the lab: started inside the office namespace it
// listens on the office's LAN address, so wanctl in the pbx namespace reaches it as it would a real
// router, and it applies its routes, pings, fetches and connection removals to the office.
//   node dist/test/routeros/fake-main.js '{"ns":"wl-…-office","host":"192.168.50.1","apiPort":8728,"restPort":443}'
// prints {"listening":{"api":8728,"rest":443,"fingerprint":"AB:…"}}, then one JSON line per command.
import { pathToFileURL } from "node:url";
import { certificateFingerprint } from "../../src/wan/route/routeros/client.js";
import { makeCertificate } from "./certs.js";
import { FakeRouter } from "./fake-router.js";
import { startApiServer, startRestServer } from "./fake-servers.js";
import { NamespaceWorld } from "./fake-worlds.js";
import { officeRouterOptions } from "./harness.js";

export interface FakeMainOptions {
  /** The namespace the router is (the lab's office). */
  readonly ns: string;
  /** Address to listen on. */
  readonly host: string;
  readonly apiPort?: number;
  /** REST over HTTPS; not started when absent. */
  readonly restPort?: number;
  readonly version?: string;
}

export async function runFakeRouter(o: FakeMainOptions, out: (line: string) => void): Promise<() => Promise<void>> {
  const world = new NamespaceWorld(o.ns);
  const router = new FakeRouter(officeRouterOptions(world, { version: o.version ?? "7.18.2" }));
  await router.apply();
  const original = router.execute.bind(router);
  router.execute = async (user, inv, sink) => {
    out(JSON.stringify({ user, command: inv.command, args: Object.fromEntries(Object.entries(inv.args).filter(([k]) => k !== "password")) }));
    return original(user, inv, sink);
  };
  const api = await startApiServer(router, { host: o.host, port: o.apiPort ?? 8728 });
  const certificate = o.restPort !== undefined ? makeCertificate("router.lab", o.host) : undefined;
  const rest = certificate ? await startRestServer(router, certificate, { host: o.host, port: o.restPort! }) : undefined;
  out(JSON.stringify({ listening: { api: api.port, ...(rest ? { rest: rest.port, fingerprint: certificateFingerprint(certificate!.cert) } : {}) } }));
  return async () => {
    world.close();
    await Promise.all([api.close(), rest?.close()]);
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = JSON.parse(process.argv[2] ?? "{}") as FakeMainOptions;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  void runFakeRouter(options, out).then((stop) => {
    process.on("SIGTERM", () => void stop().finally(() => process.exit(0)));
  });
}
