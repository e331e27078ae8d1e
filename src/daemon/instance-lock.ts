// One daemon per state directory: an flock(2) on <stateDir>/wanctl.lock, held for the process's
// life. Node has no flock, so util-linux's flock(1) holds it for us, in a child that lives exactly
// as long as we do: it waits on its stdin, a pipe from us that the kernel closes when we die, even
// by kill -9. A lock never outlives its holder, so a stale one never blocks a start (a PID file
// would: after a reboot the PID may belong to another process).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const lockFile = (stateDir: string) => join(stateDir, "wanctl.lock");

/** Another daemon holds the state directory. */
export class InstanceLockedError extends Error {
  constructor(
    readonly stateDir: string,
    readonly pid: number | null,
  ) {
    super(`another wanctl${pid ? ` (pid ${pid})` : ""} is running with the state directory ${stateDir}; stop it first (two daemons would fight over the route and the PBX)`);
  }
}

export interface InstanceLock {
  /** Called if the lock is lost while running (someone killed the holder process). */
  onLost(listener: (why: string) => void): void;
  release(): Promise<void>;
}

const CONFLICT = 75;
const START_TIMEOUT_MS = 5_000;

/** Takes the lock or throws InstanceLockedError (with the holder's PID when it wrote one). */
export async function lockStateDir(stateDir: string, options: { flockBinary?: string } = {}): Promise<InstanceLock> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = lockFile(stateDir);
  const child = spawn(options.flockBinary ?? "flock", ["--nonblock", "--conflict-exit-code", String(CONFLICT), file, "sh", "-c", "echo locked; exec cat >/dev/null"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const acquired = await new Promise<"locked" | number>((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`flock did not answer within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.stdout.once("data", () => {
      clearTimeout(timer);
      resolve("locked");
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === "ENOENT" ? new Error("flock (util-linux) not found: it keeps two daemons from sharing a state directory") : error);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === CONFLICT) resolve(CONFLICT);
      else reject(new Error(`flock on ${file} failed (exit ${code}): ${stderr.trim()}`));
    });
  });
  if (acquired === CONFLICT) throw new InstanceLockedError(stateDir, holderPid(file));
  // The lock is ours: say whose it is, for the next one that finds it taken (best effort: a full
  // disk must not stop the daemon).
  try {
    writeFileSync(file, `${process.pid}\n`);
  } catch {
    // The lock holds without it; the second daemon's message just lacks the PID.
  }
  return holding(child, file);
}

function holding(child: ChildProcess, file: string): InstanceLock {
  const listeners: ((why: string) => void)[] = [];
  let released = false;
  child.once("exit", (code, signal) => {
    if (!released) for (const l of listeners) l(`the process holding ${file} ended (${signal ?? `exit ${code}`}): another daemon could start on this state directory`);
  });
  // The holder must not keep our event loop alive, nor die with a broken pipe before we do.
  child.stdout?.destroy();
  child.stdin?.on("error", () => undefined);
  child.unref();
  (child.stdin as unknown as { unref?: () => void })?.unref?.();
  return {
    onLost: (listener) => void listeners.push(listener),
    release: async () => {
      if (released) return;
      released = true;
      const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", () => resolve())));
      child.stdin?.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1_000))]);
    },
  };
}

function holderPid(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
