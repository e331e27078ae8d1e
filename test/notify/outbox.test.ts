// The outbox with real adapters and servers on 127.0.0.1, and a clock the test moves: the
// outbox survives a restart, bursts are coalesced, the rate limit merges, channels are independent.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { Alert } from "../../src/notify/alert.js";
import { AlertOutbox, type AlertOutboxOptions, type NotifyLog } from "../../src/notify/outbox.js";
import { emailNotifier } from "../../src/notify/email.js";
import type { Message, Notifier } from "../../src/notify/notifier.js";
import { outboxFile } from "../../src/notify/outbox-file.js";
import { slackNotifier } from "../../src/notify/slack.js";
import { webhookNotifier } from "../../src/notify/webhook.js";
import { FakeClock, flapping, switchAlert, tempStateDir, waitFor } from "./fixtures.js";
import { freePort, startHttp, startSmtp, type HttpFake, type ReceivedMail, type SmtpFake } from "./servers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function stateDir(): string {
  const { dir, cleanup } = tempStateDir();
  cleanups.push(cleanup);
  return dir;
}

function channels(smtpPort: number, slackPort: number): Notifier[] {
  return [
    emailNotifier({
      host: "127.0.0.1",
      port: smtpPort,
      security: "none",
      username: "alerts",
      password: "s3cret-pass",
      from: "wanctl@office.example",
      to: ["it@office.example", "oncall@msp.example"],
      render: { timeZone: "UTC" },
      timeouts: { connectionMs: 5_000, greetingMs: 5_000, socketMs: 5_000 },
    }),
    slackNotifier({ webhookUrl: `http://127.0.0.1:${slackPort}/services/T000/B000/XXXXSECRETXXXX`, render: { timeZone: "UTC" } }),
  ];
}

function open(options: Partial<AlertOutboxOptions> & Pick<AlertOutboxOptions, "stateDir" | "notifiers" | "clock">): AlertOutbox {
  const outbox = AlertOutbox.open({ coalesceSeconds: 60, maxPerHour: 20, random: () => 1, ...options });
  cleanups.push(() => outbox.stop({ graceMs: 0 }));
  return outbox;
}

async function smtpServer(port?: number): Promise<SmtpFake> {
  const server = await startSmtp({ ...(port ? { port } : {}), user: "alerts", password: "s3cret-pass" });
  cleanups.push(() => server.close());
  return server;
}

async function httpServer(options: Parameters<typeof startHttp>[0] = {}): Promise<HttpFake> {
  const server = await startHttp(options);
  cleanups.push(() => server.close());
  return server;
}

