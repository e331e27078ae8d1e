// systemd's notify protocol (Type=notify): READY=1 once the daemon has read the active link and
// judged every link, a one-line STATUS= that `systemctl status` shows, WATCHDOG=1 fed by the probe
// rounds themselves (a stuck event loop or a stuck link monitor stops them, and systemd restarts
// wanctl), STOPPING=1 at the end.
//
// Node has no unix datagram sockets, so the messages go through systemd's own `systemd-notify`
// (see the README's dependency table): one process at a time, messages that arrive meanwhile
// merged into the next. It waits until systemd has read the message (sd_notify_barrier), so the
// message is attributed to wanctl's unit even though the sender is a child (NotifyAccess=all).
import { spawn } from "node:child_process";
import type { DaemonObserver } from "../daemon/observer.js";
import type { DaemonStatus } from "../daemon/status-file.js";
import type { Logger } from "../log.js";
import type { LinkHealth } from "../wan/health.js";
import type { ProbeResult } from "../wan/probes/types.js";

/** Sends `KEY=value` fields to the service manager. */
export type NotifySend = (fields: Record<string, string>) => Promise<void>;

/** A systemd-notify that has not answered in this long is stuck (its own barrier gives up after 5 s). */
const SEND_TIMEOUT_MS = 10_000;

export function systemdNotifyCommand(env: NodeJS.ProcessEnv, command = "systemd-notify"): NotifySend {
  return (fields) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(command, Object.entries(fields).map(([key, value]) => `${key}=${value}`), { env, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-500)));
      const timer = setTimeout(() => child.kill("SIGKILL"), SEND_TIMEOUT_MS);
      child.on("error", (error) => (clearTimeout(timer), reject(error)));
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`${command} ${signal ? `was killed (${signal})` : `exited with ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ""}`));
      });
    });
}

/** One line for `systemctl status`: where the office is, how the other links are, the last switch. */
export function statusLine(status: DaemonStatus): string {
  const parts = [status.active ? `on ${status.active}${status.pin.mode === "pinned" ? " (pinned)" : ""}` : "on no link"];
  const others = status.links.filter((l) => l.name !== status.active).map((l) => `${l.name} ${l.state}`);
  if (others.length) parts.push(others.join(", "));
  if (status.links.every((l) => l.state === "down")) parts.push("ALL LINKS DOWN");
  if (status.pending) parts.push(`NOT DONE on ${status.pending.link}: ${status.pending.steps.join(", ")}`);
  const last = status.lastSwitch;
  if (status.switching) parts.push(`switching ${status.switching.from ?? "none"} → ${status.switching.to}`);
  else parts.push(last ? `last switch ${last.kind} ${last.from ?? "none"} → ${last.to} at ${localTime(last.startedAt)}${last.ok ? "" : " (FAILED)"}` : "no switch since start");
  return parts.join("; ");
}

function localTime(iso: string): string {
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export interface SystemdOptions {
  links: readonly string[];
  /** A link without a verdict after this many rounds counts as judged (it may keep flapping). */
  judgedAfterRounds: number;
  /** $WATCHDOG_USEC in ms, when the watchdog is on for this process. */
  watchdogMs?: number;
  send: NotifySend;
  logger: Logger;
  now?: () => number;
}

export class SystemdNotifier implements DaemonObserver {
  private readonly rounds = new Map<string, number>();
  /** Links that have had a verdict (up, degraded or down). */
  private readonly verdicts = new Set<string>();
  private ready = false;
  private lastStatus: string | undefined;
  /** Links that have had a round since the last watchdog ping. */
  private readonly roundedSinceFeed = new Set<string>();
  private lastFeed: number;
  private readonly now: () => number;
  private pending: Record<string, string> = {};
  private sending: Promise<void> | undefined;
  private failed = false;

  constructor(private readonly options: SystemdOptions) {
    this.now = options.now ?? Date.now;
    this.lastFeed = this.now();
  }

  round(link: string, _results: readonly ProbeResult[], health: LinkHealth): void {
    const count = (this.rounds.get(link) ?? 0) + 1;
    this.rounds.set(link, count);
    if (!this.ready && this.options.links.every((l) => this.judged(l, l === link ? health : undefined))) {
      this.ready = true;
      this.queue({ READY: "1" });
    }
    const { watchdogMs } = this.options;
    if (watchdogMs === undefined) return;
    this.roundedSinceFeed.add(link);
    // Fed only when every link's loop has moved on: a link monitor that hangs stops the feeding too.
    if (this.roundedSinceFeed.size === this.options.links.length && this.now() - this.lastFeed >= watchdogMs / 3) {
      this.roundedSinceFeed.clear();
      this.lastFeed = this.now();
      this.queue({ WATCHDOG: "1" });
    }
  }

  /**
   * Following a router (route.backend "none") there are no probe rounds: the egress watch's loop
   * is what must keep moving. Its first sample is the verdict (the router's link is known, or that
   * there is no way out); every sample feeds the watchdog.
   */
  egress(): void {
    if (!this.ready) {
      this.ready = true;
      this.queue({ READY: "1" });
    }
    const { watchdogMs } = this.options;
    if (watchdogMs !== undefined && this.now() - this.lastFeed >= watchdogMs / 3) {
      this.lastFeed = this.now();
      this.queue({ WATCHDOG: "1" });
    }
  }

  private judged(link: string, health: LinkHealth | undefined): boolean {
    if (health && health.state !== "unknown") this.verdicts.add(link);
    return this.verdicts.has(link) || (this.rounds.get(link) ?? 0) >= this.options.judgedAfterRounds;
  }

  status(status: DaemonStatus): void {
    const line = statusLine(status);
    if (line === this.lastStatus) return;
    this.lastStatus = line;
    this.queue({ STATUS: line });
  }

  async stopping(): Promise<void> {
    this.queue({ STOPPING: "1", STATUS: "stopping" });
    await this.sending;
  }

  /** Merged into what is waiting; one systemd-notify at a time. */
  private queue(fields: Record<string, string>): void {
    this.pending = { ...this.pending, ...fields };
    this.sending ??= this.drain();
  }

  private async drain(): Promise<void> {
    while (Object.keys(this.pending).length) {
      const fields = this.pending;
      this.pending = {};
      try {
        await this.options.send(fields);
        this.failed = false;
      } catch (error) {
        if (!this.failed) this.options.logger.error({ err: (error as Error).message }, `cannot tell systemd (${Object.keys(fields).join(", ")}): ${(error as Error).message}`);
        this.failed = true;
      }
    }
    this.sending = undefined;
  }
}

/** The notifier when systemd asked for one ($NOTIFY_SOCKET), with the watchdog when it is on for this process. */
export function systemdNotifier(env: NodeJS.ProcessEnv, options: Omit<SystemdOptions, "send" | "watchdogMs">, send = systemdNotifyCommand(env)): SystemdNotifier | undefined {
  if (!env.NOTIFY_SOCKET) return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
  const watchdogMs = Number.isFinite(usec) && usec > 0 && forUs ? usec / 1000 : undefined;
  return new SystemdNotifier({ ...options, send, ...(watchdogMs !== undefined ? { watchdogMs } : {}) });
}
