// Alerts by email over SMTP (nodemailer). A fresh connection per message: alerts are rare, and
// each may have to leave from a different source address (the link that works right now).
import type { ConnectionOptions } from "node:tls";
import { describeNetworkCode } from "../lib/net-errors.js";
import { NotifyError, type Message, type Notifier, type SendContext } from "./notifier.js";
import { renderEmail } from "./render/email.js";
import type { RenderOptions } from "./render/view.js";
import { scrubText } from "./sanitize.js";

export interface EmailOptions {
  host: string;
  port: number;
  /** starttls: plain connection upgraded, required; tls: TLS from the start (465); none: no TLS. */
  security: "starttls" | "tls" | "none";
  /** Log in only when a user name is given. */
  username?: string;
  password?: string;
  from: string;
  to: readonly string[];
  /** Name sent with EHLO; nodemailer's default is the machine's host name. */
  clientName?: string;
  timeouts?: { connectionMs?: number; greetingMs?: number; socketMs?: number };
  /** TLS details for a private CA (the lab's server); the defaults verify against the system's CAs. */
  tls?: Pick<ConnectionOptions, "ca" | "rejectUnauthorized" | "servername">;
  render?: RenderOptions;
}

const DEFAULT_TIMEOUTS = { connectionMs: 10_000, greetingMs: 10_000, socketMs: 20_000 };

export function emailNotifier(options: EmailOptions): Notifier {
  const secrets = options.password ? [options.password] : [];
  const render: RenderOptions = { ...options.render };
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const domain = options.from.split("@")[1] ?? "wanctl.invalid";
  const server = `${options.host}:${options.port}`;

  return {
    channel: "email",
    async send(message: Message, context: SendContext): Promise<void> {
      const content = renderEmail(message, render);
      // Loaded at the first alert, not at start: the resident daemon stays small until it mails.
      const { default: nodemailer } = await import("nodemailer");
      const transport = nodemailer.createTransport({
        host: options.host,
        port: options.port,
        secure: options.security === "tls",
        requireTLS: options.security === "starttls",
        ignoreTLS: options.security === "none",
        ...(options.username ? { auth: { user: options.username, pass: options.password ?? "" } } : {}),
        ...(context.localAddress ? { localAddress: context.localAddress } : {}),
        ...(options.clientName ? { name: options.clientName } : {}),
        ...(options.tls ? { tls: options.tls } : {}),
        connectionTimeout: timeouts.connectionMs,
        greetingTimeout: timeouts.greetingMs,
        socketTimeout: timeouts.socketMs,
        dnsTimeout: timeouts.connectionMs,
        logger: false,
        debug: false,
      });
      try {
        await transport.sendMail({
          from: options.from,
          to: [...options.to],
          subject: content.subject,
          text: content.text,
          // The same message id on every retry: a mail system (or a person) can drop a duplicate.
          messageId: `<${message.id}@${domain}>`,
          headers: {
            "X-Wanctl-Message-Id": message.id,
            "X-Wanctl-Alert-Ids": message.alerts.map((a) => a.id).join(", "),
            "Auto-Submitted": "auto-generated",
          },
          signal: context.signal,
        });
      } catch (error) {
        throw describeSmtpError(error, { server, user: options.username, security: options.security, aborted: context.signal.aborted, secrets });
      } finally {
        transport.close();
      }
    },
  };
}

interface SmtpErrorContext {
  server: string;
  user: string | undefined;
  security: EmailOptions["security"];
  aborted: boolean;
  secrets: readonly string[];
}

/** An operator-readable NotifyError from a nodemailer error; the password never appears. */
export function describeSmtpError(error: unknown, ctx: SmtpErrorContext): NotifyError {
  const e = (error ?? {}) as { code?: string; originalCode?: string; response?: string; command?: string; message?: string; timeoutType?: string };
  const reply = e.response ? `: ${scrubText(e.response.trim().split(/\r?\n/).pop() ?? "", ctx.secrets)}` : "";
  const make = (text: string, code: string) => new NotifyError("email", text, code);
  if (ctx.aborted) return make(`${ctx.server} did not complete the delivery in time`, "ETIMEDOUT");
  switch (e.code) {
    case "EAUTH":
      return make(`${ctx.server} refused the login${ctx.user ? ` of user ${JSON.stringify(ctx.user)}` : ""} (wrong user name or password?)${reply}`, "EAUTH");
    case "ENOAUTH":
      return make(`${ctx.server} wants a login but no username/password is configured`, "ENOAUTH");
    case "ETLS":
      if (e.command === "STARTTLS") {
        return make(`${ctx.server} does not offer STARTTLS, which security "starttls" requires (use "tls" for port 465, or "none" only on a trusted network)${reply}`, "ETLS");
      }
      return make(`TLS with ${ctx.server} failed${e.message ? `: ${scrubText(e.message, ctx.secrets)}` : ""}`, "ETLS");
    case "ETIMEDOUT":
      return make(`${ctx.server} timed out${e.timeoutType ? ` (${e.timeoutType.toLowerCase().replace(/_/g, " ")})` : ""}`, "ETIMEDOUT");
    case "EENVELOPE":
      return make(`${ctx.server} refused the sender or the recipients${reply}`, "EENVELOPE");
    case "EMESSAGE":
      return make(`${ctx.server} refused the message${reply}`, "EMESSAGE");
    case "EABORT":
      return make(`delivery to ${ctx.server} was cancelled`, "ETIMEDOUT");
    default: {
      const net = e.originalCode ?? (e.code && /^E[A-Z]+$/.test(e.code) && e.code !== "ECONNECTION" && e.code !== "ESOCKET" ? e.code : undefined);
      if (net && /^ERR_(SSL|TLS)|CERT/.test(net)) {
        return make(`TLS with ${ctx.server} failed (${net})${ctx.security === "tls" ? '; does this port speak TLS from the start (465)? Port 587 wants "starttls"' : ""}`, "ETLS");
      }
      if (net) return make(`cannot reach ${ctx.server} (${describeNetworkCode(net)})`, net);
      const text = e.message ? scrubText(e.message, ctx.secrets) : "unknown error";
      return make(`delivery to ${ctx.server} failed: ${text}${reply}`, e.code ?? "EUNKNOWN");
    }
  }
}
