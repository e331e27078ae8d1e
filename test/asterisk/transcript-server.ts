// A fake AMI server that replays a recorded Asterisk transcript, on 127.0.0.1.
//
// It sends the recorded `recv` chunks as they are, and at each `send` entry waits for the client's
// next action and checks it against the recording: the same key/value pairs as a multiset, ActionID
// aside (the client picks its own). The client's ActionID then replaces the recorded one in the
// replies. Like Asterisk, it hangs up after `Response: Goodbye`, and after the last reply when the
// recording ends with actions that got no answer (login-bad: Asterisk closed the connection).
//
// It parses the client's bytes itself, strictly (CRLF, `Key: Value`), rather than with the parser
// under test, so that a fault in the parser cannot hide a fault in the client's serialisation.

import { listenOnLoopback, portOf } from "../loopback.js";
import net from "node:net";

import { loadTranscript, type TranscriptEntry } from "./fixtures.js";

type Pairs = Array<[string, string]>;

/** Strict parse of one action as the client wrote it. */
export function parseClientPacket(text: string): Pairs {
  return text.split("\r\n").map((line): [string, string] => {
    const m = /^([^:\r\n]+): ?(.*)$/.exec(line);
    if (!m) throw new Error(`client sent a line that is not "Key: Value": ${JSON.stringify(line)}`);
    return [m[1]!, m[2]!];
  });
}

const actionIdOf = (pairs: Pairs) => pairs.find(([k]) => k.toLowerCase() === "actionid")?.[1];
const normalise = (pairs: Pairs) =>
  pairs
    .filter(([k]) => k.toLowerCase() !== "actionid")
    .map(([k, v]) => `${k}: ${v}`)
    .sort();

export class TranscriptServer {
  readonly name: string;
  readonly entries: TranscriptEntry[];
  /** Every action the client sent, in order. */
  readonly received: Pairs[] = [];
  /** Problems: a client action that differs from the recording, an unexpected connection, … */
  readonly problems: string[] = [];
  /** True once the server hung up like Asterisk did in the recording. */
  hungUp = false;

  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #connections = 0;
  #finish!: { resolve: () => void; reject: (e: Error) => void };
  /** Resolves when the whole transcript has been played and every expected action matched. */
  readonly finished: Promise<void>;

  private constructor(name: string) {
    this.name = name;
    this.entries = loadTranscript(name);
    this.finished = new Promise<void>((resolve, reject) => {
      this.#finish = { resolve, reject };
    });
    this.finished.catch(() => {}); // observed by the tests that await it
    this.#server = net.createServer((socket) => this.#onConnection(socket));
  }

  static async start(name: string): Promise<TranscriptServer> {
    const s = new TranscriptServer(name);
    await listenOnLoopback(s.#server);
    return s;
  }

  get port(): number {
    return portOf(this.#server);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #fail(message: string): void {
    this.problems.push(message);
    this.#finish.reject(new Error(`${this.name}: ${message}`));
  }

  #onConnection(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    if (++this.#connections > 1) {
      this.#fail("a second connection: one transcript is one AMI connection");
      socket.destroy();
      return;
    }
    void this.#play(socket).catch((e: unknown) => {
      this.#fail(e instanceof Error ? e.message : String(e));
      socket.destroy();
    });
  }

  async #play(socket: net.Socket): Promise<void> {
    // Client actions, framed by CRLF CRLF, handed out one by one.
    const queue: Pairs[] = [];
    let waiter: { resolve: (p: Pairs) => void; reject: (e: Error) => void } | undefined;
    let closed = false;
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      buffer += text;
      for (let end = buffer.indexOf("\r\n\r\n"); end !== -1; end = buffer.indexOf("\r\n\r\n")) {
        const packet = buffer.slice(0, end);
        buffer = buffer.slice(end + 4);
        let pairs: Pairs;
        try {
          pairs = parseClientPacket(packet);
        } catch (e) {
          this.#fail((e as Error).message);
          socket.destroy();
          return;
        }
        this.received.push(pairs);
        if (waiter) {
          const w = waiter;
          waiter = undefined;
          w.resolve(pairs);
        } else queue.push(pairs);
      }
    });
    socket.on("close", () => {
      closed = true;
      waiter?.reject(new Error("client closed the connection"));
    });
    const nextAction = (): Promise<Pairs> => {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      if (closed) return Promise.reject(new Error("client closed the connection"));
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    };

    const ids = new Map<string, string>(); // recorded ActionID → the client's
    const lastRecv = this.entries.map((e) => e.dir).lastIndexOf("recv");
    const unansweredTail = lastRecv < this.entries.length - 1;

    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.dir === "recv") {
        if (!entry.data.endsWith("\n")) throw new Error(`recv entry ${i} does not end a line; cannot rewrite ActionIDs safely`);
        const data = entry.data.replace(/^ActionID: (.*?)(\r?)$/gm, (_m, id: string, cr: string) => `ActionID: ${ids.get(id) ?? id}${cr}`);
        socket.write(data);
        if (/^Response: Goodbye\r?$/m.test(entry.data) || (i === lastRecv && unansweredTail)) {
          // Asterisk hangs up here; what the recording sent afterwards got no answer.
          socket.end();
          this.hungUp = true;
          break;
        }
        continue;
      }
      const expected = parseClientPacket(entry.data.replace(/\r\n\r\n$/, ""));
      let got: Pairs;
      try {
        got = await nextAction();
      } catch {
        throw new Error(`client hung up instead of sending entry ${i}: ${JSON.stringify(normalise(expected))}`);
      }
      const want = normalise(expected);
      const have = normalise(got);
      if (JSON.stringify(want) !== JSON.stringify(have)) {
        throw new Error(`entry ${i}: client sent ${JSON.stringify(have)}, the recording has ${JSON.stringify(want)}`);
      }
      const recordedId = actionIdOf(expected);
      const clientId = actionIdOf(got);
      if (recordedId !== undefined) {
        if (clientId === undefined) throw new Error(`entry ${i}: client sent no ActionID`);
        ids.set(recordedId, clientId);
      }
    }
    this.#finish.resolve();
  }
}
