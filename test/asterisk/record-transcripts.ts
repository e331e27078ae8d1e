// Records the AMI transcripts in test/fixtures/asterisk/ from the lab's real Asterisk 20 (root,
// Asterisk built by scripts/asterisk.sh):
//
//   npm run build && node dist/test/asterisk/record-transcripts.js
//
// Each conversation runs against a freshly started Asterisk (the same config every time, written to
// fixtures/asterisk/config/), so one conversation's changes never leak into the next. Every
// conversation is one AMI connection: {"dir": "send" | "recv", "t": <unix s>, "data": <exact text>}
// per line, `recv` chunks as the socket delivered them. At the end the facts the fixtures' README
// states are measured again and printed (how long PJSIP takes to register after PJSIPRegister and
// after a reload, with max_random_initial_delay 1 and 0).

import { mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";

import { runScriptOnLab, type Lab } from "../lab/index.js";
import { AMI_SECRET, AMI_USER, asteriskAvailability, asteriskConfigFiles, startAsterisk, waitTrunksRegistered, type LabAsterisk } from "../lab/asterisk.js";
import { startItsp } from "../lab/kamailio.js";
import { FIXTURES_DIR, type TranscriptEntry } from "./fixtures.js";

type Fields = ReadonlyArray<readonly [string, string | number]>;
type Packet = Map<string, string>;

const WAN2 = "203.0.113.10";

/** One AMI connection, every byte both ways kept in order. */
class Conversation {
  readonly entries: TranscriptEntry[] = [];
  #text = "";
  #closed = false;
  readonly #socket: net.Socket;

  constructor(port: number) {
    this.#socket = net.createConnection({ host: "127.0.0.1", port });
    this.#socket.setEncoding("utf8");
    this.#socket.on("data", (data: string) => {
      this.entries.push({ dir: "recv", t: now(), data });
      this.#text += data;
    });
    this.#socket.on("close", () => (this.#closed = true));
    this.#socket.on("error", () => {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Packets received so far (the banner line aside). */
  packets(): Packet[] {
    const body = this.#text.replace(/^Asterisk Call Manager\/[^\r\n]*\r\n/, "");
    return body
      .split("\r\n\r\n")
      .slice(0, -1)
      .map((block) => new Map(block.split("\r\n").filter((l) => l !== "").map((l) => {
        const colon = l.indexOf(":");
        return [l.slice(0, colon), l.slice(colon + 1).trim()] as [string, string];
      })));
  }

  /** Send an action; returns its ActionID. */
  send(action: string, fields: Fields, actionId: string): string {
    const lines = [`Action: ${action}`, `ActionID: ${actionId}`, ...fields.map(([k, v]) => `${k}: ${v}`)];
    const data = `${lines.join("\r\n")}\r\n\r\n`;
    this.entries.push({ dir: "send", t: now(), data });
    this.#socket.write(data);
    return actionId;
  }

  async until(check: (packets: Packet[]) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (check(this.packets())) return;
      await sleep(10);
    }
    throw new Error(`recording: gave up waiting for ${what}; received:\n${this.#text.slice(-2000)}`);
  }

  /** Wait for the response to `id` (and, for an event list, its Complete event). */
  answered(id: string, list = false): Promise<void> {
    return this.until(
      (ps) => ps.some((p) => p.get("ActionID") === id && p.has("Response")) && (!list || ps.some((p) => p.get("ActionID") === id && p.get("EventList") === "Complete")),
      `the answer to ${id}`,
    );
  }

  /** Wait until `count` events match. */
  events(match: (p: Packet) => boolean, count: number, what: string): Promise<void> {
    return this.until((ps) => ps.filter((p) => p.has("Event") && match(p)).length >= count, what);
  }

  async banner(): Promise<void> {
    await this.until(() => this.#text.includes("\r\n"), "the banner");
  }

  close(): void {
    this.#socket.destroy();
  }
}

const now = (): number => Math.round(Date.now()) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Log in; with `system` events, until FullyBooted has arrived too (it trails the answer). */
async function login(c: Conversation, events: string, secret = AMI_SECRET, id = "login"): Promise<void> {
  await c.answered(c.send("Login", [["Username", AMI_USER], ["Secret", secret], ["Events", events]], id));
  if (events.includes("system")) await c.events((p) => p.get("Event") === "FullyBooted", 1, "FullyBooted");
}
const registry = (status: string, type = "PJSIP") => (p: Packet) => p.get("Event") === "Registry" && p.get("ChannelType") === type && p.get("Status") === status;

