// Slack incoming webhooks: one HTTPS POST of a Block Kit payload. The webhook URL is a secret
// (anyone who has it can post), so it never appears in an error, a log line or the text.
import type { Message, Notifier, SendContext } from "./notifier.js";
import { postJson, statusFailure, type JsonEndpoint } from "./http-post.js";
import { renderSlack } from "./render/slack.js";
import type { RenderOptions } from "./render/view.js";

export interface SlackOptions {
  webhookUrl: string;
  render?: RenderOptions;
}

export function slackNotifier(options: SlackOptions): Notifier {
  // Its own URL is its secret: kept out of the error an endpoint's answer makes.
  const secrets = [options.webhookUrl];
  const render: RenderOptions = { ...options.render };
  const endpoint: JsonEndpoint = { channel: "slack", what: "the Slack webhook", url: options.webhookUrl };
  return {
    channel: "slack",
    async send(message: Message, context: SendContext): Promise<void> {
      const payload = renderSlack(message, render);
      let answer = await postJson(endpoint, payload, context);
      // Slack answers 400 invalid_blocks when it dislikes a block; the message must still go
      // out, so try once more with the plain-text fallback alone rather than retry forever.
      if (answer.status === 400) answer = await postJson(endpoint, { text: payload.text, metadata: payload.metadata }, context);
      if (answer.status < 200 || answer.status > 299) throw statusFailure(endpoint, answer, secrets);
    },
  };
}
