// The Slack and generic webhook adapters against a fake endpoint on 127.0.0.1.
import { afterEach, describe, expect, test } from "vitest";
import { createMessage } from "../../src/notify/notifier.js";
import { slackNotifier } from "../../src/notify/slack.js";
import { webhookNotifier } from "../../src/notify/webhook.js";
import { context, failure, flapping, switchAlert } from "./fixtures.js";
import { freePort, startHttp, type HttpFake } from "./servers.js";
import { slackPayloadProblems } from "./slack-blocks.js";

const servers: HttpFake[] = [];
async function server(options: Parameters<typeof startHttp>[0] = {}): Promise<HttpFake> {
  const s = await startHttp(options);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});


describe("Slack incoming webhook", () => {
  test("receives a well-formed Block Kit payload with a text fallback", async () => {
    const slack = await server();
    const alert = switchAlert();
    await slackNotifier({ webhookUrl: slack.url(), render: { timeZone: "UTC" } }).send(createMessage([alert]), context());
    expect(slack.posts).toHaveLength(1);
    const post = slack.posts[0]!;
    expect(post.path).toBe("/services/T000/B000/XXXXSECRETXXXX");
    expect(post.headers["content-type"]).toBe("application/json; charset=utf-8");
    const payload = post.json as { text: string; blocks: { type: string }[]; metadata: { event_payload: { alert_ids: string } } };
    expect(slackPayloadProblems(payload)).toEqual([]);
    expect(payload.text).toBe("office switched wan1 → wan2 (wan1 down: 100% loss over 3 rounds)");
    expect(payload.blocks[0]).toEqual({ type: "header", text: { type: "plain_text", text: "🔀 office switched wan1 → wan2", emoji: true } });
    expect(payload.metadata.event_payload.alert_ids).toBe(alert.id);
  });

  test("a digest is well-formed too", async () => {
    const slack = await server();
    const alerts = flapping(10);
    await slackNotifier({ webhookUrl: slack.url() }).send(createMessage(alerts.slice(1), alerts.slice(0, 1)), context());
    expect(slackPayloadProblems(slack.posts[0]!.json)).toEqual([]);
  });

  test.each([
    [500, "internal error", "HTTP_500"],
    [404, "no_service", "HTTP_404"],
    [403, "invalid_token", "HTTP_403"],
  ])("an answer %i is an error that names the status, never the webhook URL", async (status, body, code) => {
    const slack = await server();
    slack.answer = { status, body };
    const url = slack.url();
    const error = await failure(slackNotifier({ webhookUrl: url }).send(createMessage([switchAlert()]), context()));
    expect(error.code).toBe(code);
    expect(error.message).toBe(`slack: the Slack webhook answered HTTP ${status} (${body})`);
    expect(error.message).not.toContain("XXXXSECRETXXXX");
    expect(error.message).not.toContain(String(slack.port));
  });

  test("an answer that quotes the URL is scrubbed", async () => {
    const slack = await server();
    slack.answer = { status: 410, body: `gone: ${slack.url()}` };
    const error = await failure(slackNotifier({ webhookUrl: slack.url() }).send(createMessage([switchAlert()]), context()));
    expect(error.message).not.toContain("XXXXSECRETXXXX");
    expect(error.message).toContain("[redacted]");
  });

  test("blocks Slack refuses (400) are retried once as plain text, so the alert still arrives", async () => {
    const slack = await server();
    slack.nextAnswers.push({ status: 400, body: "invalid_blocks" });
    await slackNotifier({ webhookUrl: slack.url() }).send(createMessage([switchAlert()]), context());
    expect(slack.posts).toHaveLength(1);
    const payload = slack.posts[0]!.json as Record<string, unknown>;
    expect(payload.blocks).toBeUndefined();
    expect(payload.text).toContain("wan1 → wan2");
  });

  test("an unreachable webhook is reported without its URL", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/services/T000/B000/XXXXSECRETXXXX`;
    const error = await failure(slackNotifier({ webhookUrl: url }).send(createMessage([switchAlert()]), context()));
    expect(error.code).toBe("ECONNREFUSED");
    expect(error.message).toBe("slack: cannot reach the Slack webhook (connection refused)");
  });

  test("a webhook that accepts and never answers is given up when the signal fires", async () => {
    const slack = await server({ hang: true });
    const controller = new AbortController();
    const sending = slackNotifier({ webhookUrl: slack.url() }).send(createMessage([switchAlert()]), { signal: controller.signal });
    controller.abort();
    const error = await failure(sending);
    expect(error.code).toBe("ETIMEDOUT");
    expect(error.message).toBe("slack: the Slack webhook did not answer in time");
  });
});

describe("generic webhook", () => {
  test("gets the alert as JSON with the bearer token and the message id as Idempotency-Key", async () => {
    const hook = await server();
    const alert = switchAlert();
    await webhookNotifier({ url: hook.url("/alerts"), token: "tok-123456" }).send(createMessage([alert]), context());
    const post = hook.posts[0]!;
    expect(post.headers.authorization).toBe("Bearer tok-123456");
    expect(post.headers["idempotency-key"]).toBe(alert.id);
    expect(post.json).toMatchObject({ source: "wanctl", messageId: alert.id, alerts: [{ id: alert.id, kind: "failover", from: "wan1", to: "wan2" }] });
  });

  // Alerts reach a notifier scrubbed by the outbox (outbox.test.ts); its own errors it scrubs itself.
  test("the token never appears in an error", async () => {
    const hook = await server();
    const alert = switchAlert();
    hook.answer = { status: 401, body: "bad token tok-123456" };
    const error = await failure(webhookNotifier({ url: hook.url("/alerts"), token: "tok-123456" }).send(createMessage([alert]), context()));
    expect(error.message).toBe("webhook: the webhook endpoint answered HTTP 401 (bad token [redacted])");
  });
});
