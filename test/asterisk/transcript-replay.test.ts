// The client against every recorded Asterisk 20 conversation: it must send what wanctl's PBX side
// sent there (checked by the replaying server) and read back what Asterisk answered.

import { afterEach, describe, expect, it } from "vitest";

import { AmiClient, type AmiClientOptions } from "../../src/asterisk/ami/client.js";
import { AmiActionError, AmiLoginError, AmiStateError } from "../../src/asterisk/ami/errors.js";
import type { AmiEvent } from "../../src/asterisk/ami/wire.js";
import { recvStream, transcriptNames } from "./fixtures.js";
import { TranscriptServer } from "./transcript-server.js";

// The lab's AMI account, as in the recordings (fixtures/asterisk/config/manager.conf).
const USER = "wanctl";
const SECRET = "wanctlsecret";

interface LogLine {
  level: string;
  obj: object;
  msg: string | undefined;
}

function captureLogger(lines: LogLine[]) {
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj, msg });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

let current: TranscriptServer | undefined;

async function replay(name: string, options: Partial<AmiClientOptions> = {}) {
  const server = await TranscriptServer.start(name);
  current = server;
  const logs: LogLine[] = [];
  const client = new AmiClient({
    host: "127.0.0.1",
    port: server.port,
    username: USER,
    secret: SECRET,
    reconnect: false,
    logger: captureLogger(logs),
    ...options,
  });
  cleanup.push(async () => {
    await client.close();
    await server.close();
  });
  return { server, client, logs };
}

/** A value Asterisk sent in a recording (the first `Key: value` line with that key). */
function recordedValue(name: string, key: string): string {
  const m = new RegExp(`^${key}: (.*)\r$`, "m").exec(recvStream(name).toString("utf8"));
  if (!m) throw new Error(`${name}.jsonl has no ${key}`);
  return m[1]!;
}

/** Lines of a GetConfig answer, in order. */
const configLines = (fields: Iterable<readonly [string, string]>) => [...fields].filter(([k]) => k.startsWith("Line-")).map(([, v]) => v);

