// The simulator against the recordings: send it exactly what the client sent to the real Asterisk 20
// and compare what it answers with what Asterisk answered, packet by packet, key by key. Only values
// that depend on the clock or on process-wide counters (timestamps, uptimes, unique ids) are exempt.

import net from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { loadTranscript, transcriptNames } from "./fixtures.js";
import { type SimHarness, startSim, until } from "./sim/harness.js";

type Packet = Array<[string, string]>;

/** Banner + packets of an AMI stream (stray empty lines skipped, as clients do). */
function splitStream(text: string): { banner: string | undefined; packets: Packet[] } {
  const lines = text.split(/\r?\n/);
  let banner: string | undefined;
  if (lines[0]?.startsWith("Asterisk Call Manager/")) banner = lines.shift();
  const packets: Packet[] = [];
  let cur: Packet = [];
  for (const line of lines) {
    if (line === "") {
      if (cur.length) packets.push(cur);
      cur = [];
      continue;
    }
    const colon = line.indexOf(": ");
    cur.push(colon === -1 ? [line.replace(/:$/, ""), ""] : [line.slice(0, colon), line.slice(colon + 2)]);
  }
  return { banner, packets };
}

const VOLATILE = new Set(["Timestamp", "Uptime", "LastReload", "Uniqueid", "Linkedid", "Duration", "RegistrationTime"]);
/** Events of Asterisk's own qualify (OPTIONS to the ITSP), which the simulator does not model; they come when they come. */
const UNMODELLED_EVENTS = new Set(["PeerStatus", "ContactStatus"]);
const modelled = (p: Packet): boolean => !p.some(([k, v]) => k === "Event" && UNMODELLED_EVENTS.has(v));

/** A raw AMI connection that collects what the server sends. */
class RawConnection {
  text = "";
  closed = false;
  readonly socket: net.Socket;
  constructor(port: number) {
    this.socket = net.createConnection({ host: "127.0.0.1", port });
    this.socket.setEncoding("utf8");
    this.socket.on("data", (d: string) => (this.text += d));
    this.socket.on("close", () => (this.closed = true));
    this.socket.on("error", () => {});
  }
  packets(): Packet[] {
    return splitStream(this.text).packets;
  }
}

let harness: SimHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** Per recording: what may legitimately differ besides VOLATILE keys. */
const EXEMPT: Record<string, (actionIndex: number, key: string) => boolean> = {
  // `sip show settings`: the simulator prints the network part only (Externaddr is what wanctl reads).
  "chan-sip": (i, key) => i === 5 && key === "Output",
  // The second leg of a Local channel runs the dialplan, which the simulator does not have.
  channels: (_i, key) => key === "ApplicationData",
};

describe("the simulator answers as the recorded Asterisk 20", () => {
  for (const name of transcriptNames()) {
    it(name, async () => {
      harness = await startSim();
      const { sim } = harness;
      await until(() => sim.registrations().every((r) => r.status === "Registered") && sim.chanSipRegistrations().every((r) => r.state === "Registered"), "the trunks to register at start");
      // A scenario that needs a call up before it starts? None: channels.jsonl originates its own.
      const entries = loadTranscript(name);
      const conn = new RawConnection(sim.amiPort);
      const recorded = splitStream(entries.filter((e) => e.dir === "recv").map((e) => e.data).join(""));
      // Packets recorded after each `send` (index into the sends), in order.
      const expectedPerAction: Packet[][] = [];
      let sends = -1;
      let recvText = "";
      const flush = (): void => {
        if (sends >= 0) expectedPerAction[sends] = splitStream(recvText).packets.filter(modelled);
        recvText = "";
      };
      for (const e of entries) {
        if (e.dir === "send") {
          flush();
          sends++;
        } else recvText += sends < 0 ? "" : e.data;
      }
      flush();

      await until(() => conn.text.includes("\r\n"), "the banner");
      expect(splitStream(conn.text).banner).toBe(recorded.banner);
      let seen = 0;
      let actionIndex = 0;
      for (const e of entries) {
        if (e.dir !== "send") continue;
        conn.socket.write(e.data);
        const want = expectedPerAction[actionIndex] ?? [];
        if (want.length === 0) {
          // login-bad: Asterisk hung up after the failed login; the Ping got nothing.
          await until(() => conn.closed, "the server to hang up");
          expect(conn.packets().length).toBe(seen);
        } else {
          await until(() => conn.packets().length >= seen + want.length, `${want.length} packet(s) for action ${actionIndex}`);
          const got = conn.packets().slice(seen, seen + want.length);
          const exempt = EXEMPT[name] ?? (() => false);
          for (let p = 0; p < want.length; p++) {
            const keep = ([k]: [string, string]): boolean => !exempt(actionIndex, k);
            const w = want[p]!.filter(keep);
            const g = got[p]!.filter(keep);
            expect(g.map(([k]) => k), `keys of packet ${p} after action ${actionIndex}`).toEqual(w.map(([k]) => k));
            for (let k = 0; k < w.length; k++) {
              const [key, value] = w[k]!;
              if (VOLATILE.has(key) || exempt(actionIndex, key)) continue;
              expect(g[k]![1], `${key} of packet ${p} after action ${actionIndex}`).toBe(value);
            }
          }
          seen += want.length;
        }
        actionIndex++;
      }
      if (name === "chan-sip") {
        // The exempt `sip show settings` still carries the line wanctl reads back, as recorded.
        const externaddr = (pkts: Packet[]) => pkts.flat().find(([k, v]) => k === "Output" && v.includes("Externaddr:"));
        expect(externaddr(conn.packets())).toEqual(externaddr(recorded.packets));
      }
      if (name === "errors") expect(conn.text).toContain("Message: Unable to retrieve registration entry\n\r\n\r\n");
      if (name === "login-bad" || name === "login-ok") expect(conn.closed || name === "login-ok").toBe(true);
      conn.socket.destroy();
    });
  }
});
