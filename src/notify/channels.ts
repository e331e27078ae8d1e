// The configured channels as notifiers: reads their secrets (inline, file or systemd credential)
// and returns the secret values too, so that the outbox can scrub them from every alert.
import type { AlertsConfig } from "../config/schema/alerts.js";
import { readSecret } from "../config/secrets.js";
import { emailNotifier, type EmailOptions } from "./email.js";
import type { Notifier } from "./notifier.js";
import type { RenderOptions } from "./render/view.js";
import { slackNotifier } from "./slack.js";
import { webhookNotifier } from "./webhook.js";

export interface ChannelOptions {
  env?: NodeJS.ProcessEnv;
  render?: RenderOptions;
  /** The config's other secret values (DNS tokens, AMI secret), returned with the channels' own. */
  secrets?: readonly string[];
  /** Email details the config does not hold (timeouts, a private CA in the lab). */
  email?: Pick<EmailOptions, "timeouts" | "tls" | "clientName">;
}

/** Throws SecretError (with the config path) when a secret cannot be read. */
export function notifiersFromConfig(alerts: AlertsConfig, options: ChannelOptions = {}): { notifiers: Notifier[]; secrets: string[] } {
  const env = options.env ?? process.env;
  const secrets: string[] = [...(options.secrets ?? [])];
  const read = (ref: Parameters<typeof readSecret>[0], where: string) => {
    const value = readSecret(ref, where, env);
    secrets.push(value);
    return value;
  };
  const email = alerts.email ? { ...alerts.email, password: alerts.email.password ? read(alerts.email.password, "alerts.email.password") : undefined } : undefined;
  const slackUrl = alerts.slack ? read(alerts.slack.webhookUrl, "alerts.slack.webhookUrl") : undefined;
  const token = alerts.webhook?.token ? read(alerts.webhook.token, "alerts.webhook.token") : undefined;
  const render: RenderOptions = { ...options.render };

  const notifiers: Notifier[] = [];
  if (email) {
    notifiers.push(
      emailNotifier({
        host: email.host,
        port: email.port,
        security: email.security,
        from: email.from,
        to: email.to,
        render,
        ...(email.username ? { username: email.username } : {}),
        ...(email.password !== undefined ? { password: email.password } : {}),
        ...options.email,
      }),
    );
  }
  if (slackUrl) notifiers.push(slackNotifier({ webhookUrl: slackUrl, render }));
  if (alerts.webhook) notifiers.push(webhookNotifier({ url: alerts.webhook.url, render, ...(token ? { token } : {}) }));
  return { notifiers, secrets };
}
