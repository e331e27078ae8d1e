// The email adapter against a real SMTP server (smtp-server) with AUTH, on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { emailNotifier, type EmailOptions } from "../../src/notify/email.js";
import { createMessage } from "../../src/notify/notifier.js";
import { context, failure, switchAlert } from "./fixtures.js";
import { freePort, startSmtp, type SmtpFake } from "./servers.js";

let smtp: SmtpFake;
beforeAll(async () => {
  smtp = await startSmtp({ user: "alerts", password: "s3cret-pass" });
});
afterAll(async () => {
  await smtp.close();
});

const options = (overrides: Partial<EmailOptions> = {}): EmailOptions => ({
  host: "127.0.0.1",
  port: smtp.port,
  security: "none",
  username: "alerts",
  password: "s3cret-pass",
  from: "wanctl@office.example",
  to: ["it@office.example", "boss@office.example", "oncall@msp.example"],
  render: { timeZone: "UTC" },
  timeouts: { connectionMs: 5_000, greetingMs: 5_000, socketMs: 5_000 },
  ...overrides,
});


describe("email over SMTP", () => {
  test("the server receives the email of a switch: subject, every recipient, the timeline, the ids", async () => {
    const alert = switchAlert({ dnsFails: true });
    const before = smtp.mails.length;
    await emailNotifier(options()).send(createMessage([alert]), context());
    expect(smtp.mails).toHaveLength(before + 1);
    const mail = smtp.mails[before]!;
    expect(mail.user).toBe("alerts");
    expect(mail.from).toBe("wanctl@office.example");
    expect(mail.recipients).toEqual(["it@office.example", "boss@office.example", "oncall@msp.example"]);
    expect(mail.headers.get("to")).toBe("it@office.example, boss@office.example, oncall@msp.example");
    expect(mail.subject).toBe("[wanctl] office switched wan1 → wan2, 1 step failed (wan1 down: 100% loss over 3 rounds)");
    expect(mail.headers.get("message-id")).toBe(`<${alert.id}@office.example>`);
    expect(mail.headers.get("x-wanctl-alert-ids")).toBe(alert.id);
    expect(mail.text).toContain("Public address: 198.51.100.7");
    const timeline = mail.text.split("\n").filter((l) => /^ {2}\+/.test(l));
    expect(timeline).toHaveLength(5);
    expect(timeline[0]).toMatch(/^ {2}\+0 ms +ok +route +120 ms +default via wan2 gateway; 4 SIP\/RTP conntrack entries deleted$/);
    expect(timeline[2]).toMatch(/FAILED +dns +5 s +cloudflare: timed out after 5 s$/);
    expect(timeline[4]).toMatch(/ok +trunks +2.1 s +2 of 2 trunks Registered \(expiry 120 s\)$/);
    expect(mail.raw).not.toContain("s3cret-pass");
  });

  test("a wrong password is a clear error that does not quote the password", async () => {
    const error = await failure(emailNotifier(options({ password: "wrong-Passw0rd" })).send(createMessage([switchAlert()]), context()));
    expect(error.code).toBe("EAUTH");
    expect(error.message).toContain(`email: 127.0.0.1:${smtp.port} refused the login of user "alerts"`);
    expect(error.message).toContain("535");
    expect(error.message).not.toContain("wrong-Passw0rd");
    expect(JSON.stringify(error)).not.toContain("wrong-Passw0rd");
  });

  test('security "starttls" against a server without STARTTLS fails, and says why', async () => {
    const error = await failure(emailNotifier(options({ security: "starttls" })).send(createMessage([switchAlert()]), context()));
    expect(error.code).toBe("ETLS");
    expect(error.message).toContain("does not offer STARTTLS, which security \"starttls\" requires");
  });

  test('security "starttls" upgrades the connection before logging in; an untrusted certificate is refused', async () => {
    const tlsServer = await startSmtp({ starttls: true });
    try {
      const secured = options({ port: tlsServer.port, security: "starttls", tls: { rejectUnauthorized: false } });
      await emailNotifier(secured).send(createMessage([switchAlert()]), context());
      expect(tlsServer.mails).toHaveLength(1);
      expect(tlsServer.mails[0]).toMatchObject({ secure: true, user: "alerts" });
      const error = await failure(emailNotifier({ ...secured, tls: undefined }).send(createMessage([switchAlert()]), context()));
      expect(error.code).toBe("ETLS");
      expect(error.message).toContain("TLS with 127.0.0.1");
    } finally {
      await tlsServer.close();
    }
  });

  test('security "tls" against a plain server is a TLS error, not a hang', async () => {
    const error = await failure(emailNotifier(options({ security: "tls" })).send(createMessage([switchAlert()]), context()));
    expect(error.code).toBe("ETLS");
  });

  test("a closed port is reported as connection refused", async () => {
    const port = await freePort();
    const error = await failure(emailNotifier(options({ port })).send(createMessage([switchAlert()]), context()));
    expect(error.code).toBe("ECONNREFUSED");
    expect(error.message).toBe(`email: cannot reach 127.0.0.1:${port} (connection refused)`);
  });

  test("the source address is bound as asked (the link that works)", async () => {
    const before = smtp.mails.length;
    await emailNotifier(options()).send(createMessage([switchAlert()]), { ...context(), localAddress: "127.0.0.1" });
    expect(smtp.mails).toHaveLength(before + 1);
    const error = await failure(emailNotifier(options()).send(createMessage([switchAlert()]), { ...context(), localAddress: "192.0.2.123" }));
    expect(error.code).toBe("EADDRNOTAVAIL");
  });

  test("an aborted send gives up", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await failure(emailNotifier(options()).send(createMessage([switchAlert()]), { signal: controller.signal }));
    expect(error.code).toBe("ETIMEDOUT");
  });
});
