// The one source of truth for wanctl's configuration: TypeScript types, validation, defaults and
// (through `npm run schema`) the JSON Schema that editors use.
import { Cron } from "croner";
import { z } from "zod";
import { alerts } from "./alerts.js";
import { asterisk, configuredDrivers } from "./asterisk.js";
import { checkSipReferences, dns } from "./dns.js";
import { DEFAULT_HTTP_LISTEN, http, isLoopback, parseListen } from "./http.js";
import { link } from "./links.js";
import { monitor } from "./monitor.js";
import { failover, route } from "./routing.js";

const drills = z
  .strictObject({
    schedule: z
      .string()
      .refine(isCronPattern, { error: 'expected a cron schedule such as "0 3 * * 1" (Mondays 03:00)' })
      .optional()
      .describe("When to run the failover drill by itself (cron, local time); leave out for on demand only."),
    notify: z.boolean().default(true).describe("Send the drill's result as an alert."),
  })
  .default({ notify: true })
  .describe("Failover drills (`wanctl test`).");

const log = z
  .strictObject({
    level: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info").describe("Least severe level logged."),
  })
  .default({ level: "info" })
  .describe("Logging (JSON lines on stdout, for journald).");

const configObject = z
  .strictObject({
    $schema: z.string().optional().describe("Path or URL of wanctl's JSON Schema, for editors."),
    stateDir: z.string().default("/var/lib/wanctl").describe("Directory for wanctl's state (active link, last report, pending restores)."),
    log,
    links: z.array(link).min(2, { error: "wanctl needs at least two links to fail over between" }).describe("The office's Internet links."),
    monitor,
    failover: failover.default({ holdDownSeconds: 180, waitForIdleCalls: false, maxCallWaitSeconds: 900 }),
    route,
    dns: dns.default({ providers: [], records: [] }),
    asterisk: asterisk.optional(),
    alerts: alerts.default({ coalesceSeconds: 60, maxPerHour: 20 }),
    drills,
    http: http.default({ enabled: true, listen: DEFAULT_HTTP_LISTEN }),
  })
  .describe("wanctl configuration.");

export const configSchema = configObject.superRefine(checkReferences);

export type Config = z.infer<typeof configObject>;
export type ConfigInput = z.input<typeof configSchema>;

function isCronPattern(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true });
    return true;
  } catch {
    return false;
  }
}

/** Checks that need more than one field: names that must be unique or must refer to each other. */
function checkReferences(config: Config, ctx: z.RefinementCtx): void {
  const unique = <T>(items: T[], key: (item: T) => string | number, path: (i: number) => (string | number)[], what: string) => {
    const seen = new Map<string | number, number>();
    items.forEach((item, i) => {
      const value = key(item);
      const first = seen.get(value);
      if (first === undefined) seen.set(value, i);
      else ctx.addIssue({ code: "custom", path: path(i), message: `${what} ${JSON.stringify(value)} is already used by entry ${first}` });
    });
  };
  unique(config.links, (l) => l.name, (i) => ["links", i, "name"], "link name");
  unique(config.links, (l) => l.interface, (i) => ["links", i, "interface"], "interface");
  unique(config.links, (l) => l.priority, (i) => ["links", i, "priority"], "priority");
  unique(config.dns.providers, (p) => p.id, (i) => ["dns", "providers", i, "id"], "provider id");
  unique(config.dns.records, (r) => r.name, (i) => ["dns", "records", i, "name"], "record");

  const providerIds = new Set(config.dns.providers.map((p) => p.id));
  config.dns.records.forEach((record, i) => {
    if (!providerIds.has(record.provider)) {
      const known = [...providerIds].join(", ") || "none is configured";
      ctx.addIssue({ code: "custom", path: ["dns", "records", i, "provider"], message: `no provider with id ${JSON.stringify(record.provider)} (known: ${known})` });
    }
  });

  checkSipReferences(config, (path, message) => ctx.addIssue({ code: "custom", path, message }));

  if (config.monitor.quorum > config.monitor.targets.length) {
    ctx.addIssue({
      code: "custom",
      path: ["monitor", "quorum"],
      message: `quorum ${config.monitor.quorum} is more than the ${config.monitor.targets.length} probe target(s): no round could ever pass`,
    });
  }

  const listen = parseListen(config.http.listen);
  if (config.http.enabled && listen && !isLoopback(listen.host) && !config.http.auth) {
    ctx.addIssue({
      code: "custom",
      path: ["http", "listen"],
      message: `${config.http.listen} can be reached from other hosts: set http.auth (a token, or a username and password), or listen on 127.0.0.1`,
    });
  }

  if (config.route.backend === "routeros") checkRouterOs(config, ctx);

  const pbx = config.asterisk;
  const drivers = pbx ? configuredDrivers(pbx) : "auto";
  if (pbx && drivers !== "auto" && drivers.includes("pjsip") && !pbx.pjsip) {
    const named = typeof pbx.channelDriver === "string" ? 'channelDriver "pjsip"' : "channelDriver names pjsip, so it";
    ctx.addIssue({ code: "custom", path: ["asterisk"], message: `${named} needs a "pjsip" section naming the transports` });
  }
}

/** What route.backend "routeros" asks of the rest of the config: the router probes and learns addresses itself. */
function checkRouterOs(config: Config, ctx: z.RefinementCtx): void {
  if (config.route.backend !== "routeros") return;
  const names = new Set(config.links.map((l) => l.name));
  for (const name of Object.keys(config.route.links)) {
    if (!names.has(name)) ctx.addIssue({ code: "custom", path: ["route", "links", name], message: `no link named ${JSON.stringify(name)} (links: ${[...names].join(", ")})` });
  }
  config.monitor.targets.forEach((target, i) => {
    if (target.type !== "icmp") {
      ctx.addIssue({ code: "custom", path: ["monitor", "targets", i, "type"], message: `route.backend "routeros" probes each link with the router's /ping: use icmp targets (a ${target.type} probe from this host could not choose the link)` });
    }
  });
  config.links.forEach((link, i) => {
    if (link.publicIp.method === "stun") {
      ctx.addIssue({ code: "custom", path: ["links", i, "publicIp", "method"], message: 'route.backend "routeros": the router cannot ask STUN; use "http" (the router fetches the echo through the link), "interface" or "static"' });
    }
  });
}
