// A generic JSON webhook: POST of the alert(s) with an optional bearer token. The message id goes
// in Idempotency-Key so that the receiver can drop a retry it has already accepted.
import type { Message, Notifier, SendContext } from "./notifier.js";
import { postJson } from "./http-post.js";
import { requestFailure, statusFailure } from "./http-errors.js";
import { renderWebhook, type RenderOptions } from "./render.js";

export interface WebhookOptions {
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  render?: RenderOptions;
}

const WHAT = "the webhook endpoint";

export function webhookNotifier(options: WebhookOptions): Notifier {
  const secrets = [...(options.render?.secrets ?? []), ...(options.token ? [options.token] : [])];
  const render: RenderOptions = { ...options.render, secrets };
  return {
    channel: "webhook",
    async send(message: Message, context: SendContext): Promise<void> {
      const headers: Record<string, string> = { "idempotency-key": message.id, "user-agent": "wanctl" };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let answer;
      try {
        answer = await postJson(options.url, renderWebhook(message, render), { headers, signal: context.signal, ...(context.localAddress ? { localAddress: context.localAddress } : {}) });
      } catch (error) {
        throw requestFailure("webhook", WHAT, error, context.signal);
      }
      if (answer.status < 200 || answer.status > 299) throw statusFailure("webhook", WHAT, answer.status, answer.body, secrets);
    },
  };
}
