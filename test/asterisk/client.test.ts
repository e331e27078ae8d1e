// Client behaviours beyond the recordings: timeouts, drops and reconnects, refused logins, odd bytes.
// Every server is on 127.0.0.1; timers that matter are fired by hand (ManualTimers), never waited for.

import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";

import { AmiClient, type AmiClientOptions, type AmiConnectionState, type AmiLogger, type AmiStateChange } from "../../src/asterisk/ami/client.js";
import {
  AmiConnectionError,
  AmiError,
  AmiLoginError,
  AmiParseError,
  AmiStateError,
  AmiTimeoutError,
} from "../../src/asterisk/ami/errors.js";
import { FakeAmiServer, type FakeServerOptions, type Handler, ManualTimers } from "./fake-ami-server.js";

const pong: Handler = (a, c) => {
  if (a.action === "Ping") c.reply(a, { Response: "Success", Ping: "Pong" });
  if (a.action === "Logoff") {
    c.reply(a, { Response: "Goodbye", Message: "Thanks for all the fish." });
    c.socket.end();
  }
};

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(handler: Handler = pong, serverOptions: FakeServerOptions = {}, clientOptions: Partial<AmiClientOptions> = {}) {
  const server = await FakeAmiServer.start(handler, serverOptions);
  const timers = new ManualTimers();
  const client = new AmiClient({
    host: "127.0.0.1",
    port: server.port,
    username: "wanctl",
    secret: "s3cret",
    timers,
    reconnect: false,
    ...clientOptions,
  });
  const changes: AmiStateChange[] = [];
  client.onStateChange((c) => changes.push(c));
  cleanup.push(async () => {
    await client.close();
    await server.close();
  });
  return { server, client, timers, changes };
}

const settle = <T>(p: Promise<T>): Promise<T | unknown> => p.then((v) => v, (e: unknown) => e);