const scenarios: Record<string, () => Promise<void>> = {
  "login-ok": async () => {
    const { server, client } = await replay("login-ok", { events: "off" });
    const states: string[] = [];
    client.onStateChange((c) => states.push(c.state));
    await client.connect();
    expect(client.amiVersion).toBe("9.0.0");
    const pong = await client.action("Ping");
    expect(pong).toMatchObject({ response: "Success" });
    expect(pong.fields.get("Ping")).toBe("Pong");
    expect(pong.fields.get("Timestamp")).toBe(recordedValue("login-ok", "Timestamp"));
    const bye = await client.logoff();
    expect(bye).toMatchObject({ response: "Goodbye", message: "Thanks for all the fish." });
    await server.finished;
    expect(server.hungUp).toBe(true);
    expect(states).toEqual(["connecting", "loggingIn", "ready", "closed"]);
  },

  "login-bad": async () => {
    const { server, client, logs } = await replay("login-bad", { secret: "not-the-secret", events: "off" });
    const error = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AmiLoginError);
    expect((error as Error).message).toBe("AMI login failed for user 'wanctl': Authentication failed");
    await server.finished;
    expect(server.hungUp).toBe(true); // Asterisk closes after a failed login
    expect(client.state).toBe("disconnected");
    // The Ping of the recording got nothing: the client knows it is not connected.
    await expect(client.action("Ping")).rejects.toBeInstanceOf(AmiStateError);
    expect(JSON.stringify(logs)).not.toContain("not-the-secret");
  },

  "pjsip-external-address": async () => {
    const { server, client } = await replay("pjsip-external-address");
    await client.connect();
    const g1 = await client.action("GetConfig", { Filename: "pjsip.conf", Category: "transport-udp" });
    expect(g1.fields.get("Category-000000")).toBe("transport-udp");
    expect(configLines(g1.fields)).toEqual([
      "type=transport",
      "protocol=udp",
      "bind=0.0.0.0:5060",
      "local_net=192.168.50.0/24",
      "external_media_address=198.51.100.10",
      "external_signaling_address=198.51.100.10",
    ]);
    const before = await client.command("pjsip show transport transport-udp");
    expect(before).toContain(" external_media_address      : 198.51.100.10");
    expect(before).toContain(" external_signaling_address  : 198.51.100.10");
    expect(before).toContain(" allow_reload                : false");
    const update = await client.action("UpdateConfig", {
      SrcFilename: "pjsip.conf",
      DstFilename: "pjsip.conf",
      "Action-000000": "Update",
      "Cat-000000": "transport-udp",
      "Var-000000": "external_media_address",
      "Value-000000": "203.0.113.10",
      "Action-000001": "Update",
      "Cat-000001": "transport-udp",
      "Var-000001": "external_signaling_address",
      "Value-000001": "203.0.113.10",
    });
    expect(update.response).toBe("Success");
    expect(update.message).toBeUndefined(); // UpdateConfig's success carries no Message
    const reload = await client.action("Reload", { Module: "res_pjsip.so" });
    expect(reload.message).toBe("Module Reloaded");
    const after = await client.command("pjsip show transport transport-udp");
    expect(after).toContain(" external_media_address      : 203.0.113.10");
    expect(after).toContain(" external_signaling_address  : 203.0.113.10");
    expect(after).toHaveLength(before.length);
    const g2 = await client.action("GetConfig", { Filename: "pjsip.conf", Category: "transport-udp" });
    expect(configLines(g2.fields).slice(4)).toEqual(["external_media_address=203.0.113.10", "external_signaling_address=203.0.113.10"]);
    await server.finished;
  },

  registrations: async () => {
    const { server, client } = await replay("registrations", { events: ["system"] });
    const registry: string[] = [];
    const everything: string[] = [];
    client.onEvent("Registry", (e) => registry.push(e.fields.get("Status") ?? "?"));
    client.onEvent("*", (e) => everything.push(e.event));
    const booted = client.waitForEvent("FullyBooted");
    await client.connect();
    expect((await booted).fields.get("Status")).toBe("Fully Booted");

    const l1 = await client.list("PJSIPShowRegistrationsOutbound");
    expect(l1.response.message).toBe("Following are Events for each Outbound registration");
    expect(l1.items.map((i) => i.event)).toEqual(["OutboundRegistrationDetail"]);
    const reg = l1.items[0]!.fields;
    expect([reg.get("ObjectName"), reg.get("Status"), reg.get("Expiration"), reg.get("ServerUri")]).toEqual([
      "itsp",
      "Registered",
      "3600",
      "sip:192.0.2.60:5060",
    ]);
    expect(l1.complete?.event).toBe("OutboundRegistrationDetailComplete");
    expect(l1.complete?.fields.get("ListItems")).toBe("1");

    const registered = client.waitForEvent("Registry", (e) => e.fields.get("Status") === "Registered");
    const p1 = await client.action("PJSIPRegister", { Registration: "itsp" });
    expect(p1.message).toBe("Reregistration sent");
    const ev: AmiEvent = await registered;
    expect(ev.fields.get("Username")).toBe("sip:office@192.0.2.60");
    expect(ev.fields.get("ChannelType")).toBe("PJSIP");

    const u2 = await client.action("UpdateConfig", [
      ["SrcFilename", "pjsip.conf"],
      ["DstFilename", "pjsip.conf"],
      ["Action-000000", "Update"],
      ["Cat-000000", "itsp"],
      ["Match-000000", ""],
      ["Var-000000", "expiration"],
      ["Value-000000", "120"],
    ]);
    expect(u2.response).toBe("Success");
    expect((await client.action("Reload", { Module: "res_pjsip.so" })).message).toBe("Module Reloaded");
    const l2 = await client.list("PJSIPShowRegistrationsOutbound");
    expect(l2.items[0]!.fields.get("Expiration")).toBe("120");
    expect(l2.items[0]!.fields.get("Status")).toBe("Registered");

    // PJSIPRegister, then the reload that changed the registration: each unregisters and registers.
    expect(registry).toEqual(["Unregistered", "Registered", "Unregistered", "Registered"]);
    // List items go to list(), not to subscribers.
    expect(everything).toEqual(["FullyBooted", "Registry", "Registry", "Reload", "Registry", "Registry"]);
    await server.finished;
  },

  // Same-named sections: a catfilter narrows an Append to the section of that type; without one,
  // Asterisk appends to every [itsp].
  catfilter: async () => {
    const { server, client } = await replay("catfilter", { events: ["system"] });
    const registry: string[] = [];
    client.onEvent("Registry", (e) => registry.push(e.fields.get("Status") ?? "?"));
    await client.connect();
    const append = (variable: string, value: string, options?: string) =>
      client.action("UpdateConfig", [
        ["SrcFilename", "pjsip.conf"],
        ["DstFilename", "pjsip.conf"],
        ["Action-000000", "Append"],
        ["Cat-000000", "itsp"],
        ["Var-000000", variable],
        ["Value-000000", value],
        ...(options === undefined ? [] : ([["Options-000000", options]] as Array<[string, string]>)),
      ]);
    expect((await append("line", "no", 'catfilter="^type$=^registration$"')).response).toBe("Success");
    expect((await append("support_path", "no")).response).toBe("Success");
    const itsp = await client.action("GetConfig", { Filename: "pjsip.conf", Category: "itsp" });
    const sections = new Map<string, string[]>();
    for (const [k, v] of itsp.fields) {
      const m = /^Line-(\d{6})-\d{6}$/.exec(k);
      if (m) sections.set(m[1]!, [...(sections.get(m[1]!) ?? []), v]);
    }
    const typeOf = (lines: string[]) => lines.find((l) => l.startsWith("type="));
    const withVar = (v: string) => [...sections.values()].filter((lines) => lines.some((l) => l.startsWith(`${v}=`))).map(typeOf);
    expect(withVar("line")).toEqual(["type=registration"]);
    expect(withVar("support_path")).toEqual(["type=registration", "type=aor", "type=endpoint", "type=identify"]);
    const unregistered = client.waitForEvent("Registry", (e) => e.fields.get("Status") === "Unregistered");
    expect((await client.action("PJSIPUnregister", { Registration: "itsp" })).message).toBe("Unregistration sent");
    await unregistered;
    expect(registry).toEqual(["Unregistered"]);
    await server.finished;
  },

  errors: async () => {
    const { server, client } = await replay("errors");
    await client.connect();
    const update = (_recordedId: string, file: string, cat: string, variable: string, value: string) =>
      client.action("UpdateConfig", {
        SrcFilename: file,
        DstFilename: file,
        "Action-000000": "Update",
        "Cat-000000": cat,
        "Var-000000": variable,
        "Value-000000": value,
      });
    const failures: Array<[() => Promise<unknown>, string]> = [
      [() => update("e1", "pjsip.conf", "transport-udp", "no_such_option", "x"), "Update did not complete successfully"],
      [() => update("e2", "pjsip.conf", "no-such-transport", "external_media_address", "1.2.3.4"), "Given category does not exist"],
      [() => update("e3", "nosuchfile.conf", "x", "y", "z"), "File requires escalated privileges"],
      [() => update("e4", "../../etc/passwd", "x", "y", "z"), "File requires escalated privileges"],
      [() => client.action("Reload", { Module: "res_no_such_module.so" }), "No such module"],
      [() => client.action("PJSIPRegister", { Registration: "no-such-trunk" }), "Unable to retrieve registration entry"],
    ];
    for (const [run, amiMessage] of failures) {
      const e = await run().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(AmiActionError);
      expect((e as AmiActionError).amiMessage).toBe(amiMessage);
      expect((e as Error).message).toMatch(new RegExp(`^AMI action '\\w+' failed: ${amiMessage.replace(/[.]/g, "\\.")}$`));
    }
    // A failed CLI command: Response: Error, the reason in Output.
    const cmd = await client.command("no such command here").then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(cmd).toBeInstanceOf(AmiActionError);
    expect((cmd as AmiActionError).amiMessage).toBe("Command output follows");
    expect((cmd as Error).message).toBe(
      "AMI action 'Command' failed: No such command 'no such command here' (type 'core show help no such' for other possible commands)",
    );
    await expect(client.action("NoSuchAction")).rejects.toThrow(
      "AMI action 'NoSuchAction' failed: Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands.",
    );
    await expect(client.action("GetConfig", { Filename: "nosuchfile.conf" })).rejects.toThrow("AMI action 'GetConfig' failed: Config file not found");
    const append = await client.action("UpdateConfig", {
      SrcFilename: "pjsip.conf",
      DstFilename: "pjsip.conf",
      "Action-000000": "Append",
      "Cat-000000": "transport-udp",
      "Var-000000": "external_signaling_port",
      "Value-000000": 5060,
    });
    expect(append.response).toBe("Success");
    const del = await client.action("UpdateConfig", {
      SrcFilename: "pjsip.conf",
      DstFilename: "pjsip.conf",
      "Action-000000": "Delete",
      "Cat-000000": "transport-udp",
      "Var-000000": "external_signaling_port",
    });
    expect(del.response).toBe("Success");
    expect(client.state).toBe("ready"); // errors are answers, not connection problems
    await server.finished;
  },

  channels: async () => {
    const { server, client } = await replay("channels");
    await client.connect();
    const s1 = await client.list("CoreShowChannels");
    expect(s1.items).toEqual([]);
    expect(s1.complete?.event).toBe("CoreShowChannelsComplete");
    expect(s1.complete?.fields.get("ListItems")).toBe("0");
    const o1 = await client.action("Originate", { Channel: "Local/100@from-itsp", Application: "Wait", Data: 20, Async: true });
    expect(o1.message).toBe("Originate successfully queued");
    const s2 = await client.list("CoreShowChannels");
    expect(s2.items.map((i) => i.fields.get("Channel"))).toEqual(["Local/100@from-itsp-00000000;1", "Local/100@from-itsp-00000000;2"]);
    expect(s2.items.map((i) => i.fields.get("ChannelStateDesc"))).toEqual(["Up", "Up"]);
    expect(s2.items[0]!.actionId).toBe(s2.response.actionId);
    expect(s2.complete?.fields.get("ListItems")).toBe("2");
    await server.finished;
  },

  // What the PBX adapter's inUse() relies on (channelDriver "auto"): Success for a loaded module
  // however it is named, an error with "Module not loaded" otherwise (even for no module at all).
  "module-check": async () => {
    const { server, client } = await replay("module-check", { events: "off" });
    await client.connect();
    for (const module of ["res_pjsip.so", "chan_sip.so", "chan_sip", "CHAN_SIP.SO"]) {
      const r = await client.action("ModuleCheck", { Module: module });
      expect(r.response, module).toBe("Success");
      expect(r.fields.get("Version"), module).toBe("");
    }
    for (const fields of [{ Module: "chan_iax2.so" }, {}]) {
      const error = await client.action("ModuleCheck", fields).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AmiActionError);
      expect((error as AmiActionError).amiMessage).toBe("Module not loaded");
    }
    await server.finished;
  },

  "chan-sip": async () => {
    const { server, client, logs } = await replay("chan-sip", { events: ["system"] });
    await client.connect();
    const g1 = await client.action("GetConfig", { Filename: "sip.conf", Category: "general" });
    expect(configLines(g1.fields)).toContain("externip=198.51.100.10");
    expect(configLines(g1.fields)).toContain("register=office2:secret@192.0.2.60:5060/office2~3600");
    const l1 = await client.list("SIPshowregistry");
    expect(l1.items.map((i) => [i.event, i.fields.get("Username"), i.fields.get("State"), i.fields.get("Refresh")])).toEqual([
      ["RegistryEntry", "office2", "Registered", "3585"],
    ]);
    expect(l1.complete?.event).toBe("RegistrationsComplete");
    const u1 = await client.action("UpdateConfig", {
      SrcFilename: "sip.conf",
      DstFilename: "sip.conf",
      "Action-000000": "Update",
      "Cat-000000": "general",
      "Var-000000": "externip",
      "Value-000000": "203.0.113.10",
      "Action-000001": "Update",
      "Cat-000001": "general",
      "Var-000001": "register",
      "Match-000001": "office2:secret@192.0.2.60:5060/office2~3600",
      "Value-000001": "office2:secret@192.0.2.60:5060/office2~120",
    });
    expect(u1.response).toBe("Success");
    const registered = client.waitForEvent("Registry", (e) => e.fields.get("ChannelType") === "SIP");
    expect(await client.command("sip reload")).toEqual([""]);
    const ev = await registered;
    expect([ev.fields.get("Username"), ev.fields.get("Domain"), ev.fields.get("Status")]).toEqual(["office2", "192.0.2.60", "Registered"]);
    const settings = await client.command("sip show settings");
    expect(settings).toContain("  Externaddr:             203.0.113.10:0");
    expect(settings).toContain("  SIP address remapping:  Enabled using externaddr");
    const l2 = await client.list("SIPshowregistry");
    expect(l2.items[0]!.fields.get("Refresh")).toBe("105");
    await server.finished;
    // The `register =>` line holds the trunk's password: the action log must not.
    const logged = JSON.stringify(logs);
    expect(logged).toContain("office2:[REDACTED]@192.0.2.60");
    expect(logged).not.toContain(":secret@");
    expect(logged).not.toContain(SECRET);
  },
};

describe("replaying the recorded Asterisk 20 transcripts", () => {
  it("has a scenario for every transcript in the fixtures directory", () => {
    expect(Object.keys(scenarios).sort()).toEqual(transcriptNames());
  });

  for (const name of transcriptNames()) {
    it(name, async () => {
      const run = scenarios[name];
      if (!run) throw new Error(`no scenario for fixtures/asterisk/${name}.jsonl`);
      current = undefined;
      try {
        await run();
      } catch (e) {
        // The replaying server knows best why a conversation went off the recording.
        const server = current as TranscriptServer | undefined; // set by replay() inside run()
        if (server?.problems.length) throw new Error(`${server.problems.join("; ")}\n(the client saw: ${(e as Error).message})`);
        throw e;
      }
    });
  }
});
