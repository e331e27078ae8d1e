// The one source of truth for wanctl's configuration: TypeScript types, validation, defaults and
// (through `npm run schema`) the JSON Schema that editors use.
import { Cron } from "croner";
import { z } from "zod";
import { alerts } from "./alerts.js";
import { asterisk } from "./asterisk.js";
import { checkSipReferences, dns } from "./dns.js";
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

  const pbx = config.asterisk;
  if (pbx?.channelDriver === "pjsip" && !pbx.pjsip) {
    ctx.addIssue({ code: "custom", path: ["asterisk"], message: 'channelDriver "pjsip" needs a "pjsip" section naming the transports' });
  }
}