function nextState(client: AmiClient, state: AmiConnectionState): Promise<AmiStateChange> {
  return new Promise((resolve) => {
    const off = client.onStateChange((c) => {
      if (c.state !== state) return;
      off();
      resolve(c);
    });
  });
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe("actions", () => {
  it("an action that times out rejects alone; other actions and the connection carry on; its late answer is ignored", async () => {
    const { server, client, timers } = await setup();
    await client.connect();
    const hang = settle(client.action("Hang", {}, { timeoutMs: 4321 }));
    const ping = await client.action("Ping");
    expect(ping.fields.get("Ping")).toBe("Pong");

    timers.fire(4321);
    const error = await hang;
    expect(error).toBeInstanceOf(AmiTimeoutError);
    const hangAction = server.connections[0]!.actions.find((a) => a.action === "Hang")!;
    expect(error).toMatchObject({ action: "Hang", actionId: hangAction.actionId, timeoutMs: 4321 });
    expect((error as Error).message).toBe(
      `AMI action 'Hang' (ActionID ${hangAction.actionId}) got no response from 127.0.0.1:${server.port} within 4321 ms`,
    );

    server.connections[0]!.reply(hangAction, { Response: "Success", Message: "too late" });
    expect((await client.action("Ping")).response).toBe("Success");
    expect(client.state).toBe("ready");
    expect(server.connections).toHaveLength(1);
  });

  it("a list that never completes times out as a whole", async () => {
    const { client, timers } = await setup((a, c) => {
      if (a.action === "CoreShowChannels") {
        c.reply(a, { Response: "Success", EventList: "start", Message: "Channels will follow" });
        c.reply(a, { Event: "CoreShowChannel", Channel: "PJSIP/itsp-00000001" });
      }
      pong(a, c);
    });
    await client.connect();
    const list = settle(client.list("CoreShowChannels", {}, { timeoutMs: 999 }));
    await client.action("Ping"); // the response and the item have been read by now
    timers.fire(999);
    expect(await list).toBeInstanceOf(AmiTimeoutError);
    expect(((await list) as Error).message).toContain("got no list completion");
  });

  it("refuses a line break in a field (it would inject a second action) and sends nothing", async () => {
    const { server, client } = await setup();
    await client.connect();
    const error = await settle(client.action("Command", { Command: "core show version\r\n\r\nAction: Originate" }));
    expect(error).toBeInstanceOf(AmiError);
    expect((error as Error).message).toBe("AMI field 'Command' contains a line break");
    await client.action("Ping");
    expect(server.connections[0]!.actions.map((a) => a.action)).toEqual(["Login", "Ping"]);
  });

  it("reads old-style `Response: Follows` command output (Asterisk < 14)", async () => {
    const { client } = await setup((a, c) => {
      if (a.action === "Command") {
        c.raw(
          `Response: Follows\r\nPrivilege: Command\r\nActionID: ${a.actionId}\r\n` +
            "Asterisk 13.38.3 built by root\n\nTransport: udp\n--END COMMAND--\r\n\r\n",
        );
      }
      pong(a, c);
    });
    await client.connect();
    expect(await client.command("core show version")).toEqual(["Asterisk 13.38.3 built by root", "", "Transport: udp"]);
    const response = await client.action("Command", { Command: "core show version" });
    expect(response.response).toBe("Follows");
  });
});

describe("odd bytes from the server", () => {
  it("an oversized answer fails its action at once, is reported, and the connection goes on", async () => {
    const { client } = await setup(
      (a, c) => {
        if (a.action === "Big") c.reply(a, { Response: "Success", Output: "x".repeat(5000) });
        pong(a, c);
      },
      {},
      { maxPacketSize: 1024 },
    );
    const reported: AmiParseError[] = [];
    client.onProtocolError((e) => reported.push(e));
    await client.connect();
    const error = await settle(client.action("Big"));
    expect(error).toBeInstanceOf(AmiParseError);
    expect(error).toMatchObject({ code: "overflow" });
    expect((error as Error).message).toContain("exceeds the maximum packet size of 1024 bytes");
    expect(reported.map((e) => e.code)).toEqual(["overflow"]);
    expect((await client.action("Ping")).fields.get("Ping")).toBe("Pong");
  });

  it("garbage between packets is reported; the answers around it arrive", async () => {
    const { client } = await setup((a, c) => {
      if (a.action === "Ping") c.raw(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x0d, 0x0a, 0x00, 0x0d, 0x0a]));
      pong(a, c);
    });
    const reported: AmiParseError[] = [];
    client.onProtocolError((e) => reported.push(e));
    await client.connect();
    expect((await client.action("Ping")).response).toBe("Success");
    expect((await client.action("Ping")).response).toBe("Success");
    expect(reported.map((e) => [e.code, e.preview])).toEqual([
      ["garbage", "\\xde\\xad\\xbe\\xef"],
      ["garbage", "\\x00"],
      ["garbage", "\\xde\\xad\\xbe\\xef"],
      ["garbage", "\\x00"],
    ]);
  });
});

describe("events", () => {
  it("delivers by name (any case) and to '*'; unsubscribe works; a throwing subscriber harms no one", async () => {
    const logs: Array<[string, string | undefined]> = [];
    const at = (level: string) => (_obj: object, msg?: string) => logs.push([level, msg]);
    const logger: AmiLogger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
    const { client } = await setup(
      (a, c) => {
        if (a.action === "Ping") c.raw("Event: Registry\r\nStatus: Registered\r\n\r\nEvent: Reload\r\nModule: res_pjsip.so\r\n\r\n");
        pong(a, c);
      },
      {},
      { logger },
    );
    const named: string[] = [];
    const all: string[] = [];
    client.onEvent("registry", () => {
      throw new Error("subscriber bug");
    });
    const off = client.onEvent("REGISTRY", (e) => named.push(e.fields.get("Status")!));
    client.onEvent("*", (e) => all.push(e.event));
    await client.connect();
    await client.action("Ping");
    off();
    await client.action("Ping");
    expect(named).toEqual(["Registered"]);
    expect(all).toEqual(["Registry", "Reload", "Registry", "Reload"]);
    expect(logs.filter(([level]) => level === "error")).toEqual([
      ["error", "AMI event listener threw"],
      ["error", "AMI event listener threw"],
    ]);
  });
});

