import { describe, expect, test } from "vitest";
import { createAlert } from "../../src/notify/alert.js";
import { createMessage } from "../../src/notify/notifier.js";
import { renderEmail } from "../../src/notify/render/email.js";
import { renderSlack } from "../../src/notify/render/slack.js";
import { renderWebhook } from "../../src/notify/render/webhook.js";
import { flapping, switchAlert } from "./fixtures.js";
import { slackPayloadProblems } from "./slack-blocks.js";

const utc = { timeZone: "UTC" };

describe("one alert", () => {
  test("the email subject says what happened, from which link to which, and why", () => {
    const { subject } = renderEmail(createMessage([switchAlert()]), utc);
    expect(subject).toBe("[wanctl] office switched wan1 → wan2 (wan1 down: 100% loss over 3 rounds)");
  });

  test("the body has the new public address, the figures per link and the timeline of steps", () => {
    const { text } = renderEmail(createMessage([switchAlert({ dnsFails: true })]), utc);
    expect(text).toContain("office switched from wan1 to wan2 at 2026-03-02 10:00:03 UTC.");
    expect(text).toContain("Public address: 198.51.100.7");
    expect(text).toContain("Outcome:        1 of 5 steps failed (dns)");
    expect(text).toMatch(/wan1 +down +loss 100% +latency – +jitter –/);
    expect(text).toMatch(/wan2 +up +loss 0% +latency 23 ms +jitter 2.1 ms/);
    expect(text).toMatch(/\+0 ms +ok +route +120 ms +default via wan2 gateway/);
    expect(text).toMatch(/\+430 ms +FAILED +dns +5 s +cloudflare: timed out after 5 s/);
    expect(text).toMatch(/\+1.08 s +ok +trunks +2.1 s +2 of 2 trunks Registered/);
  });

  test("a failed step shows in the subject; the office's time zone is used", () => {
    const { subject, text } = renderEmail(createMessage([switchAlert({ dnsFails: true })]), { timeZone: "Europe/Paris" });
    expect(subject).toContain("office switched wan1 → wan2, 1 step failed");
    expect(text).toContain("at 2026-03-02 11:00:03 CET");
  });

  test("each kind has its own subject", () => {
    const at = new Date("2026-03-02T10:00:00Z");
    const subject = (input: Parameters<typeof createAlert>[0]) => renderEmail(createMessage([createAlert(input, at, "x")]), utc).subject;
    const links = [{ link: "wan1" }, { link: "wan2" }];
    expect(subject({ kind: "all-down", reason: "wan1 and wan2: no probe answered", links })).toBe("[wanctl] office: both links down (wan1 and wan2: no probe answered)");
    expect(subject({ kind: "step-failed", to: "wan2", reason: "DNS update retried", timeline: [{ step: "dns", ok: false, durationMs: 5000 }] })).toBe(
      "[wanctl] office on wan2: step dns failed (DNS update retried)",
    );
    expect(subject({ kind: "drill", site: "Lyon office", from: "wan1", to: "wan2", reason: "weekly drill", timeline: [{ step: "route", ok: true, durationMs: 1 }] })).toBe(
      "[wanctl] Lyon office: failover drill passed (wan1 → wan2) (weekly drill)",
    );
    expect(subject({ kind: "drill", reason: "weekly drill", timeline: [{ step: "trunks", ok: false, durationMs: 1 }] })).toBe(
      "[wanctl] office: failover drill FAILED: 1 step (trunks) (weekly drill)",
    );
    expect(subject({ kind: "test", reason: "wanctl test --notify" })).toBe("[wanctl] office: test alert (wanctl test --notify)");
  });

  test("Slack gets well-formed blocks: a header, fields, the links, the timeline and a context line", () => {
    const payload = renderSlack(createMessage([switchAlert({ dnsFails: true })]), utc);
    expect(slackPayloadProblems(payload)).toEqual([]);
    expect(payload.text).toBe("office switched wan1 → wan2, 1 step failed (wan1 down: 100% loss over 3 rounds)");
    expect(payload.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "section", "context"]);
    const all = JSON.stringify(payload.blocks);
    expect(all).toContain("*Public address*\\n198.51.100.7");
    expect(all).toContain("❌ *dns* · 5 s — cloudflare: timed out after 5 s");
    expect(payload.metadata.event_payload.alert_ids).toBe(payload.metadata.event_payload.message_id);
  });

  test("a reason with line breaks stays on the subject line", () => {
    const alert = switchAlert();
    alert.reason = "wan1 down\r\nBcc: someone@example.com";
    expect(renderEmail(createMessage([alert]), utc).subject).toBe("[wanctl] office switched wan1 → wan2 (wan1 down Bcc: someone@example.com)");
  });

  test("text from elsewhere cannot break Slack's formatting", () => {
    const alert = switchAlert();
    alert.reason = "probe <script> & <!channel>";
    const payload = renderSlack(createMessage([alert]), utc);
    expect(JSON.stringify(payload.blocks)).toContain("probe &lt;script&gt; &amp; &lt;!channel&gt;");
    expect(JSON.stringify(payload.blocks)).not.toContain("<!channel>");
  });

  test("the webhook JSON carries the alert whole and the message id", () => {
    const alert = switchAlert();
    const payload = renderWebhook(createMessage([alert]), utc);
    expect(payload).toMatchObject({ source: "wanctl", version: 1, messageId: alert.id, alerts: [alert], earlier: [], omitted: 0 });
    expect(payload.summary).toContain("wan1 → wan2");
  });
});