/** Alert ids each server accepted, counted (the ids a message delivers, not its context). */
function mailIds(mails: ReceivedMail[]): string[] {
  return mails.flatMap((m) => (m.headers.get("x-wanctl-alert-ids") ?? "").split(", ").filter(Boolean));
}
function slackIds(server: HttpFake): string[] {
  return server.posts.flatMap((p) => (p.json as { metadata: { event_payload: { alert_ids: string } } }).metadata.event_payload.alert_ids.split(","));
}
function countById(ids: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

function recordingLog(): NotifyLog & { lines: string[] } {
  const lines: string[] = [];
  const record = (obj: object, msg: string) => void lines.push(`${msg} ${JSON.stringify(obj)}`);
  return { lines, info: record, warn: record, error: record };
}

describe("outbox", () => {
  test("with both channels unreachable, alerts queue on disk, survive a restart and are delivered once each when the channels come back", async () => {
    const dir = stateDir();
    const smtpPort = await freePort();
    const slackPort = await freePort();
    const clock = new FakeClock();
    const first = open({ stateDir: dir, notifiers: channels(smtpPort, slackPort), clock });

    const alerts = flapping(4);
    for (const alert of alerts) {
      first.enqueue(alert);
      await first.settled();
      clock.advance(20_000); // within the coalescing window, and past some backoff
      await first.settled();
    }
    const status = first.status();
    expect(status.map((s) => [s.channel, s.queued])).toEqual([
      ["email", 4],
      ["slack", 4],
    ]);
    expect(status[0]!.lastError).toBe(`email: cannot reach 127.0.0.1:${smtpPort} (connection refused)`);
    expect(status[1]!.lastError).toBe("slack: cannot reach the Slack webhook (connection refused)");
    for (const channel of ["email", "slack"]) {
      const onDisk = readFileSync(outboxFile(dir, channel), "utf8");
      for (const alert of alerts) expect(onDisk).toContain(alert.id);
      expect(onDisk).not.toContain("XXXXSECRETXXXX");
      expect(onDisk).not.toContain("s3cret-pass");
    }
    await first.stop({ graceMs: 0 });

    // The restart: a new outbox on the same state directory; then the servers come back.
    const smtp = await smtpServer(smtpPort);
    const slack = await httpServer({ port: slackPort });
    const second = open({ stateDir: dir, notifiers: channels(smtpPort, slackPort), clock });
    for (let i = 0; i < 20 && second.status().some((s) => s.queued > 0); i++) {
      clock.advance(60_000);
      await second.settled();
    }
    expect(second.status().map((s) => s.queued)).toEqual([0, 0]);

    const expected = new Map(alerts.map((a) => [a.id, 1]));
    expect(countById(mailIds(smtp.mails))).toEqual(expected);
    expect(countById(slackIds(slack))).toEqual(expected);
    // Bounded: the frozen first message, then one digest of the rest.
    expect(smtp.mails.length).toBeLessThanOrEqual(2);
    expect(slack.posts.length).toBeLessThanOrEqual(2);
    expect(smtp.mails.at(-1)!.text).toContain("now on wan1");

    // Nothing more goes out later, and a third start finds nothing to send.
    const delivered = smtp.mails.length + slack.posts.length;
    clock.advance(3_600_000);
    await second.settled();
    await second.stop({ graceMs: 0 });
    const third = open({ stateDir: dir, notifiers: channels(smtpPort, slackPort), clock });
    await third.settled();
    clock.advance(600_000);
    await third.settled();
    expect(smtp.mails.length + slack.posts.length).toBe(delivered);
    expect(countById(mailIds(smtp.mails))).toEqual(expected);
    expect(countById(slackIds(slack))).toEqual(expected);
  });

  test("a message interrupted by a crash is sent again with the same id, so the duplicate can be told", async () => {
    const dir = stateDir();
    const crashed = stateDir();
    const seen: string[] = [];
    const recorder = (onSend?: () => void): Notifier => ({
      channel: "webhook",
      async send(message: Message) {
        seen.push(message.id);
        onSend?.();
      },
    });
    const clock = new FakeClock();
    // While the first run sends, snapshot the state directory: what a kill -9 at that moment leaves.
    const first = open({ stateDir: dir, notifiers: [recorder(() => cpSync(join(dir, "outbox"), join(crashed, "outbox"), { recursive: true }))], clock });
    first.enqueue(switchAlert());
    await first.settled();
    writeFileSync(join(crashed, "outbox", "lock"), "999999999\n"); // the dead process's lock
    const second = open({ stateDir: crashed, notifiers: [recorder()], clock });
    await second.settled();
    expect(seen).toHaveLength(2);
    expect(seen[1]).toBe(seen[0]);
  });

  test("enqueue returns at once with the alert on disk, even while a channel hangs", async () => {
    const dir = stateDir();
    const hanging = await httpServer({ hang: true });
    const clock = new FakeClock();
    const outbox = open({ stateDir: dir, notifiers: [webhookNotifier({ url: hanging.url("/hook") })], clock, sendTimeoutMs: 30_000 });
    const a = switchAlert();
    const b = switchAlert({ offsetMs: 1000 });
    outbox.enqueue(a);
    outbox.enqueue(b);
    const onDisk = readFileSync(outboxFile(dir, "webhook"), "utf8");
    expect(onDisk).toContain(a.id);
    expect(onDisk).toContain(b.id);
  });

  test("secret values never reach the outbox file", async () => {
    const dir = stateDir();
    const clock = new FakeClock();
    const port = await freePort();
    const outbox = open({ stateDir: dir, notifiers: [webhookNotifier({ url: `http://127.0.0.1:${port}/` })], clock, secrets: ["hunter2-token"] });
    const alert = switchAlert();
    alert.timeline[2]!.detail = "provider said: bad auth hunter2-token";
    outbox.enqueue(alert);
    await outbox.settled();
    const onDisk = readFileSync(outboxFile(dir, "webhook"), "utf8");
    expect(onDisk).toContain(alert.id);
    expect(onDisk).not.toContain("hunter2-token");
  });

  test("a secret quoted by another step leaves on no channel, in plain or URL-encoded form: the outbox scrubs every alert as it enters", async () => {
    const dir = stateDir();
    const smtp = await smtpServer();
    const hook = await httpServer();
    const webhookUrl = "https://hooks.slack.com/services/T1/B2/abcdefSECRET";
    const outbox = open({ stateDir: dir, notifiers: [channels(smtp.port, 1)[0]!, webhookNotifier({ url: hook.url("/hook") })], clock: new FakeClock(), secrets: ["p@ss-w0rd", webhookUrl] });
    const alert = switchAlert();
    alert.timeline[2]!.detail = `dyndns answered badauth for https://user:p%40ss-w0rd@dyn.example/update; slack ${webhookUrl}`;
    alert.reason = "password p@ss-w0rd rejected";
    outbox.enqueue(alert);
    await outbox.flush();
    const sent = [...smtp.mails.map((m) => JSON.stringify(m)), ...hook.posts.map((p) => JSON.stringify(p.json))];
    expect(sent).toHaveLength(2);
    for (const text of sent) {
      expect(text).not.toContain("p@ss-w0rd");
      expect(text).not.toContain("p%40ss-w0rd");
      expect(text).not.toContain("abcdefSECRET");
      expect(text).toContain("[redacted]");
    }
  });

  test("a lock file left by an older wanctl, naming a process that is alive (a PID reused after a reboot), blocks nothing", async () => {
    const dir = stateDir();
    mkdirSync(join(dir, "outbox"));
    writeFileSync(join(dir, "outbox", "lock"), `${process.ppid}\n`);
    const smtp = await smtpServer();
    const outbox = open({ stateDir: dir, notifiers: [channels(smtp.port, 1)[0]!], clock: new FakeClock() });
    outbox.enqueue(switchAlert());
    await outbox.settled();
    expect(smtp.mails).toHaveLength(1);
  });

  test("a damaged outbox is moved aside with a warning, and the channel carries on", async () => {
    const dir = stateDir();
    const log = recordingLog();
    const smtp = await smtpServer();
    mkdirSync(join(dir, "outbox"));
    writeFileSync(outboxFile(dir, "email"), "{ half written");
    const clock = new FakeClock();
    const outbox = open({ stateDir: dir, notifiers: [channels(smtp.port, 1)[0]!], clock, log });
    expect(log.lines.join("\n")).toContain("damaged");
    expect(readdirSync(join(dir, "outbox")).some((f) => f.startsWith("email.json.damaged-"))).toBe(true);
    // Said to the daemon, which shows it in the status and alerts it on every channel.
    expect(outbox.damaged).toEqual([expect.stringMatching(/^alert outbox of email: .*email\.json: damaged .*; moved to .*; alerts it held were not delivered$/)]);
    outbox.enqueue(switchAlert());
    await outbox.settled();
    expect(smtp.mails).toHaveLength(1);
  });
});

describe("coalescing and rate limit", () => {
  test("a burst of ten switches in a minute gives two messages per channel that tell all ten", async () => {
    const dir = stateDir();
    const smtp = await smtpServer();
    const slack = await httpServer();
    const clock = new FakeClock();
    const outbox = open({ stateDir: dir, notifiers: channels(smtp.port, slack.port), clock });
    const alerts = flapping(10);
    for (const [i, alert] of alerts.entries()) {
      if (i > 0) clock.advance(6_000);
      outbox.enqueue(alert);
      await outbox.settled();
    }
    clock.advance(60_000);
    await outbox.settled();

    expect(smtp.mails).toHaveLength(2);
    expect(slack.posts).toHaveLength(2);
    expect(smtp.mails[0]!.subject).toBe("[wanctl] office switched wan1 → wan2 (wan1 down: 100% loss over 3 rounds)");
    const digest = smtp.mails[1]!;
    expect(digest.subject).toBe("[wanctl] office: 10 switches between 10:00:03 and 10:00:57, now on wan1");
    expect(digest.text).toContain("10 switches between 10:00:03 and 10:00:57: wan1→wan2 ×5, wan2→wan1 ×5; now on wan1.");
    expect(digest.text.split("\n").filter((l) => /^ {2}\d\d:\d\d:\d\d {2}fail(over|back)/.test(l))).toHaveLength(10);
    expect(JSON.stringify(slack.posts[1]!.json)).toContain("now on wan1");
    const expected = new Map(alerts.map((a) => [a.id, 1]));
    expect(countById(mailIds(smtp.mails))).toEqual(expected);
    expect(countById(slackIds(slack))).toEqual(expected);
  });

  test("beyond maxPerHour alerts are merged into the next allowed message, not lost", async () => {
    const dir = stateDir();
    const hook = await httpServer();
    const clock = new FakeClock();
    const outbox = open({ stateDir: dir, notifiers: [webhookNotifier({ url: hook.url("/hook") })], clock, coalesceSeconds: 0, maxPerHour: 2 });
    const alerts = flapping(6);
    for (const alert of alerts) {
      outbox.enqueue(alert);
      await outbox.settled();
      clock.advance(60_000);
      await outbox.settled();
    }
    expect(hook.posts).toHaveLength(2);
    expect(outbox.status()[0]).toMatchObject({ queued: 4, sentLastHour: 2 });
    clock.advance(3_600_000);
    await outbox.settled();
    expect(hook.posts).toHaveLength(3);
    const last = hook.posts[2]!.json as { alerts: Alert[]; summary: string };
    expect(last.alerts.map((a) => a.id)).toEqual(alerts.slice(2).map((a) => a.id));
    expect(last.summary).toContain("4 switches");
  });
});

describe("independent channels", () => {
  test("a channel that hangs does not delay the other; it is cut off by its timeout and retried", async () => {
    const dir = stateDir();
    const smtp = await smtpServer();
    const slack = await httpServer({ hang: true });
    const clock = new FakeClock();
    const outbox = open({ stateDir: dir, notifiers: channels(smtp.port, slack.port), clock, sendTimeoutMs: 30_000 });
    const alert = switchAlert();
    outbox.enqueue(alert);
    // Email arrives (and is acknowledged) while the Slack request is still open.
    await waitFor(() => smtp.mails.length === 1 && outbox.status()[0]!.queued === 0, "the email");
    expect(outbox.status().map((s) => [s.channel, s.queued])).toEqual([
      ["email", 0],
      ["slack", 1],
    ]);
    clock.advance(30_000); // Slack's attempt times out
    await outbox.settled();
    expect(outbox.status()[1]).toMatchObject({ queued: 1, attempts: 1, lastError: "slack: the Slack webhook did not answer in time" });

    // A second alert: email is not held back by Slack's backoff either.
    clock.advance(61_000);
    outbox.enqueue(switchAlert({ from: "wan2", to: "wan1", offsetMs: 91_000 }));
    await waitFor(() => smtp.mails.length === 2, "the second email");
  });

  test("an adapter that ignores the abort signal still cannot hold its channel", async () => {
    const dir = stateDir();
    const never: Notifier = { channel: "stuck", send: () => new Promise(() => {}) };
    const clock = new FakeClock();
    const outbox = open({ stateDir: dir, notifiers: [never], clock, sendTimeoutMs: 10_000 });
    outbox.enqueue(switchAlert());
    await waitFor(() => clock.pendingTimers() > 0, "the attempt to start");
    clock.advance(10_000);
    await outbox.settled();
    expect(outbox.status()[0]).toMatchObject({ queued: 1, lastError: "stuck: the send did not finish in time" });
  });

  test("retryNow sends at once what waits on a backoff (e.g. after the office changed link)", async () => {
    const dir = stateDir();
    const port = await freePort();
    const clock = new FakeClock();
    const outbox = open({ stateDir: dir, notifiers: [webhookNotifier({ url: `http://127.0.0.1:${port}/hook` })], clock });
    outbox.enqueue(switchAlert());
    await outbox.settled();
    expect(outbox.status()[0]!.attempts).toBe(1);
    const hook = await httpServer({ port });
    outbox.retryNow();
    await outbox.settled();
    expect(hook.posts).toHaveLength(1);
  });

  test("the source address of each attempt comes from the daemon", async () => {
    const dir = stateDir();
    const smtp = await smtpServer();
    const clock = new FakeClock();
    const asked: string[] = [];
    const outbox = open({
      stateDir: dir,
      notifiers: [channels(smtp.port, 1)[0]!],
      clock,
      localAddress: (channel) => {
        asked.push(channel);
        return "127.0.0.1";
      },
    });
    outbox.enqueue(switchAlert());
    await outbox.settled();
    expect(asked).toEqual(["email"]);
    expect(smtp.mails).toHaveLength(1);
  });

  test("flush sends what waits for the coalescing window; stop keeps the rest for the next start", async () => {
    const dir = stateDir();
    const hook = await httpServer();
    const clock = new FakeClock();
    const outbox = open({ stateDir: dir, notifiers: [webhookNotifier({ url: hook.url("/hook") })], clock });
    const [a, b, c] = flapping(3);
    outbox.enqueue(a!);
    await outbox.settled();
    outbox.enqueue(b!);
    await outbox.settled();
    expect(hook.posts).toHaveLength(1);
    expect(await outbox.flush()).toEqual([{ channel: "webhook", ok: true, queued: 0 }]);
    expect(hook.posts).toHaveLength(2);
    outbox.enqueue(c!);
    await outbox.stop({ graceMs: 0 });
    expect(existsSync(join(dir, "outbox", "lock"))).toBe(false);
    expect(readFileSync(outboxFile(dir, "webhook"), "utf8")).toContain(c!.id);
  });
});