describe("connecting", () => {
  it("connection refused: a clear error naming host:port", async () => {
    const gone = await FakeAmiServer.start();
    const port = gone.port;
    await gone.close();
    const client = new AmiClient({ host: "127.0.0.1", port, username: "wanctl", secret: "s3cret" });
    const error = await settle(client.connect());
    expect(error).toBeInstanceOf(AmiConnectionError);
    expect(error).toMatchObject({ code: "ECONNREFUSED", target: `127.0.0.1:${port}` });
    expect((error as Error).message).toBe(`AMI connection to 127.0.0.1:${port} failed: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(client.state).toBe("disconnected"); // connect() tries once; nothing scheduled
  });

  it("no banner in time: a timeout naming host:port", async () => {
    const { server, client, timers } = await setup(pong, { banner: null }, { connectTimeoutMs: 777 });
    const connecting = settle(client.connect());
    while (server.connections.length === 0) await ticks(1);
    await ticks(10);
    timers.fire(777);
    const error = await connecting;
    expect(error).toBeInstanceOf(AmiTimeoutError);
    expect((error as Error).message).toBe(`AMI connection to 127.0.0.1:${server.port} timed out: the server sent no AMI banner within 777 ms`);
    expect(client.state).toBe("disconnected");
  });

  it("something that is not AMI: refused with what it said", async () => {
    const { server, client } = await setup(pong, { banner: "SSH-2.0-OpenSSH_9.6" });
    const error = await settle(client.connect());
    expect(error).toBeInstanceOf(AmiConnectionError);
    expect((error as Error).message).toContain(`127.0.0.1:${server.port} is not an AMI server`);
    expect((error as Error).message).toContain('got "SSH-2.0-OpenSSH_…"');
  });

  it("a refused login names the user and never the secret, in the error or in the logs (pino)", async () => {
    const SECRET = "Tr0ub4dor&3-must-not-leak";
    const lines: string[] = [];
    const logger: AmiLogger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
    const { server, client, changes } = await setup(pong, { secret: "the-right-one" }, { secret: SECRET, logger });
    const error = await settle(client.connect());
    expect(error).toBeInstanceOf(AmiLoginError);
    expect((error as Error).message).toBe("AMI login failed for user 'wanctl': Authentication failed");
    // The secret did go to the server (so this test is not vacuous) …
    expect(server.connections[0]!.actions[0]!.fields.Secret).toBe(SECRET);
    // … and nowhere else.
    const err = error as AmiLoginError;
    const everything = JSON.stringify({ lines, message: err.message, stack: err.stack, own: { ...err }, changes });
    expect(everything).not.toContain(SECRET);
    const loginLine = lines.map((l) => JSON.parse(l) as { msg?: string; action?: string; fields?: unknown }).find((l) => l.action === "Login");
    expect(loginLine?.fields).toEqual([
      ["Username", "wanctl"],
      ["Secret", "[REDACTED]"],
      ["Events", "off"],
    ]);
    expect(client.state).toBe("disconnected");
  });
});

describe("drops and reconnects", () => {
  it("a drop rejects pending actions; the client reconnects with backoff and logs in again", async () => {
    let refuse = 0; // connections to drop before their banner (Asterisk restarting)
    const { server, client, timers, changes } = await setup(
      pong,
      {
        onConnection: () => {
          if (refuse === 0) return true;
          refuse--;
          return false;
        },
      },
      { reconnect: { backoff: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 }, random: () => 0.5 } },
    );
    await client.connect();
    const hang = settle(client.action("Hang"));
    await server.actionCount(2);

    refuse = 2;
    let reconnecting = nextState(client, "reconnecting");
    server.connections[0]!.socket.destroy();
    const error = await hang;
    expect(error).toBeInstanceOf(AmiConnectionError);
    expect((error as Error).message).toMatch(new RegExp(`^AMI connection to 127\\.0\\.0\\.1:${server.port} lost before action 'Hang' \\(ActionID wanctl-\\d+\\) was answered`));
    expect(await reconnecting).toMatchObject({ attempt: 1, delayMs: 75 });
    await expect(client.action("Ping")).rejects.toBeInstanceOf(AmiStateError); // not queued while down

    reconnecting = nextState(client, "reconnecting");
    timers.fire(75); // retry 1: dropped
    const second = await reconnecting;
    expect(second).toMatchObject({ attempt: 2, delayMs: 150 });
    expect(second.error?.message).toBe(`AMI server 127.0.0.1:${server.port} closed the connection before sending its banner`);

    reconnecting = nextState(client, "reconnecting");
    timers.fire(150); // retry 2: dropped
    expect(await reconnecting).toMatchObject({ attempt: 3, delayMs: 300 });

    const ready = nextState(client, "ready");
    timers.fire(300); // retry 3: up
    await ready;
    expect(server.logins).toEqual([0, 3]); // logged in again, on the fourth connection
    expect(server.connections[3]!.actions[0]!.fields).toMatchObject({ Action: "Login", Username: "wanctl", Secret: "s3cret", Events: "off" });
    expect((await client.action("Ping")).fields.get("Ping")).toBe("Pong");
    expect(changes.map((c) => c.state)).toEqual([
      "connecting",
      "loggingIn",
      "ready",
      "reconnecting",
      "connecting",
      "reconnecting",
      "connecting",
      "reconnecting",
      "connecting",
      "loggingIn",
      "ready",
    ]);

    // A success resets the backoff: the next drop waits the first delay again.
    reconnecting = nextState(client, "reconnecting");
    server.connections[3]!.socket.destroy();
    expect(await reconnecting).toMatchObject({ attempt: 1, delayMs: 75 });
  });

  it("a login refused while reconnecting is logged as an error, without the secret, and retried", async () => {
    const serverOptions: FakeServerOptions = {};
    const logs: Array<{ level: string; obj: object; msg: string | undefined }> = [];
    const at = (level: string) => (obj: object, msg?: string) => logs.push({ level, obj, msg });
    const { server, client, timers } = await setup(pong, serverOptions, {
      reconnect: { backoff: { initialMs: 10 }, random: () => 0 },
      logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
    });
    await client.connect();
    serverOptions.secret = "changed-on-the-pbx";
    let reconnecting = nextState(client, "reconnecting");
    server.connections[0]!.socket.destroy();
    await reconnecting;
    reconnecting = nextState(client, "reconnecting");
    timers.fire(5);
    const change = await reconnecting;
    expect(change.error).toBeInstanceOf(AmiLoginError);
    expect(change).toMatchObject({ attempt: 2, delayMs: 10 });
    const failed = logs.find((l) => l.msg === "AMI reconnect attempt failed");
    expect(failed?.level).toBe("error");
    expect(JSON.stringify(logs)).not.toContain("s3cret");
  });

  it("gives up after maxAttempts and says so", async () => {
    const { server, client, timers } = await setup(pong, { onConnection: (c) => c.index === 0 }, {
      reconnect: { backoff: { initialMs: 10 }, random: () => 0, maxAttempts: 1 },
    });
    await client.connect();
    const down = nextState(client, "disconnected");
    server.connections[0]!.socket.destroy();
    await nextState(client, "reconnecting");
    timers.fire(5);
    const change = await down;
    expect(change.error?.message).toMatch(/^gave up reconnecting to AMI at 127\.0\.0\.1:\d+ after 1 attempts: /);
    expect(timers.pendingDelays()).toEqual([]);
  });

  it("reconnect: false leaves the client disconnected after a drop", async () => {
    const { server, client, changes } = await setup();
    await client.connect();
    const down = nextState(client, "disconnected");
    server.connections[0]!.socket.destroy();
    expect((await down).error).toBeInstanceOf(AmiConnectionError);
    expect(changes.map((c) => c.state)).not.toContain("reconnecting");
  });
});

describe("ending", () => {
  it("logoff: Goodbye, closed, and the hang-up that follows is not a drop", async () => {
    const { client, changes, timers } = await setup(pong, {}, { reconnect: true });
    await client.connect();
    const bye = await client.logoff();
    expect(bye).toMatchObject({ response: "Goodbye", message: "Thanks for all the fish." });
    expect(client.state).toBe("closed");
    expect(changes.map((c) => c.state)).toEqual(["connecting", "loggingIn", "ready", "closed"]);
    expect(timers.pendingDelays()).toEqual([]); // no reconnect scheduled
  });

  it("close(): pending actions are rejected, nothing reconnects, the client stays closed", async () => {
    const { server, client, timers } = await setup(pong, {}, { reconnect: true });
    await client.connect();
    const hang = settle(client.action("Hang"));
    await server.actionCount(2);
    await client.close();
    const error = await hang;
    expect(error).toBeInstanceOf(AmiConnectionError);
    expect((error as Error).message).toMatch(/closed before action 'Hang'/);
    expect(client.state).toBe("closed");
    expect(timers.pendingDelays()).toEqual([]);
    await expect(client.connect()).rejects.toBeInstanceOf(AmiStateError);
    await expect(client.action("Ping")).rejects.toThrow(/is not connected \(state: closed\); action 'Ping' not sent/);
  });
});
