// Alerts: what the daemon and the CLI use from src/notify.
export { ALERT_KINDS, alertSucceeded, createAlert, newAlertId, type Alert, type AlertInput, type AlertKind, type AlertStep, type LinkFigures } from "./alert.js";
export { notifiersFromConfig, type ChannelOptions } from "./channels.js";
export { AlertOutbox, systemClock, type ChannelOutcome, type ChannelStatus, type Clock, type AlertOutboxOptions, type NotifyLog } from "./outbox.js";
export { emailNotifier, type EmailOptions } from "./email.js";
export { createMessage, NotifyError, type Message, type Notifier, type SendContext } from "./notifier.js";
export { renderEmail, type EmailContent } from "./render/email.js";
export { renderSlack, type SlackPayload } from "./render/slack.js";
export type { RenderOptions } from "./render/view.js";
export { renderWebhook, type WebhookPayload } from "./render/webhook.js";
export { slackNotifier, type SlackOptions } from "./slack.js";
export { createTestAlert, sendTestAlert, type TestAlertInput, type TestAlertTarget } from "./test-alert.js";
export { webhookNotifier, type WebhookOptions } from "./webhook.js";
