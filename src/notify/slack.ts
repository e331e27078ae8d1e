// Slack incoming webhooks: one HTTPS POST of a Block Kit payload. The webhook URL is a secret
// (anyone who has it can post), so it never appears in an error, a log line or the text.
import type { Message, Notifier, SendContext } from "./notifier.js";
import { postJson } from "./http-post.js";
import { requestFailure, statusFailure } from "./http-errors.js";
import { renderSlack, type RenderOptions } from "./render.js";

export interface SlackOptions {
  webhookUrl: string;
  render?: RenderOptions;
}

const WHAT = "the Slack webhook";

export function slackNotifier(options: SlackOptions): Notifier {
  const secrets = [...(options.render?.secrets ?? []), options.webhookUrl];
  const render: RenderOptions = { ...options.render, secrets };

  async function post(payload: unknown, context: SendContext) {
    try {
      return await postJson(options.webhookUrl, payload, { signal: context.signal, ...(context.localAddress ? { localAddress: context.localAddress } : {}) });
    } catch (error) {
      throw requestFailure("slack", WHAT, error, context.signal);
    }
  }

  return {
    channel: "slack",
    async send(message: Message, context: SendContext): Promise<void> {
      const payload = renderSlack(message, render);
      let answer = await post(payload, context);
      // Slack answers 400 invalid_blocks when it dislikes a block; the message must still go
      // out, so try once more with the plain-text fallback alone rather than retry forever.
      if (answer.status === 400) answer = await post({ text: payload.text, metadata: payload.metadata }, context);
      if (answer.status < 200 || answer.status > 299) throw statusFailure("slack", WHAT, answer.status, answer.body, secrets);
    },
  };
}
