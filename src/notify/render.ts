// The text of an alert for each channel: email, Slack Block Kit, webhook JSON. Pure: a message and
// options in, data out. One module per job under render/; this one keeps the import path the
// channels and tests use.
export { renderEmail, type EmailContent } from "./render/email.js";
export { renderSlack, type SlackPayload } from "./render/slack.js";
export type { SlackBlock, SlackText } from "./render/slack-blocks.js";
export type { RenderOptions } from "./render/view.js";
export { renderWebhook, type WebhookPayload } from "./render/webhook.js";
export { headline } from "./render/words.js";
