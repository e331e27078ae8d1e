// Where alerts go and how often.
import { z } from "zod";
import { host, httpUrl, port, positiveInt, seconds, secret } from "./common.js";

const email = z.strictObject({
  host: host().describe("SMTP server."),
  port: port().default(587).describe("SMTP port."),
  security: z
    .enum(["starttls", "tls", "none"])
    .default("starttls")
    .describe("starttls (port 587), tls (implicit TLS, port 465) or none (only on a trusted network)."),
  username: z.string().min(1).optional().describe("SMTP user, when the server wants authentication."),
  password: secret().optional().describe("SMTP password."),
  from: z.email({ error: "expected an email address" }).describe("Sender address."),
  to: z.array(z.email({ error: "expected an email address" })).min(1).describe("Recipients."),
});

export const alerts = z
  .strictObject({
    email: email.optional().describe("Alerts by email."),
    slack: z
      .strictObject({
        webhookUrl: secret().describe("Slack incoming webhook URL (it is a secret: anyone with it can post)."),
      })
      .optional()
      .describe("Alerts to Slack."),
    webhook: z
      .strictObject({
        url: httpUrl().describe("URL that receives a JSON POST of each alert."),
        token: secret().optional().describe("Bearer token sent in the Authorization header."),
      })
      .optional()
      .describe("Alerts as JSON to any HTTP endpoint."),
    coalesceSeconds: seconds().default(60).describe("Events within this window are sent as one message (flapping)."),
    maxPerHour: positiveInt().default(20).describe("At most this many messages per channel per hour."),
  })
  .describe("Alerts.");

export type AlertsConfig = z.infer<typeof alerts>;
