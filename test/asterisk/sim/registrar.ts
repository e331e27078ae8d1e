// A tiny SIP registrar on 127.0.0.1 for unit tests (the lab uses the real Kamailio): answers
// REGISTER with 200 OK echoing the Contact with its expiry, or with a chosen failure, or not at all.

import dgram from "node:dgram";

import { header, parseSip, type SipMessage } from "./sip.js";

export interface SeenRegister {
  readonly from: string;
  readonly contact: string | undefined;
  readonly expires: number | undefined;
  readonly via: string | undefined;
  readonly callId: string | undefined;
  readonly message: SipMessage;
}

export type RegistrarMode = { kind: "ok" } | { kind: "reject"; code: number; reason: string } | { kind: "silent" };

export class FakeRegistrar {
  readonly seen: SeenRegister[] = [];
  mode: RegistrarMode = { kind: "ok" };
  readonly #socket: dgram.Socket;

  private constructor(socket: dgram.Socket) {
    this.#socket = socket;
    socket.on("message", (msg, rinfo) => this.#onMessage(msg.toString("utf8"), rinfo));
  }

  static start(): Promise<FakeRegistrar> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket("udp4");
      socket.once("error", reject);
      socket.bind(0, "127.0.0.1", () => resolve(new FakeRegistrar(socket)));
    });
  }

  get address(): { host: string; port: number } {
    const a = this.#socket.address();
    return { host: a.address, port: a.port };
  }

  /** REGISTERs with a non-zero expiry (registrations, not un-registrations). */
  registrations(): SeenRegister[] {
    return this.seen.filter((r) => r.expires !== 0);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #onMessage(text: string, rinfo: dgram.RemoteInfo): void {
    const m = parseSip(text);
    if (!m || m.method !== "REGISTER") return;
    const contact = /<([^>]+)>/.exec(header(m, "contact") ?? "")?.[1];
    const e = header(m, "expires");
    const expires = e === undefined ? undefined : Number(e);
    this.seen.push({ from: `${rinfo.address}:${rinfo.port}`, contact, expires, via: header(m, "via"), callId: header(m, "call-id"), message: m });
    if (this.mode.kind === "silent") return;
    const status = this.mode.kind === "ok" ? "200 OK" : `${this.mode.code} ${this.mode.reason}`;
    const via = (m.headers.get("via") ?? []).map((v, i) => (i === 0 ? `Via: ${v.replace(/;rport(?=;|$)/, `;rport=${rinfo.port}`)};received=${rinfo.address}` : `Via: ${v}`));
    const lines = [
      `SIP/2.0 ${status}`,
      ...via,
      `From: ${header(m, "from") ?? ""}`,
      `To: ${header(m, "to") ?? ""};tag=fake${this.seen.length}`,
      `Call-ID: ${header(m, "call-id") ?? ""}`,
      `CSeq: ${header(m, "cseq") ?? ""}`,
      ...(this.mode.kind === "ok" && contact !== undefined && expires !== 0 ? [`Contact: <${contact}>;expires=${expires ?? 3600}`] : []),
      "Server: fake-registrar",
      "Content-Length: 0",
      "",
      "",
    ];
    this.#socket.send(lines.join("\r\n"), rinfo.port, rinfo.address);
  }
}
