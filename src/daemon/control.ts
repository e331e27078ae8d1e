// The daemon's control socket: a unix socket in the state directory (mode 600, so only root and
// the daemon's user can drive it) that takes one JSON request per connection and answers one JSON
// line. Used by `wanctl test` to run a drill inside the running daemon.
import { chmodSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";

export const controlSocket = (stateDir: string) => join(stateDir, "control.sock");

export type ControlRequest = { command: "drill" };

/** A request line longer than this is not ours. */
const MAX_REQUEST_BYTES = 4096;

export interface ControlLimits {
  /** A connection that has not sent its request within this is closed. */
  requestTimeoutMs: number;
  /** Connections held at once; more are refused (a drill answer can take minutes, so only the request is timed). */
  maxConnections: number;
}

const DEFAULT_LIMITS: ControlLimits = { requestTimeoutMs: 5_000, maxConnections: 16 };

export interface ControlServer {
  close(): Promise<void>;
}

export async function startControlServer(path: string, handle: (request: ControlRequest) => Promise<unknown>, limits: ControlLimits = DEFAULT_LIMITS): Promise<ControlServer> {
  rmSync(path, { force: true }); // a socket left by a killed daemon
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    if (open.size >= limits.maxConnections) {
      socket.end(`${JSON.stringify({ error: `busy: ${open.size} requests are being served` })}\n`);
      return;
    }
    open.add(socket);
    socket.once("close", () => open.delete(socket));
    // Idle until the request line is in: then the answer may take as long as a drill does.
    const idle = setTimeout(() => socket.destroy(), limits.requestTimeoutMs);
    socket.once("close", () => clearTimeout(idle));
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES) return void socket.end(`${JSON.stringify({ error: "request too long" })}\n`);
      const newline = buffer.indexOf("\n");
      if (newline < 0) return;
      clearTimeout(idle);
      socket.removeAllListeners("data");
      let request: ControlRequest;
      try {
        request = JSON.parse(buffer.slice(0, newline)) as ControlRequest;
        if (request?.command !== "drill") throw new Error(`unknown command ${JSON.stringify((request as { command?: unknown })?.command)}`);
      } catch (error) {
        return void socket.end(`${JSON.stringify({ error: (error as Error).message })}\n`);
      }
      handle(request).then(
        (result) => socket.end(`${JSON.stringify({ result })}\n`),
        (error: unknown) => socket.end(`${JSON.stringify({ error: (error as Error).message })}\n`),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
        rmSync(path, { force: true });
      }),
  };
}

export class ControlUnavailableError extends Error {}

/** Sends one request to the running daemon and waits (bounded) for its answer. */
export function sendControl(path: string, request: ControlRequest, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let answer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the daemon did not answer within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === "ENOENT" || error.code === "ECONNREFUSED") reject(new ControlUnavailableError(`the daemon is not running (no control socket at ${path})`));
      else reject(error);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        const reply = JSON.parse(answer) as { result?: unknown; error?: string };
        if (reply.error !== undefined) reject(new Error(reply.error));
        else resolve(reply.result);
      } catch {
        reject(new Error("the daemon's answer could not be read"));
      }
    });
  });
}
