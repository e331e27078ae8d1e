// The control socket: one JSON request per connection, idle connections closed, a cap on how many.
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { sendControl, startControlServer, type ControlServer } from "../../src/daemon/control.js";
import { tempDir } from "../temp-dirs.js";

const connect = (path: string): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });

const closed = (s: Socket): Promise<string> =>
  new Promise((resolve) => {
    let data = "";
    s.setEncoding("utf8");
    s.on("data", (c: string) => (data += c));
    s.on("error", () => undefined);
    s.once("close", () => resolve(data));
  });

describe("control socket", () => {
  let server: ControlServer | undefined;
  afterEach(async () => server?.close());

  test("answers a drill request", async () => {
    const path = join(tempDir(), "control.sock");
    server = await startControlServer(path, async () => ({ ok: true }));
    expect(await sendControl(path, { command: "drill" }, 2_000)).toEqual({ ok: true });
  });

  test("a connection that sends nothing is closed after the request time-out; many idle ones are capped, and a real request still gets through afterwards", async () => {
    const path = join(tempDir(), "control.sock");
    server = await startControlServer(path, async () => ({ ok: true }), { requestTimeoutMs: 200, maxConnections: 3 });
    const idle = await Promise.all([connect(path), connect(path), connect(path)]);
    const ends = idle.map(closed);
    // A fourth is turned away at once, saying why.
    const fourth = await connect(path);
    expect(await closed(fourth)).toBe('{"error":"busy: 3 requests are being served"}\n');
    // The idle three are closed by the daemon, not held forever.
    expect(await Promise.all(ends)).toEqual(["", "", ""]);
    expect(await sendControl(path, { command: "drill" }, 2_000)).toEqual({ ok: true });
  });

  test("the time-out covers only the request: a slow answer (a drill takes minutes) is still delivered", async () => {
    const path = join(tempDir(), "control.sock");
    server = await startControlServer(path, () => new Promise((resolve) => setTimeout(() => resolve("done"), 400)), { requestTimeoutMs: 100, maxConnections: 3 });
    expect(await sendControl(path, { command: "drill" }, 2_000)).toBe("done");
  });
});
