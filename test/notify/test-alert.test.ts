// `wanctl test --notify` (the function the CLI wires) and the channels built from the config.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { alerts as alertsSchema } from "../../src/config/schema/alerts.js";
import { notifiersFromConfig } from "../../src/notify/channels.js";
import { AlertOutbox } from "../../src/notify/outbox.js";
import { createTestAlert, sendTestAlert } from "../../src/notify/test-alert.js";
import { FakeClock, switchAlert, tempStateDir } from "./fixtures.js";
import { freePort, startHttp, startSmtp, type HttpFake, type SmtpFake } from "./servers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function servers(): Promise<{ smtp: SmtpFake; slack: HttpFake; hook: HttpFake }> {
  const smtp = await startSmtp({ user: "alerts", password: "s3cret-pass" });
  const slack = await startHttp();
  const hook = await startHttp();
  cleanups.push(() => smtp.close(), () => slack.close(), () => hook.close());
  return { smtp, slack, hook };
}

/** The alerts section as a user writes it, parsed by the real schema (defaults applied). */
function config(smtpPort: number, slackUrl: string, hookUrl: string, secretDir: string) {
  writeFileSync(join(secretDir, "smtp-password"), "s3cret-pass\n");
  return alertsSchema.parse({
    email: {
      host: "127.0.0.1",
      port: smtpPort,
      security: "none",
      username: "alerts",
      password: { file: join(secretDir, "smtp-password") },
      from: "wanctl@office.example",
      to: ["it@office.example", "boss@office.example"],
    },
    slack: { webhookUrl: slackUrl },
    webhook: { url: hookUrl, token: "hook-token-42" },
  });
}

describe("notifiers from the config", () => {
  test("one notifier per configured channel, secrets read from files and returned for scrubbing", async () => {
    const { dir, cleanup } = tempStateDir();
    cleanups.push(cleanup);
    const { smtp, slack, hook } = await servers();
    const { notifiers, secrets } = notifiersFromConfig(config(smtp.port, slack.url(), hook.url("/hook"), dir));
    expect(notifiers.map((n) => n.channel)).toEqual(["email", "slack", "webhook"]);
    expect(secrets).toEqual(["s3cret-pass", slack.url(), "hook-token-42"]);
    const outcomes = await sendTestAlert({ notifiers, timeoutMs: 10_000 }, createTestAlert({ site: "Lyon office", activeLink: "wan1" }));
    expect(outcomes).toEqual([
      { channel: "email", ok: true, queued: 0 },
      { channel: "slack", ok: true, queued: 0 },
      { channel: "webhook", ok: true, queued: 0 },
    ]);
    expect(smtp.mails[0]!.subject).toMatch(/^\[wanctl\] Lyon office: test alert \(wanctl test --notify on .+\)$/);
    expect(smtp.mails[0]!.recipients).toEqual(["it@office.example", "boss@office.example"]);
    expect(smtp.mails[0]!.text).toContain("If you can read it, alerts reach you on this channel.");
    expect(hook.posts[0]!.headers.authorization).toBe("Bearer hook-token-42");
  });

  test("no channel configured, no notifier", () => {
    expect(notifiersFromConfig(alertsSchema.parse({})).notifiers).toEqual([]);
  });
});

describe("test alert", () => {
  test("from a one-off process: each channel's outcome, the failing one with a clear reason and nothing queued", async () => {
    const { smtp, slack } = await servers();
    slack.answer = { status: 404, body: "no_service" };
    const port = await freePort();
    const { notifiers } = notifiersFromConfig(
      alertsSchema.parse({
        email: { host: "127.0.0.1", port: smtp.port, security: "none", username: "alerts", password: "s3cret-pass", from: "w@office.example", to: ["it@office.example"] },
        slack: { webhookUrl: slack.url() },
        webhook: { url: `http://127.0.0.1:${port}/hook` },
      }),
    );
    const outcomes = await sendTestAlert({ notifiers, timeoutMs: 10_000 });
    expect(outcomes).toEqual([
      { channel: "email", ok: true, queued: 0 },
      { channel: "slack", ok: false, code: "HTTP_404", error: "slack: the Slack webhook answered HTTP 404 (no_service)", queued: 0 },
      { channel: "webhook", ok: false, code: "ECONNREFUSED", error: "webhook: cannot reach the webhook endpoint (connection refused)", queued: 0 },
    ]);
  });

  test("through the daemon: it bypasses coalescing, and a channel that fails keeps it queued until it is back", async () => {
    const { dir, cleanup } = tempStateDir();
    cleanups.push(cleanup);
    const { smtp, slack } = await servers();
    slack.answer = { status: 500, body: "oops" };
    const { notifiers } = notifiersFromConfig(
      alertsSchema.parse({
        email: { host: "127.0.0.1", port: smtp.port, security: "none", username: "alerts", password: "s3cret-pass", from: "w@office.example", to: ["it@office.example"] },
        slack: { webhookUrl: slack.url() },
      }),
    );
    const clock = new FakeClock();
    const outbox = AlertOutbox.open({ stateDir: dir, notifiers, clock, coalesceSeconds: 60, maxPerHour: 1, random: () => 1 });
    cleanups.push(() => outbox.stop({ graceMs: 0 }));

    // A switch just went out on email: the coalescing window is open and the hourly budget spent.
    outbox.enqueue(switchAlert());
    await outbox.settled();
    expect(smtp.mails).toHaveLength(1);

    const outcomes = await sendTestAlert({ outbox }, createTestAlert({ id: "test-alert-1" }));
    expect(outcomes).toEqual([
      { channel: "email", ok: true, queued: 0 },
      { channel: "slack", ok: false, code: "HTTP_500", error: "slack: the Slack webhook answered HTTP 500 (oops)", queued: 2 },
    ]);
    expect(smtp.mails).toHaveLength(2);
    expect(smtp.mails[1]!.headers.get("x-wanctl-alert-ids")).toBe("test-alert-1");

    slack.answer = { status: 200, body: "ok" };
    for (let i = 0; i < 20 && outbox.status()[1]!.queued > 0; i++) {
      clock.advance(60_000);
      await outbox.settled();
    }
    const ids = slack.posts.map((p) => (p.json as { metadata: { event_payload: { alert_ids: string } } }).metadata.event_payload.alert_ids);
    expect(ids.filter((id) => id === "test-alert-1")).toHaveLength(1);
    expect(outbox.status()[1]!.queued).toBe(0);
  });
});
