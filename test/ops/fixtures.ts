// What the ops tests share: a parsed Prometheus exposition, a daemon status, a switch report,
// loggers, and a notify socket like systemd's.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import type { FailoverReport } from "../../src/daemon/report.js";
import type { DaemonStatus } from "../../src/daemon/status-file.js";
import { createLogger, type Logger } from "../../src/log.js";

export type Samples = Map<string, number>;

/** `name{a="1",b="2"}` → value, labels in their exposed order. */
export function parseExposition(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

export function statusFixture(over: Partial<DaemonStatus> = {}): DaemonStatus {
  const since = "2025-01-06T09:00:00.000Z";
  return {
    version: 1,
    pid: 1,
    startedAt: since,
    updatedAt: since,
    active: "wan2",
    pin: { mode: "auto" },
    decision: { action: "stay", reason: "wan2 is the best link up" },
    links: [
      { name: "wan1", interface: "wan1", priority: 1, state: "down", since, lossPct: 100, latencyMs: null, jitterMs: null, lastRound: { answered: 0, targets: 2 }, reason: "3 rounds failed" },
      { name: "wan2", interface: "wan2", priority: 2, state: "degraded", since, lossPct: 2.5, latencyMs: 48, jitterMs: 4, lastRound: { answered: 2, targets: 2 }, reason: null },
    ],
    switches: 1,
    switching: null,
    lastSwitch: null,
    pending: { link: "wan2", steps: ["dns"], since },
    trunksShortened: true,
    alerts: [{ channel: "email", queued: 3, attempts: 2 }],
    ...over,
  };
}

export const failover = (ok: boolean): FailoverReport => ({
  kind: "failover",
  from: "wan1",
  to: "wan2",
  reason: "wan1 down",
  startedAt: "2025-01-06T09:00:00.000Z",
  durationMs: 1500,
  ok,
  steps: [
    { step: "route", ok: true, durationMs: 20, detail: "default route via wan2" },
    { step: "dns", ok, durationMs: 700, detail: ok ? "updated" : "badauth" },
    { step: "trunks", ok: false, durationMs: 0, detail: "skipped", skipped: true },
  ],
});

export { quietLogger } from "../daemon/fakes.js";

/** A logger that keeps each message (the `msg`) it is given, from info up. */
export function recordingLogger(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const logger = createLogger({ pretty: false, level: "info", destination: new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk)).msg), done()) }) as never });
  return { lines, logger };
}

// Binds a unix datagram socket (Node has none) and prints every datagram as a JSON line. recv()
// without room for ancillary data drops the file descriptor systemd-notify's barrier sends, which
// closes it: that tells systemd-notify the message was read. Bounded: it exits after 120 s of silence.
const NOTIFY_LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
print(json.dumps("listening"), flush=True)
while True:
    try:
        data = s.recv(65536)
    except socket.timeout:
        break
    print(json.dumps(data.decode()), flush=True)
`;

export interface NotifySocket {
  /** Every assignment so far, in order: a datagram's lines one by one, as systemd reads them ("READY=1\nSTATUS=…" is two). */
  readonly datagrams: string[];
  /** The first assignment that matches, waiting for it (bounded). */
  received(match: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): void;
}

/** A notify socket as systemd's, at `path`, that the test reads: a real unix datagram socket. */
export async function listenNotifySocket(path: string): Promise<NotifySocket> {
  const child: ChildProcess = spawn("python3", ["-c", NOTIFY_LISTENER, path], { stdio: ["ignore", "pipe", "inherit"] });
  const datagrams: string[] = [];
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    createInterface({ input: child.stdout! }).on("line", (line) => (line === '"listening"' ? resolve() : datagrams.push(...(JSON.parse(line) as string).split("\n").filter(Boolean))));
  });
  return {
    datagrams,
    async received(match, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = datagrams.find(match);
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`no such datagram; received: ${JSON.stringify(datagrams)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => void child.kill(),
  };
}
