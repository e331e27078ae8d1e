// Last-resort teardown: a test run that crashes, is interrupted or is terminated still removes
// its labs. Only synchronous work is possible here. SIGKILL cannot be caught; sweepLabs() covers it.

type SyncTeardown = () => void;

const live = new Set<SyncTeardown>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let installed = false;

function runAll(): void {
  for (const t of [...live]) {
    try {
      t();
    } catch {
      // keep going: the other labs still need removing
    }
  }
  live.clear();
}

function onExit(): void {
  runAll();
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  uninstall();
  // If nobody else handles this signal, die of it as the default action would have.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off("exit", onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Register a lab's synchronous teardown; returns the function that unregisters it. */
export function onProcessDeath(teardown: SyncTeardown): () => void {
  live.add(teardown);
  install();
  return () => {
    live.delete(teardown);
    if (live.size === 0) uninstall();
  };
}