describe("digests", () => {
  test("ten switches in a minute read as one story: counts, every transition, and where the office is now", () => {
    const alerts = flapping(10);
    const message = createMessage(alerts.slice(1), alerts.slice(0, 1));
    const { subject, text } = renderEmail(message, utc);
    expect(subject).toBe("[wanctl] office: 10 switches between 10:00:03 and 10:00:57, now on wan1");
    expect(text.split("\n")[0]).toBe("10 switches between 10:00:03 and 10:00:57: wan1→wan2 ×5, wan2→wan1 ×5; now on wan1.");
    const events = text.split("\n").filter((l) => /^ {2}\d\d:\d\d:\d\d {2}(failover|failback)/.test(l));
    expect(events).toHaveLength(10);
    expect(events[0]).toContain("10:00:03  failover wan1 → wan2 — wan1 down: 100% loss over 3 rounds (reported earlier)");
    expect(events[9]).toContain("10:00:57  failback wan2 → wan1");
    // The latest event in full: its timeline and the public address now.
    expect(text).toContain("Latest:");
    expect(text).toContain("Public address: 203.0.113.2");
    expect(text).toMatch(/ok +trunks/);
  });

  test("a long digest is capped, keeping the newest, and says how many it left out", () => {
    const alerts = flapping(30);
    const { text } = renderEmail(createMessage(alerts), { ...utc, maxListed: 5 });
    expect(text).toContain("30 switches between 10:00:03 and 10:02:57: wan1→wan2 ×15, wan2→wan1 ×15; now on wan1.");
    expect(text).toContain("… 25 earlier not listed");
    expect(text.split("\n").filter((l) => /^ {2}\d\d:\d\d:\d\d {2}/.test(l))).toHaveLength(5);
  });

  test("a mixed digest counts each kind and ends with the current state", () => {
    const at = (s: number) => new Date(Date.parse("2026-03-02T10:00:00Z") + s * 1000);
    const alerts = [
      switchAlert({ offsetMs: 0 }),
      createAlert({ kind: "all-down", reason: "no link answers", links: [{ link: "wan1" }, { link: "wan2" }] }, at(20), "d1"),
    ];
    const payload = renderSlack(createMessage(alerts), utc);
    expect(slackPayloadProblems(payload)).toEqual([]);
    expect(payload.text).toBe("2 events between 10:00:03 and 10:00:20: 1 switch (wan1→wan2 ×1), all links down once; now all links down");
    expect(payload.blocks[0]).toMatchObject({ type: "header", text: { text: "🔁 office: 2 events, now all links down" } });
  });

  test("the way out through a followed router: down, then a switch of the router's and back, told as one story", () => {
    const at = (s: number) => new Date(Date.parse("2026-03-02T10:00:00Z") + s * 1000);
    const links = [{ link: "gateway", state: "down" as const, lossPct: 100 }, { link: "wan1" }, { link: "wan2" }];
    const down = createAlert({ kind: "gateway-down", to: "wan1", reason: "no answer through the router: 3 rounds failed", links, ok: false }, at(0), "g1");
    const email = renderEmail(createMessage([down]), utc);
    expect(email.subject).toBe("[wanctl] office: no Internet through the router (no answer through the router: 3 rounds failed)");
    expect(email.text).toContain("office's way out through its router stopped answering wanctl's probes at 2026-03-02 10:00:00 UTC.");
    expect(email.text).toContain("alerts are queued until it finds a way out");
    const up = createAlert({ kind: "gateway-up", to: "wan2", reason: "the way out through the router answers again after 4 s down: 2 rounds passed", ok: true }, at(5), "g2");
    expect(renderEmail(createMessage([up]), utc).subject).toBe("[wanctl] office: Internet through the router again (the way out through the router answers again after 4 s down: 2 rounds passed)");
    const followed = { ...switchAlert({ offsetMs: 0 }), at: at(4).toISOString() };
    const payload = renderSlack(createMessage([down, followed, up]), utc);
    expect(slackPayloadProblems(payload)).toEqual([]);
    expect(payload.text).toBe("3 events between 10:00:00 and 10:00:05: 1 switch (wan1→wan2 ×1), no Internet through the router once, back once; now on wan2");
  });

  test("a digest of many long events still fits Slack's limits", () => {
    const alerts = flapping(200).map((a) => ({ ...a, reason: `${a.reason} ${"x".repeat(150)}` }));
    const payload = renderSlack(createMessage(alerts), { ...utc, maxListed: 200 });
    expect(slackPayloadProblems(payload)).toEqual([]);
    expect(JSON.stringify(payload.blocks)).toContain("more");
  });

  test("events dropped by the outbox cap are still counted in the text", () => {
    const alerts = flapping(2);
    const { text } = renderEmail(createMessage(alerts, [], 7), utc);
    expect(text.split("\n")[0]).toContain("(7 older not kept)");
  });
});