/** The conversations, by fixture name. Each gets a fresh Asterisk whose trunks are registered. */
// ActionIDs as in the first recordings (tests look packets up by them).
const CONVERSATIONS: Record<string, (c: Conversation, asterisk: LabAsterisk) => Promise<void>> = {
  "login-ok": async (c) => {
    await login(c, "off", AMI_SECRET, "1");
    await c.answered(c.send("Ping", [], "2"));
    await c.answered(c.send("Logoff", [], "3"));
    await c.until(() => c.closed, "Asterisk to hang up after Logoff");
  },

  "login-bad": async (c) => {
    await login(c, "off", "not-the-secret", "1");
    c.send("Ping", [], "2");
    await c.until(() => c.closed, "Asterisk to hang up after the failed login");
  },

  "pjsip-external-address": async (c) => {
    await login(c, "off");
    await c.answered(c.send("GetConfig", [["Filename", "pjsip.conf"], ["Category", "transport-udp"]], "g1"));
    await c.answered(c.send("Command", [["Command", "pjsip show transport transport-udp"]], "c1"));
    await c.answered(
      c.send(
        "UpdateConfig",
        [
          ["SrcFilename", "pjsip.conf"],
          ["DstFilename", "pjsip.conf"],
          ["Action-000000", "Update"],
          ["Cat-000000", "transport-udp"],
          ["Var-000000", "external_media_address"],
          ["Value-000000", WAN2],
          ["Action-000001", "Update"],
          ["Cat-000001", "transport-udp"],
          ["Var-000001", "external_signaling_address"],
          ["Value-000001", WAN2],
        ],
        "u1",
      ),
    );
    await c.answered(c.send("Reload", [["Module", "res_pjsip.so"]], "r1"));
    await c.answered(c.send("Command", [["Command", "pjsip show transport transport-udp"]], "c2"));
    await c.answered(c.send("GetConfig", [["Filename", "pjsip.conf"], ["Category", "transport-udp"]], "g2"));
  },

  registrations: async (c) => {
    await login(c, "system");
    await c.answered(c.send("PJSIPShowRegistrationsOutbound", [], "l1"), true);
    await c.answered(c.send("PJSIPRegister", [["Registration", "itsp"]], "p1"));
    await c.events(registry("Registered"), 1, "Registered after PJSIPRegister");
    await c.answered(
      c.send(
        "UpdateConfig",
        [
          ["SrcFilename", "pjsip.conf"],
          ["DstFilename", "pjsip.conf"],
          ["Action-000000", "Update"],
          ["Cat-000000", "itsp"],
          ["Match-000000", ""],
          ["Var-000000", "expiration"],
          ["Value-000000", "120"],
        ],
        "u2",
      ),
    );
    await c.answered(c.send("Reload", [["Module", "res_pjsip.so"]], "r2"));
    await c.events(registry("Registered"), 2, "Registered after the reload");
    await c.answered(c.send("PJSIPShowRegistrationsOutbound", [], "l2"), true);
  },

  // Same-named sections ([itsp] is a registration, an aor, an endpoint and an identify): Append
  // with a catfilter reaches only the section whose type matches, Append without one reaches every
  // [itsp]. PJSIPUnregister sends the un-REGISTER at once.
  catfilter: async (c) => {
    await login(c, "system");
    const append = (id: string, variable: string, value: string, catfilter?: string) =>
      c.send(
        "UpdateConfig",
        [
          ["SrcFilename", "pjsip.conf"],
          ["DstFilename", "pjsip.conf"],
          ["Action-000000", "Append"],
          ["Cat-000000", "itsp"],
          ["Var-000000", variable],
          ["Value-000000", value],
          ...(catfilter === undefined ? [] : ([["Options-000000", `catfilter=${catfilter}`]] as const)),
        ],
        id,
      );
    await c.answered(append("u1", "line", "no", '"^type$=^registration$"'));
    await c.answered(append("u2", "support_path", "no"));
    await c.answered(c.send("GetConfig", [["Filename", "pjsip.conf"], ["Category", "itsp"]], "g1"));
    await c.answered(c.send("PJSIPUnregister", [["Registration", "itsp"]], "p1"));
    await c.events(registry("Unregistered"), 1, "Unregistered after PJSIPUnregister");
  },

  errors: async (c) => {
    await login(c, "off");
    const update = (id: string, file: string, cat: string, variable: string, value: string) =>
      c.send(
        "UpdateConfig",
        [
          ["SrcFilename", file],
          ["DstFilename", file],
          ["Action-000000", "Update"],
          ["Cat-000000", cat],
          ["Var-000000", variable],
          ["Value-000000", value],
        ],
        id,
      );
    await c.answered(update("e1", "pjsip.conf", "transport-udp", "no_such_option", "x"));
    await c.answered(update("e2", "pjsip.conf", "no-such-transport", "external_media_address", "1.2.3.4"));
    await c.answered(update("e3", "nosuchfile.conf", "x", "y", "z"));
    await c.answered(update("e4", "../../etc/passwd", "x", "y", "z"));
    await c.answered(c.send("Reload", [["Module", "res_no_such_module.so"]], "e5"));
    await c.answered(c.send("PJSIPRegister", [["Registration", "no-such-trunk"]], "e6"));
    await c.answered(c.send("Command", [["Command", "no such command here"]], "e7"));
    await c.answered(c.send("NoSuchAction", [], "e8"));
    await c.answered(c.send("GetConfig", [["Filename", "nosuchfile.conf"]], "e9"));
    const change = (id: string, action: string, value?: string) =>
      c.send(
        "UpdateConfig",
        [
          ["SrcFilename", "pjsip.conf"],
          ["DstFilename", "pjsip.conf"],
          ["Action-000000", action],
          ["Cat-000000", "transport-udp"],
          ["Var-000000", "external_signaling_port"],
          ...(value === undefined ? [] : ([["Value-000000", value]] as const)),
        ],
        id,
      );
    await c.answered(change("e10", "Append", "5060"));
    await c.answered(change("e11", "Delete"));
  },

  channels: async (c) => {
    await login(c, "off");
    await c.answered(c.send("CoreShowChannels", [], "s1"), true);
    await c.answered(c.send("Originate", [["Channel", "Local/100@from-itsp"], ["Application", "Wait"], ["Data", 20], ["Async", "true"]], "o1"));
    await sleep(1000); // both legs up
    await c.answered(c.send("CoreShowChannels", [], "s2"), true);
  },

  // Which channel drivers are loaded (channelDriver "auto"): ModuleCheck by name with and without
  // .so and in capitals, a module that is not loaded, and no module at all.
  "module-check": async (c) => {
    await login(c, "off");
    const check = (id: string, module?: string) => c.answered(c.send("ModuleCheck", module === undefined ? [] : [["Module", module]], id));
    await check("m1", "res_pjsip.so");
    await check("m2", "chan_sip.so");
    await check("m3", "chan_sip");
    await check("m4", "CHAN_SIP.SO");
    await check("m5", "chan_iax2.so");
    await check("m6");
  },

  "chan-sip": async (c, asterisk) => {
    await login(c, "system");
    await c.answered(c.send("GetConfig", [["Filename", "sip.conf"], ["Category", "general"]], "g1"));
    await c.answered(c.send("SIPshowregistry", [], "l1"), true);
    const line = /register => (\S+)/.exec(asterisk.fileText("sip.conf"))![1]!;
    await c.answered(
      c.send(
        "UpdateConfig",
        [
          ["SrcFilename", "sip.conf"],
          ["DstFilename", "sip.conf"],
          ["Action-000000", "Update"],
          ["Cat-000000", "general"],
          ["Var-000000", "externip"],
          ["Value-000000", WAN2],
          ["Action-000001", "Update"],
          ["Cat-000001", "general"],
          ["Var-000001", "register"],
          ["Match-000001", line],
          ["Value-000001", line.replace(/~\d+$/, "~120")],
        ],
        "u1",
      ),
    );
    await c.answered(c.send("Command", [["Command", "sip reload"]], "c1"));
    await c.events(registry("Registered", "SIP"), 1, "chan_sip Registered after sip reload");
    await c.answered(c.send("Command", [["Command", "sip show settings"]], "c2"));
    await c.answered(c.send("SIPshowregistry", [], "l2"), true);
  },
};

