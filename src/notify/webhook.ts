// A generic JSON webhook: POST of the alert(s) with an optional bearer token. The message id goes
// in Idempotency-Key so that the receiver can drop a retry it has already accepted.
import type { Message, Notifier, SendContext } from "./notifier.js";
import { postJson, statusFailure, type JsonEndpoint } from "./http-post.js";
import type { RenderOptions } from "./render/view.js";
import { renderWebhook } from "./render/webhook.js";

export interface WebhookOptions {
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  render?: RenderOptions;
}

export function webhookNotifier(options: WebhookOptions): Notifier {
  const secrets = options.token ? [options.token] : [];
  const render: RenderOptions = { ...options.render };
  return {
    channel: "webhook",
    async send(message: Message, context: SendContext): Promise<void> {
      const headers: Record<string, string> = { "idempotency-key": message.id, "user-agent": "wanctl" };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      const endpoint: JsonEndpoint = { channel: "webhook", what: "the webhook endpoint", url: options.url, headers };
      const answer = await postJson(endpoint, renderWebhook(message, render), context);
      if (answer.status < 200 || answer.status > 299) throw statusFailure(endpoint, answer, secrets);
    },
  };
}
