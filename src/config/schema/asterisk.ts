// The Asterisk PBX: how to reach its manager interface and what to change on a switch.
import { z } from "zod";
import { host, httpUrl, milliseconds, port, positiveInt, secret } from "./common.js";

const sectionName = z.string().regex(/^[^\[\]\s]{1,80}$/, { error: "expected a config section name without brackets or spaces" });

export const asterisk = z
  .strictObject({
    ami: z
      .strictObject({
        host: host().describe("Address of Asterisk's manager interface (AMI)."),
        port: port().default(5038).describe("AMI port."),
        username: z.string().min(1).describe("Manager user from manager.conf (needs read=system,config and write=system,config,command)."),
        secret: secret().describe("Its secret."),
        timeoutMs: milliseconds().default(5000).describe("Time limit of one AMI action."),
      })
      .describe("Asterisk Manager Interface connection."),
    channelDriver: z
      .union(
        [
          z.enum(["auto", "pjsip", "chan_sip"]),
          z
            .array(z.enum(["pjsip", "chan_sip"]))
            .min(1, { error: 'expected at least one driver (or "auto" alone for every driver Asterisk has loaded)' })
            .refine((list) => new Set(list).size === list.length, { error: "names a driver twice" }),
        ],
        { error: 'expected "auto", "pjsip", "chan_sip", or a list of "pjsip" and "chan_sip" such as ["pjsip", "chan_sip"]' },
      )
      .default("auto")
      .describe(
        'SIP channel drivers whose external address and trunks wanctl manages: "auto" (every driver Asterisk has loaded, found with ModuleCheck, that has trunks or an external address), "pjsip", "chan_sip", or both as ["pjsip", "chan_sip"].',
      ),
    pjsip: z
      .strictObject({
        configFile: z.string().default("pjsip.conf").describe("File (in Asterisk's config directory) that holds the transports and registrations."),
        transports: z.array(sectionName).min(1).describe("Transports whose external_media_address and external_signaling_address follow the active link."),
        registrations: z
          .union([z.literal("auto"), z.array(sectionName).min(1)])
          .default("auto")
          .describe('Outbound registrations to re-register on a switch: "auto" (every one Asterisk lists) or their names.'),
      })
      .optional()
      .describe("PJSIP settings: the transports whose external address follows the active link (needed whenever PJSIP is managed)."),
    chanSip: z
      .strictObject({
        configFile: z.string().default("sip.conf").describe("File that holds [general] and the register => lines."),
      })
      .optional()
      .describe("chan_sip settings (optional: these are the defaults)."),
    shortExpirySeconds: positiveInt()
      .default(120)
      .describe("Registration expiry while the office runs on a backup link, so the ITSP learns a later change quickly."),
    registerTimeoutMs: milliseconds().default(15000).describe("How long to wait for each trunk to be Registered."),
    ari: z
      .strictObject({
        url: httpUrl().describe("ARI base URL, e.g. http://192.168.50.10:8088/ari."),
        username: z.string().min(1).describe("ARI user."),
        password: secret().describe("ARI password."),
      })
      .optional()
      .describe("Optional ARI over HTTP for health checks and module reloads."),
  })
  .describe("The Asterisk PBX.");

export type AsteriskConfig = z.infer<typeof asterisk>;

export type SipDriver = "pjsip" | "chan_sip";

/** The drivers the config names, or "auto" (those Asterisk has loaded and uses, found at run time). */
export function configuredDrivers(config: Pick<AsteriskConfig, "channelDriver">): readonly SipDriver[] | "auto" {
  const d = config.channelDriver;
  return d === "auto" ? "auto" : typeof d === "string" ? [d] : d;
}