/** Fresh Asterisk, trunks registered, then one conversation. */
async function record(lab: Lab, name: string): Promise<TranscriptEntry[]> {
  const asterisk = await startAsterisk(lab);
  try {
    await waitTrunksRegistered(asterisk);
    await waitQualified(asterisk); // its PeerStatus event before the conversation, not in the middle
    const c = new Conversation(asterisk.amiPort);
    try {
      await c.banner();
      await CONVERSATIONS[name]!(c, asterisk);
      return c.entries;
    } finally {
      c.close();
    }
  } finally {
    await asterisk.stop();
  }
}

/** Until PJSIP's qualify has found the ITSP's contact reachable (`pjsip show contacts`: Avail). */
async function waitQualified(asterisk: LabAsterisk): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (/\bAvail\b/.test(await asterisk.cli("pjsip show contacts"))) return;
    await sleep(100);
  }
  throw new Error("recording: the ITSP's contact never became reachable (pjsip show contacts)");
}

/** PJSIPRegister, then a reload that changes the registration: ms from each to `Registered`. */
async function registrationDelays(lab: Lab, maxRandomInitialDelay: number): Promise<{ pjsipRegister: number; reload: number }> {
  const files = asteriskConfigFiles();
  files["pjsip.conf"] = files["pjsip.conf"]!.replace(/max_random_initial_delay = \d+/, `max_random_initial_delay = ${maxRandomInitialDelay}`);
  const asterisk = await startAsterisk(lab, { files });
  try {
    await waitTrunksRegistered(asterisk);
    const c = new Conversation(asterisk.amiPort);
    try {
      await c.banner();
      await login(c, "system");
      const registeredAt = (n: number) => c.entries.filter((e) => e.dir === "recv" && /Status: Registered\r\n/.test(e.data) && /ChannelType: PJSIP/.test(e.data))[n - 1]!.t;
      const t1 = now();
      await c.answered(c.send("PJSIPRegister", [["Registration", "itsp"]], "p1"));
      await c.events(registry("Registered"), 1, "Registered after PJSIPRegister");
      const pjsipRegister = Math.round((registeredAt(1) - t1) * 1000);
      await c.answered(
        c.send("UpdateConfig", [
          ["SrcFilename", "pjsip.conf"],
          ["DstFilename", "pjsip.conf"],
          ["Action-000000", "Update"],
          ["Cat-000000", "itsp"],
          ["Var-000000", "expiration"],
          ["Value-000000", "120"],
        ], "u1"),
      );
      const t2 = now();
      await c.answered(c.send("Reload", [["Module", "res_pjsip.so"]], "r1"));
      await c.events(registry("Registered"), 2, "Registered after the reload");
      return { pjsipRegister, reload: Math.round((registeredAt(2) - t2) * 1000) };
    } finally {
      c.close();
    }
  } finally {
    await asterisk.stop();
  }
}

runScriptOnLab(
  "record",
  async (lab) => {
    const only = process.argv.slice(2);
    const itsp = await startItsp(lab);
    try {
      mkdirSync(path.join(FIXTURES_DIR, "config"), { recursive: true });
      for (const [file, text] of Object.entries(asteriskConfigFiles())) writeFileSync(path.join(FIXTURES_DIR, "config", file), text);
      for (const name of Object.keys(CONVERSATIONS)) {
        if (only.length && !only.includes(name)) continue;
        const entries = await record(lab, name);
        writeFileSync(path.join(FIXTURES_DIR, `${name}.jsonl`), entries.map((e) => JSON.stringify(e)).join("\n") + "\n");
        process.stdout.write(`recorded ${name}.jsonl (${entries.length} chunks)\n`);
      }
      if (!only.length || only.includes("facts")) {
        for (const delay of [1, 0]) {
          const d = await registrationDelays(lab, delay);
          process.stdout.write(`fact: max_random_initial_delay ${delay}: Registered ${d.pjsipRegister} ms after PJSIPRegister, ${d.reload} ms after a reload that changed the registration\n`);
        }
      }
    } finally {
      await itsp.stop();
    }
  },
  [asteriskAvailability],
);
