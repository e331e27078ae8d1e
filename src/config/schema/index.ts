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
import { blocksOverlap, parseBlock } from "../../wan/public-ip/address.js";
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
    // Optional with route.backend "none" (the router probes its links; targets there watch the
    // office's path through it); the other backends say what they miss.
    monitor: monitor.prefault({}),
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

  if (config.route.backend !== "none" && config.monitor.targets.length === 0) {
    ctx.addIssue({ code: "custom", path: ["monitor", "targets"], message: `route.backend "${config.route.backend}" probes every link: give at least one target (four are recommended)` });
  } else if (config.monitor.targets.length > 0 && config.monitor.quorum > config.monitor.targets.length) {
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
  if (config.route.backend === "none") checkFollowing(config, ctx);

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

/**
 * What route.backend "none" asks of the rest of the config. wanctl sees only the address the
 * office's traffic leaves with, through the default route: each link must be recognisable by its
 * addresses, none of which may be another's, and no link's address can be learned through it.
 */
function checkFollowing(config: Config, ctx: z.RefinementCtx): void {
  if (config.route.backend !== "none") return;
  const route = config.route;
  const names = config.links.map((l) => l.name);
  for (const name of Object.keys(route.links)) {
    if (!names.includes(name)) ctx.addIssue({ code: "custom", path: ["route", "links", name], message: `no link named ${JSON.stringify(name)} (links: ${names.join(", ")})` });
  }
  const owned: { link: string; text: string; block: { base: number; bits: number } }[] = [];
  config.links.forEach((link, i) => {
    const method = link.publicIp.method;
    if (method === "http" || method === "stun") {
      ctx.addIssue({
        code: "custom",
        path: ["links", i, "publicIp", "method"],
        message: `route.backend "none": wanctl follows the router and can only ask through the default route, so ${link.name}'s address cannot be learned through ${link.name} ("${method}"): give it as {"method": "static", "address": ...}, or list the addresses its traffic leaves with in route.links.${link.name}.addresses`,
      });
    }
    const listed = route.links[link.name]?.addresses ?? [];
    const texts = [...(link.publicIp.method === "static" ? [link.publicIp.address] : []), ...listed];
    if (texts.length === 0 && method !== "http" && method !== "stun") {
      ctx.addIssue({
        code: "custom",
        path: ["links", i, "publicIp"],
        message: `route.backend "none": nothing tells that the office's traffic leaves by ${link.name}: give its public address ({"method": "static", "address": ...}) or route.links.${link.name}.addresses (addresses or CIDR blocks)`,
      });
    }
    for (const text of texts) {
      const block = parseBlock(text);
      if (!block) continue; // said at its own path
      const clash = owned.find((o) => o.link !== link.name && blocksOverlap(o.block, block));
      if (clash) {
        ctx.addIssue({ code: "custom", path: ["route", "links", link.name, "addresses"], message: `${text} of ${link.name} overlaps ${clash.text} of ${clash.link}: an address seen must name one link` });
      }
      owned.push({ link: link.name, text, block });
    }
  });
}
