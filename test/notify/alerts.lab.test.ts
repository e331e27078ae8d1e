// Alerts of a real switch: the daemon in the lab's office fails over, and a real SMTP server (with
// auth) and a Slack webhook fake in the lab's internet receive the alert through the link that works.
import { createRequire } from "node:module";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { SERVICES, type LabProcess } from "../lab/index.js";
import { startDaemon, switchedTo, waitForStatus } from "../lab/daemon-harness.js";
import { describeLab, useLab } from "../lab/vitest.js";
import { parseMail } from "./servers.js";
import { labConfig, writeLabConfig } from "../lab/wanctl-config.js";

const require = createRequire(import.meta.url);

// Prints one JSON line per accepted mail and per webhook POST.
const SERVERS = `
const { SMTPServer } = require(${JSON.stringify(require.resolve("smtp-server"))});
const http = require("node:http");
const smtp = new SMTPServer({
  authOptional: false, disabledCommands: ["STARTTLS"], allowInsecureAuth: true,
  onAuth(auth, _s, cb) { auth.username === "wanctl" && auth.password === "smtp-pass" ? cb(null, { user: "wanctl" }) : cb(new Error("bad")); },
  onData(stream, session, cb) {
    let data = ""; stream.on("data", (c) => (data += c));
    stream.on("end", () => { console.log(JSON.stringify({ mail: { from: session.envelope.mailFrom.address, to: session.envelope.rcptTo.map((r) => r.address), data, remote: session.remoteAddress } })); cb(); });
  },
});
smtp.listen(2525, "${SERVICES.smtp}", () => {
  http.createServer((req, res) => {
    let body = ""; req.on("data", (c) => (body += c));
    req.on("end", () => { console.log(JSON.stringify({ slack: { path: req.url, body, remote: req.socket.remoteAddress } })); res.end("ok"); });
  }).listen(8080, "${SERVICES.http}", () => console.log(JSON.stringify({ listening: true })));
});
`;

function received(servers: LabProcess): { mail?: { to: string[]; data: string; remote: string }; slack?: { path: string; body: string; remote: string } }[] {
  return servers.stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line));
}

describeLab("alerts of a switch, delivered in the lab", () => {
  const lab = useLab();
  let dir = "";
  let stateDir = "";
  let servers: LabProcess;
  let daemon: LabProcess;

  beforeAll(async () => {
    servers = lab.spawn("inet", [process.execPath, "-e", SERVERS]);
    await servers.waitFor(/"listening"/, 10_000);
    const config = labConfig("");
    config.alerts = {
      email: {
        host: SERVICES.smtp,
        port: 2525,
        security: "none",
        username: "wanctl",
        password: "smtp-pass",
        from: "wanctl@office.example",
        to: ["it@example.com", "oncall@example.com"],
      },
      slack: { webhookUrl: `http://${SERVICES.http}:8080/services/T000/B000/XXXX` },
    };
    ({ dir } = writeLabConfig(config));
    stateDir = join(dir, "state");
    daemon = startDaemon(lab, join(dir, "config.json"));
    await waitForStatus(stateDir, "both links up on wan1", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up"), 20_000, daemon);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a failover's email and Slack message arrive through wan2, with the timeline", async () => {
    await lab.cut("wan1");
    await waitForStatus(stateDir, "failover to wan2", (s) => switchedTo(s, "wan2"), 15_000, daemon);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(received(servers).some((r) => r.mail) && received(servers).some((r) => r.slack))) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const mail = received(servers).find((r) => r.mail)?.mail;
    expect(mail, "no email arrived").toBeDefined();
    expect(mail!.to).toEqual(["it@example.com", "oncall@example.com"]);
    expect(mail!.remote).toBe("203.0.113.10"); // it left through wan2, the link that works
    const { subject, text } = parseMail(mail!.data);
    expect(subject).toMatch(/^\[wanctl\] office switched wan1 → wan2/);
    expect(text).toMatch(/^Timeline:\n.* ok +route +\d+ ms +default route via wan2/m);
    expect(text).toMatch(/^ +wan1 +down /m);
    expect(mail!.data).not.toContain("smtp-pass");

    const slack = received(servers).find((r) => r.slack)?.slack;
    expect(slack, "no Slack message arrived").toBeDefined();
    const payload = JSON.parse(slack!.body) as { text: string; blocks: { type: string }[] };
    expect(payload.text).toMatch(/wan1 → wan2/);
    expect(payload.blocks.length).toBeGreaterThan(0);
    expect(payload.blocks.every((b) => typeof b.type === "string")).toBe(true);
  });
});

describeLab("alerts queued while nothing is reachable survive a restart of wanctl", () => {
  const lab = useLab();
  let dir = "";

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("each queued alert is delivered exactly once when the channels come back", async () => {
    const config = labConfig("");
    config.alerts = {
      email: { host: SERVICES.smtp, port: 2525, security: "none", username: "wanctl", password: "smtp-pass", from: "wanctl@office.example", to: ["it@example.com"] },
      slack: { webhookUrl: `http://${SERVICES.http}:8080/services/T000/B000/XXXX` },
    };
    ({ dir } = writeLabConfig(config));
    const stateDir = join(dir, "state");
    const file = join(dir, "config.json");

    // No servers yet: the failover's alert can only be queued.
    let daemon = startDaemon(lab, file);
    await waitForStatus(stateDir, "both links up", (s) => s.active === "wan1" && s.links.every((l) => l.state === "up"), 20_000, daemon);
    await lab.cut("wan1");
    await waitForStatus(stateDir, "failover to wan2", (s) => switchedTo(s, "wan2"), 15_000, daemon);
    const outbox = join(stateDir, "outbox");
    const queued = () => readdirSync(outbox).filter((f) => f.endsWith(".json")).map((f) => readFileSync(join(outbox, f), "utf8"));
    const deadline = Date.now() + 10_000;
    const outboxesHolding = () => queued().filter((text) => /"kind": "failover"/.test(text)).length;
    while (Date.now() < deadline && outboxesHolding() < 2) await new Promise((r) => setTimeout(r, 100));
    expect(outboxesHolding()).toBe(2); // queued in both channels' outboxes
    await daemon.stop();

    // The channels come back, and wanctl starts again (still on wan2: a restart flips nothing).
    const servers = lab.spawn("inet", [process.execPath, "-e", SERVERS]);
    await servers.waitFor(/"listening"/, 10_000);
    daemon = startDaemon(lab, file);
    const until = Date.now() + 20_000;
    while (Date.now() < until && !(received(servers).some((r) => r.mail) && received(servers).some((r) => r.slack))) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A little longer, to see that nothing is sent twice.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await daemon.stop();
    const mails = received(servers).filter((r) => r.mail);
    const posts = received(servers).filter((r) => r.slack);
    expect(mails).toHaveLength(1);
    expect(posts).toHaveLength(1);
    expect(parseMail(mails[0]!.mail!.data).subject).toMatch(/wan1 → wan2/);
  });
});
