// Child processes for the lab: every one bounded in time, killed as a process group,
// with capped output so a chatty daemon cannot eat the test runner's memory.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

/** Cap per stream; beyond it only the tail is kept. */
const OUTPUT_CAP = 1 << 20;
/** After a SIGKILL, how long to wait for the pipes to close before giving up on them. */
const KILL_GRACE_MS = 2_000;

export interface ExecOptions {
  /** Kill the command (whole process group) after this long. Default 10 s. */
  timeoutMs?: number;
  /** Written to stdin, then stdin is closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; null when killed by a signal or when the command could not start. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    const why = result.timedOut
      ? "timed out"
      : result.signal
        ? `killed by ${result.signal}`
        : `exited with ${result.code}`;
    super(`command ${why}: ${argv.join(" ")}\n${result.stderr.trim() || result.stdout.trim()}`);
    this.name = "CommandError";
  }
}

function appendCapped(buf: string, chunk: string): string {
  const s = buf + chunk;
  return s.length > OUTPUT_CAP ? s.slice(s.length - OUTPUT_CAP) : s;
}

/** SIGKILL/SIGTERM a whole process group; quiet when it is already gone. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || pid <= 0) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** Run argv to completion (never throws; see `run` for the throwing form). */
export function exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error("exec: empty argv");
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let settled = false;
    // detached: its own process group, so a timeout kills its children too.
    const child = spawn(cmd, args, { detached: true, stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      resolve({ stdout, stderr, code, signal, timedOut });
    };
    let grace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, "SIGKILL");
      // A grandchild that escaped the group may hold the pipes open: do not wait forever.
      grace = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(null, "SIGKILL");
      }, KILL_GRACE_MS);
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout = appendCapped(stdout, d)));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = appendCapped(stderr, d)));
    child.on("error", (err) => {
      stderr = appendCapped(stderr, String(err.message));
      finish(null, null);
    });
    child.on("close", (code, signal) => finish(code, signal));
    child.stdin.on("error", () => {}); // EPIPE when the command does not read stdin
    child.stdin.end(opts.input ?? "");
  });
}

/** Run argv; throw a CommandError unless it exits 0. */
export async function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await exec(argv, opts);
  if (r.code !== 0) throw new CommandError(argv, r);
  return r;
}

/** Synchronous form, for process exit handlers where nothing async runs any more. */
export function execSync(argv: readonly string[], timeoutMs = 5_000): ExecResult {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error("execSync: empty argv");
  const r = spawnSync(cmd, args, { timeout: timeoutMs, killSignal: "SIGKILL", encoding: "utf8" });
  return {
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? (r.error ? r.error.message : ""),
    code: r.status,
    signal: r.signal,
    timedOut: r.error !== undefined && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT",
  };
}

/** Block the thread (exit handlers only). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A long-running process started by `startProcess`. */
export interface ManagedProcess {
  readonly pid: number;
  readonly argv: readonly string[];
  /** True until the process has exited. */
  readonly running: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process exits (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Resolve with the output once `pattern` appears in stdout or stderr; reject after timeoutMs or on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM the process group, SIGKILL it after timeoutMs; resolves when it is gone (bounded). */
  stop(timeoutMs?: number): Promise<ExitInfo>;
  /** SIGKILL the process group now, without waiting (exit handlers). */
  killNow(): void;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    void p.then((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

/** Start argv in its own process group and keep a handle on it. */
export function startProcess(argv: readonly string[], env?: NodeJS.ProcessEnv): ManagedProcess {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error("startProcess: empty argv");
  const child: ChildProcess = spawn(cmd, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
  let stdout = "";
  let stderr = "";
  let running = true;
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout = appendCapped(stdout, d);
    notify();
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr = appendCapped(stderr, d);
    notify();
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on("error", (err) => {
      stderr = appendCapped(stderr, String(err.message));
      running = false;
      notify();
      resolve({ code: null, signal: null });
    });
    // 'exit' rather than 'close': a grandchild holding the pipes must not keep us waiting.
    child.on("exit", (code, signal) => {
      running = false;
      notify();
      resolve({ code, signal });
    });
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT is reported through 'error').
    running = false;
  }
  const pid = child.pid ?? -1;

  const handle: ManagedProcess = {
    pid,
    argv,
    get running() {
      return running;
    },
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = pattern.exec(stdout) ?? pattern.exec(stderr);
          if (m) {
            done();
            resolve(m[0]);
            return true;
          }
          if (!running) {
            done();
            reject(new Error(`process exited before printing ${pattern}: ${argv.join(" ")}\n${stderr.trim()}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}: ${argv.join(" ")}\n${stderr.trim()}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(onData);
        };
        const onData = (): void => void check();
        if (!check()) listeners.add(onData);
      });
    },
    async stop(timeoutMs = 2_000) {
      if (!running) return exited;
      killGroup(pid, "SIGTERM");
      const first = await withTimeout(exited, timeoutMs);
      if (first) {
        killGroup(pid, "SIGKILL"); // leftovers of the group, if any
        return first;
      }
      killGroup(pid, "SIGKILL");
      return (await withTimeout(exited, KILL_GRACE_MS)) ?? { code: null, signal: null };
    },
    killNow() {
      if (running) killGroup(pid, "SIGKILL");
    },
  };
  return handle;
}
