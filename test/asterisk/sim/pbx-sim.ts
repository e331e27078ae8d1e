// A PBX simulator that answers on AMI as the recorded Asterisk 20 does (fixtures/asterisk) and
// registers its trunks with a real registrar over real SIP/UDP.
//
// What it models (see test/asterisk/sim/README.md for the full list and the sources):
//  - manager.c: banner, Login (+ FullyBooted), Logoff, Ping, permission checks against the user's
//    write= classes, events filtered by Events: and read=, Permission denied / unknown action /
//    Missing action errors, the 1 s delay and hang-up after a failed login;
//  - config files as config.c keeps them: GetConfig (Category, Filter), UpdateConfig with every
//    action of handle_updates() (NewCat, RenameCat, DelCat, EmptyCat, Update, Delete, Append,
//    Insert; Match, Line, Options allowdups/template/inherit/catfilter/ignoreerror), all-or-nothing,
//    written back in Asterisk's own format;
//  - PJSIP: transports and outbound registrations loaded from pjsip.conf, applied on Reload of
//    res_pjsip.so (external addresses apply live; a changed registration unregisters and registers
//    again by itself), PJSIPShowRegistrationsOutbound, PJSIPRegister, `pjsip show transport`;
//  - chan_sip: externip/externaddr, `register =>` lines with ~expiry, `sip reload` (re-registers
//    everything), SIPshowregistry, `sip show settings` (the network part);
//  - channels: CoreShowChannels, Originate of a Local channel (two legs), added calls.
// Only node: imports, so that the lab can run it as a plain Node process inside a namespace.

import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";

import { ActionReader, type ClientAction, amiTimestamp, dottedNetwork, inNetwork, packet, parseEventMask, parsePerms } from "./ami-wire.js";
import { allValues, type ConfCategory, categoryMatches, cloneConf, parseConf, serializeConf, strsep } from "./conf.js";
import { buildRegister, grantedExpiry, newCallId, newTag, SipEndpoint, type SipLogEntry, type TransactionTimers, uriTarget } from "./sip.js";

export const SIM_AMI_VERSION = "9.0.0";
export const SIM_ASTERISK_VERSION = "GIT-20-pbxsim";
const USER_AGENT = `Asterisk PBX ${SIM_ASTERISK_VERSION}`;

export interface PbxSimOptions {
  /** Config files by name (pjsip.conf, sip.conf, manager.conf). Ignored when configDir is set. */
  files?: Record<string, string>;
  /** Asterisk's config directory: files are read from it and UpdateConfig writes back into it. */
  configDir?: string;
  /** Where AMI listens: TCP host/port (port 0: any) and/or a unix socket path. Default 127.0.0.1:0. */
  ami?: { host?: string; port?: number; path?: string };
  /** Bind every SIP socket here instead of the configured `bind`/`udpbindaddr` (unit tests: 127.0.0.1, port 0). */
  sipBind?: { host: string; port?: number };
  /** Address put in Contact/Via when a transport binds 0.0.0.0 and has no external address. */
  localAddress?: string;
  sipTimers?: Partial<TransactionTimers>;
  /**
   * Where to really send SIP for a `host:port` (unit tests: the lab's registrar 192.0.2.60:5060 is a
   * fake on 127.0.0.1). URIs and headers keep the configured address.
   */
  sipRoute?: Record<string, { host: string; port: number }>;
  /** Length of one of Asterisk's seconds (initial delay, retry_interval, refresh, Wait()). Default 1000 ms. */
  secondMs?: number;
  /** Delay before `Authentication failed` (Asterisk sleeps 1 s). Default 1000 ms. */
  loginFailDelayMs?: number;
  /**
   * How long after `sip reload` answers chan_sip really reloads: Asterisk only flags the reload
   * and chan_sip's monitor thread does it later (chan_sip.c sip_reload()). Default 0 (at once).
   */
  chanSipReloadLagMs?: number;
  /** Register every trunk when started, as Asterisk does at boot. Default true. */
  registerOnStart?: boolean;
  /** Refresh registrations before they expire. Default true. */
  refresh?: boolean;
  /** Called for every SIP message and simulator event (the lab prints them as JSON lines). */
  log?: (entry: SimLogEntry) => void;
}

export type SimLogEntry =
  | ({ kind: "sip" } & SipLogEntry)
  | { kind: "registry"; driver: "PJSIP" | "SIP"; name: string; status: string }
  | { kind: "ami"; action: string; response: string; message?: string; command?: string }
  | { kind: "file"; name: string; written: boolean };

export type RegistrationStatus = "Unregistered" | "Registered" | "Rejected" | "Stopped";

export interface RegistrationView {
  readonly name: string;
  readonly status: RegistrationStatus;
  readonly contact: string | undefined;
  readonly expiration: number;
  readonly grantedExpiry: number | undefined;
  readonly registeredAt: number | undefined;
}

export interface ChannelView {
  readonly channel: string;
  readonly linkedid: string;
}

interface ManagerUser {
  username: string;
  secret: string;
  read: Set<string>;
  write: Set<string>;
  acl: Array<{ permit: boolean; network: string }>;
}

interface Session {
  readonly socket: net.Socket;
  readonly remote: string;
  readonly reader: ActionReader;
  user: ManagerUser | undefined;
  sendEvents: Set<string>;
  closing: boolean;
}

interface TransportState {
  name: string;
  options: Map<string, string>;
  endpoint: SipEndpoint | undefined;
}

interface RegState {
  name: string;
  config: Map<string, string>;
  status: RegistrationStatus;
  callId: string;
  fromTag: string;
  cseq: number;
  lastContact: string | undefined;
  granted: number | undefined;
  registeredAt: number | undefined;
  retries: number;
  gen: number;
  timer: NodeJS.Timeout | undefined;
}

interface SipRegisterLine {
  key: string;
  user: string;
  host: string;
  port: number;
  extension: string;
  expiry: number | undefined;
}

interface ChanSipRegState {
  line: SipRegisterLine;
  state: "Unregistered" | "Request Sent" | "Registered" | "Rejected" | "Timeout";
  callId: string;
  fromTag: string;
  cseq: number;
  granted: number | undefined;
  registeredAt: number | undefined;
  gen: number;
  timer: NodeJS.Timeout | undefined;
}

interface Channel {
  name: string;
  state: number;
  context: string;
  exten: string;
  priority: number;
  uniqueid: string;
  linkedid: string;
  application: string;
  data: string;
  created: number;
  timer: NodeJS.Timeout | undefined;
}

type Handler = (s: Session, a: ClientAction) => void | Promise<void>;

/** Action name → write classes that allow it (any one; empty = everyone), as manager.c registers them. */
const AUTHORITY: Record<string, readonly string[]> = {
  ping: [],
  logoff: [],
  login: [],
  challenge: [],
  events: [],
  listcommands: [],
  getconfig: ["system", "config"],
  getconfigjson: ["system", "config"],
  updateconfig: ["config"],
  listcategories: ["config"],
  reload: ["config", "system"],
  command: ["command"],
  coresettings: ["system", "reporting"],
  corestatus: ["system", "reporting"],
  coreshowchannels: ["system", "reporting"],
  originate: ["originate"],
  pjsipshowregistrationsoutbound: ["system", "reporting"],
  pjsipregister: ["system", "reporting"],
  pjsipunregister: ["system", "reporting"],
  sipshowregistry: ["system", "reporting"],
  modulecheck: ["system"],
};

const TRANSPORT_DEFAULTS: ReadonlyArray<readonly [string, string]> = [
  ["allow_reload", "false"],
  ["allow_wildcard_certs", "No"],
  ["async_operations", "1"],
  ["bind", ""],
  ["ca_list_file", ""],
  ["ca_list_path", ""],
  ["cert_file", ""],
  ["cipher", ""],
  ["cos", "0"],
  ["domain", ""],
  ["external_media_address", ""],
  ["external_signaling_address", ""],
  ["external_signaling_port", "0"],
  ["local_net", ""],
  ["method", "unspecified"],
  ["password", ""],
  ["priv_key_file", ""],
  ["protocol", "udp"],
  ["require_client_cert", "No"],
  ["symmetric_transport", "false"],
  ["tcp_keepalive_enable", "false"],
  ["tcp_keepalive_idle_time", "30"],
  ["tcp_keepalive_interval_time", "1"],
  ["tcp_keepalive_probe_count", "5"],
  ["tos", "0"],
  ["verify_client", "No"],
  ["verify_server", "No"],
  ["websocket_write_timeout", "100"],
];

const yes = (v: string | undefined): boolean => v !== undefined && /^(yes|true|y|t|1|on)$/i.test(v.trim());
const boolWord = (v: string | undefined, dflt: boolean): string => (v === undefined ? dflt : yes(v)) ? "true" : "false";

/** Parse a chan_sip `register =>` value: [proto://]user[:secret[:authuser]]@host[:port][/extension][~expiry]. */
export function parseRegisterLine(value: string): SipRegisterLine | null {
  const m = /^(?:[a-z]+:\/\/)?([^@]+)@([^:/~]+)(?::(\d+))?(?:\/([^~]*))?(?:~(\d+))?$/.exec(value.trim());
  if (!m) return null;
  const user = m[1]!.split(":")[0]!;
  const host = m[2]!;
  const port = m[3] ? Number(m[3]) : 5060;
  const extension = m[4] ?? "s";
  return { key: `${user}@${host}:${port}/${extension}`, user, host, port, extension, expiry: m[5] ? Number(m[5]) : undefined };
}

export class PbxSimulator {
  readonly sipLog: SipLogEntry[] = [];
  /** Every `Registry` event sent, in order (name = registration or register line key). */
  readonly registryLog: Array<{ driver: "PJSIP" | "SIP"; name: string; status: string; at: number }> = [];

  readonly #opts: PbxSimOptions;
  readonly #files = new Map<string, string>();
  readonly #sessions = new Set<Session>();
  readonly #servers: net.Server[] = [];
  #tcpAddress: { host: string; port: number } | undefined;
  #users = new Map<string, ManagerUser>();
  readonly #transports = new Map<string, TransportState>();
  readonly #registrations = new Map<string, RegState>();
  readonly #endpoints = new Map<string, Promise<SipEndpoint>>();
  #chanSip: { general: Map<string, string>; endpoint: SipEndpoint | undefined; regs: ChanSipRegState[] } | undefined;
  readonly #channels: Channel[] = [];
  #uniqueSeq = 0;
  #closed = false;
  readonly #startedAt = Date.now();
  #lastReload = Date.now();
  readonly #handlers: Record<string, Handler>;

  private constructor(opts: PbxSimOptions) {
    this.#opts = opts;
    this.#handlers = {
      ping: (s, a) => this.#reply(s, a, [["Response", "Success"], ...this.#id(a), ["Ping", "Pong"], ["Timestamp", amiTimestamp()]]),
      logoff: (s, a) => {
        this.#reply(s, a, [["Response", "Goodbye"], ...this.#id(a), ["Message", "Thanks for all the fish."]]);
        s.closing = true;
        s.socket.end();
      },
      events: (s, a) => {
        s.sendEvents = parseEventMask(a.get("EventMask"));
        this.#reply(s, a, [["Response", "Success"], ...this.#id(a), ["Events", s.sendEvents.size ? "On" : "Off"]]);
      },
      getconfig: (s, a) => this.#getConfig(s, a),
      updateconfig: (s, a) => this.#updateConfig(s, a),
      reload: (s, a) => this.#reloadAction(s, a),
      command: (s, a) => this.#command(s, a),
      coresettings: (s, a) =>
        this.#reply(s, a, [
          ["Response", "Success"],
          ...this.#id(a),
          ["AMIversion", SIM_AMI_VERSION],
          ["AsteriskVersion", SIM_ASTERISK_VERSION],
          ["SystemName", ""],
          ["CoreMaxCalls", "0"],
          ["CoreMaxLoadAvg", "0.000000"],
          ["CoreRunUser", ""],
          ["CoreRunGroup", ""],
          ["CoreMaxFilehandles", "0"],
          ["CoreRealTimeEnabled", "No"],
          ["CoreCDRenabled", "No"],
          ["CoreHTTPenabled", "No"],
          ["SoundsSearchCustomDir", "No"],
        ]),
      coreshowchannels: (s, a) => this.#coreShowChannels(s, a),
      originate: (s, a) => this.#originate(s, a),
      pjsipshowregistrationsoutbound: (s, a) => this.#showRegistrations(s, a),
      pjsipregister: (s, a) => this.#pjsipRegister(s, a),
      pjsipunregister: (s, a) => this.#pjsipUnregister(s, a),
      sipshowregistry: (s, a) => this.#sipShowRegistry(s, a),
      // manager_modulecheck(): Success with an empty Version (kept for compatibility), or "Module not loaded".
      modulecheck: (s, a) => {
        if (!this.#moduleLoaded(a.get("Module"))) return this.#error(s, a, "Module not loaded");
        this.#reply(s, a, [["Response", "Success"], ...this.#id(a), ["Version", ""]]);
      },
    };
  }

  static async start(opts: PbxSimOptions = {}): Promise<PbxSimulator> {
    const sim = new PbxSimulator(opts);
    sim.#loadFiles();
    sim.#loadUsers();
    await sim.#listen();
    await sim.#reloadPjsip(true);
    await sim.#reloadChanSip(true);
    return sim;
  }

  // --- public view for tests ------------------------------------------------------------------------

  get amiPort(): number {
    if (!this.#tcpAddress) throw new Error("AMI is not listening on TCP");
    return this.#tcpAddress.port;
  }

  get amiHost(): string {
    if (!this.#tcpAddress) throw new Error("AMI is not listening on TCP");
    return this.#tcpAddress.host;
  }

  /** Current text of a config file (what Asterisk would have on disk). */
  fileText(name: string): string | undefined {
    return this.#files.get(name);
  }

  /** Replace a config file's text (as an admin editing it would; takes effect on reload). */
  setFile(name: string, text: string): void {
    this.#files.set(name, text);
    this.#persist(name);
  }

  registrations(): RegistrationView[] {
    return [...this.#registrations.values()].map((r) => ({
      name: r.name,
      status: r.status,
      contact: r.lastContact,
      expiration: Number(r.config.get("expiration") ?? "3600"),
      grantedExpiry: r.granted,
      registeredAt: r.registeredAt,
    }));
  }

  /** Live transport options, as `pjsip show transport` prints them. */
  transport(name: string): ReadonlyMap<string, string> | undefined {
    return this.#transports.get(name)?.options;
  }

  /** The SIP socket of a transport (host:port it is bound to). */
  transportLocal(name: string): { address: string; port: number } | undefined {
    return this.#transports.get(name)?.endpoint?.local;
  }

  chanSipRegistrations(): Array<{ key: string; state: string; expiry: number; contactHost: string | undefined }> {
    return (this.#chanSip?.regs ?? []).map((r) => ({ key: r.line.key, state: r.state, expiry: this.#chanSipExpiry(r.line), contactHost: this.#chanSip?.general.get("externaddr") }));
  }

  /** Add a channel as if a call were up; returns its name. Two channels with one linkedid make a bridged call. */
  addChannel(spec: { channel: string; linkedid?: string; context?: string; exten?: string; application?: string; data?: string }): string {
    const ch = this.#newChannel(spec.channel, spec.context ?? "from-itsp", spec.exten ?? "s", 1, spec.application ?? "Dial", spec.data ?? "", spec.linkedid);
    return ch.name;
  }

  removeChannel(name: string): void {
    const i = this.#channels.findIndex((c) => c.name === name);
    if (i !== -1) {
      clearTimeout(this.#channels[i]!.timer);
      this.#channels.splice(i, 1);
    }
  }

  channels(): ChannelView[] {
    return this.#channels.map((c) => ({ channel: c.name, linkedid: c.linkedid }));
  }

  /** Drop every AMI connection now (as a crashing or restarting Asterisk would). */
  dropConnections(): void {
    for (const s of this.#sessions) s.socket.destroy();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const r of this.#registrations.values()) {
      r.gen++;
      clearTimeout(r.timer);
    }
    for (const r of this.#chanSip?.regs ?? []) {
      r.gen++;
      clearTimeout(r.timer);
    }
    for (const c of this.#channels) clearTimeout(c.timer);
    for (const s of this.#sessions) s.socket.destroy();
    await Promise.all(this.#servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
    const endpoints = await Promise.all([...this.#endpoints.values()].map((p) => p.catch(() => undefined)));
    await Promise.all(endpoints.map((e) => e?.close()));
  }

  // --- files ---------------------------------------------------------------------------------------

  #loadFiles(): void {
    const dir = this.#opts.configDir;
    if (dir !== undefined) {
      for (const f of readdirSync(dir)) if (f.endsWith(".conf")) this.#files.set(f, readFileSync(path.join(dir, f), "utf8"));
    } else {
      for (const [name, text] of Object.entries(this.#opts.files ?? {})) this.#files.set(name, text);
    }
  }

  #persist(name: string): void {
    const dir = this.#opts.configDir;
    if (dir === undefined) return;
    const tmp = path.join(dir, `.${name}.tmp`);
    writeFileSync(tmp, this.#files.get(name) ?? "");
    renameSync(tmp, path.join(dir, name));
    this.#opts.log?.({ kind: "file", name, written: true });
  }

  /** manager.c is_restricted_file(): outside the config dir, or absent (-1, which UpdateConfig treats as restricted). */
  #restricted(name: string): 1 | -1 | 0 {
    if (name.startsWith("/") || name.split("/").includes("..")) return 1;
    return this.#files.has(name) ? 0 : -1;
  }

  #conf(name: string): ConfCategory[] | undefined {
    const text = this.#files.get(name);
    return text === undefined ? undefined : parseConf(text, name);
  }

  #loadUsers(): void {
    const users = new Map<string, ManagerUser>();
    for (const c of this.#conf("manager.conf") ?? []) {
      if (c.name.toLowerCase() === "general" || c.template) continue;
      const user: ManagerUser = { username: c.name, secret: "", read: new Set(), write: new Set(), acl: [] };
      for (const v of c.variables) {
        const k = v.name.toLowerCase();
        if (k === "secret") user.secret = v.value;
        else if (k === "read") user.read = parsePerms(v.value);
        else if (k === "write") user.write = parsePerms(v.value);
        else if (k === "permit" || k === "deny") user.acl.push({ permit: k === "permit", network: v.value.trim() });
      }
      users.set(c.name.toLowerCase(), user);
    }
    this.#users = users;
  }

  // --- AMI sessions --------------------------------------------------------------------------------

  async #listen(): Promise<void> {
    const ami = this.#opts.ami ?? {};
    const listenOn = async (args: { host: string; port: number } | { path: string }): Promise<net.Server> => {
      const server = net.createServer((socket) => this.#onConnection(socket));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        if ("path" in args) server.listen(args.path, () => resolve());
        else server.listen(args.port, args.host, () => resolve());
      });
      this.#servers.push(server);
      return server;
    };
    if (ami.path !== undefined) await listenOn({ path: ami.path });
    if (ami.path === undefined || ami.port !== undefined || ami.host !== undefined) {
      const srv = await listenOn({ host: ami.host ?? "127.0.0.1", port: ami.port ?? 0 });
      const addr = srv.address();
      if (addr && typeof addr === "object") this.#tcpAddress = { host: addr.address, port: addr.port };
    }
  }

  #onConnection(socket: net.Socket): void {
    const remote = socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1"; // unix socket: local
    const session: Session = { socket, remote, reader: new ActionReader(), user: undefined, sendEvents: new Set(), closing: false };
    this.#sessions.add(session);
    socket.setEncoding("utf8");
    socket.on("error", () => {});
    socket.on("close", () => this.#sessions.delete(session));
    socket.write(`Asterisk Call Manager/${SIM_AMI_VERSION}\r\n`);
    let queue = Promise.resolve();
    socket.on("data", (text: string) => {
      const { actions, overflow } = session.reader.push(text);
      for (const a of actions) queue = queue.then(() => this.#dispatch(session, a)).catch(() => {});
      if (overflow) socket.destroy();
    });
  }

  #write(s: Session, text: string): void {
    if (!s.socket.destroyed && !s.closing) s.socket.write(text);
  }

  #id(a: ClientAction): Array<[string, string]> {
    return a.has("ActionID") ? [["ActionID", a.actionId]] : [];
  }

  #reply(s: Session, a: ClientAction, pairs: Array<[string, string]>): void {
    this.#opts.log?.({
      kind: "ami",
      action: a.action,
      response: pairs[0]?.[1] ?? "",
      ...(pairs.find(([k]) => k === "Message") ? { message: pairs.find(([k]) => k === "Message")![1] } : {}),
      ...(a.action.toLowerCase() === "command" ? { command: a.get("Command") } : {}),
    });
    this.#write(s, packet(pairs));
  }

  #error(s: Session, a: ClientAction, message: string): void {
    this.#reply(s, a, [["Response", "Error"], ...this.#id(a), ["Message", message]]);
  }

  #ack(s: Session, a: ClientAction, message?: string): void {
    this.#reply(s, a, [["Response", "Success"], ...this.#id(a), ...(message === undefined ? [] : ([["Message", message]] as Array<[string, string]>))]);
  }

  /** Event to every session that asked for its class and may read it. */
  #event(cls: string, pairs: Array<[string, string]>): void {
    for (const s of this.#sessions) {
      if (!s.user || !s.sendEvents.has(cls) || !s.user.read.has(cls)) continue;
      this.#write(s, packet([pairs[0]!, ["Privilege", `${cls},all`], ...pairs.slice(1)]));
    }
  }

  async #dispatch(s: Session, a: ClientAction): Promise<void> {
    if (s.closing) return;
    const name = a.action.toLowerCase();
    if (name === "") {
      this.#error(s, a, "Missing action in request");
      return;
    }
    if (!s.user && name !== "login" && name !== "logoff" && name !== "challenge") {
      this.#error(s, a, "Permission denied");
      return;
    }
    if (name === "login") {
      await this.#login(s, a);
      return;
    }
    const handler = this.#handlers[name];
    const authority = AUTHORITY[name];
    if (!handler || authority === undefined || !this.#actionAvailable(name)) {
      this.#error(s, a, `Invalid/unknown command: ${a.action}. Use Action: ListCommands to show available commands.`);
      return;
    }
    if (authority.length > 0 && !authority.some((c) => s.user!.write.has(c))) {
      this.#error(s, a, "Permission denied");
      return;
    }
    await handler(s, a);
  }

  /** Actions of a channel driver exist only while its module is loaded. */
  #actionAvailable(name: string): boolean {
    if (name.startsWith("pjsip")) return this.#files.has("pjsip.conf");
    if (name === "sipshowregistry") return this.#chanSip !== undefined;
    return true;
  }

  async #login(s: Session, a: ClientAction): Promise<void> {
    if (s.user) {
      this.#ack(s, a, "Already authenticated");
      return;
    }
    const user = this.#users.get(a.get("Username").toLowerCase());
    const aclOk = user !== undefined && this.#aclAllows(user, s.remote);
    if (!user || !aclOk || user.secret !== a.get("Secret")) {
      await new Promise((r) => setTimeout(r, this.#opts.loginFailDelayMs ?? 1000));
      this.#error(s, a, "Authentication failed");
      s.closing = true;
      s.socket.end();
      return;
    }
    s.user = user;
    s.sendEvents = a.has("Events") ? parseEventMask(a.get("Events")) : parseEventMask("on");
    let text = packet([["Response", "Success"], ...this.#id(a), ["Message", "Authentication accepted"]]);
    if (s.sendEvents.has("system") && user.read.has("system")) {
      text += packet([
        ["Event", "FullyBooted"],
        ["Privilege", "system,all"],
        ["Uptime", String(Math.floor((Date.now() - this.#startedAt) / 1000))],
        ["LastReload", String(Math.floor((Date.now() - this.#lastReload) / 1000))],
        ["Status", "Fully Booted"],
      ]);
    }
    this.#opts.log?.({ kind: "ami", action: "Login", response: "Success" });
    this.#write(s, text);
  }

  #aclAllows(user: ManagerUser, address: string): boolean {
    let allowed = true;
    for (const rule of user.acl) {
      const network = rule.network.replace(/\s/g, "");
      if (inNetwork(address, network)) allowed = rule.permit;
    }
    return allowed;
  }

  // --- GetConfig / UpdateConfig --------------------------------------------------------------------

  #getConfig(s: Session, a: ClientAction): void {
    const fn = a.get("Filename");
    if (fn === "") return this.#error(s, a, "Filename not specified");
    const r = this.#restricted(fn);
    if (r === 1) return this.#error(s, a, "File requires escalated privileges");
    if (r === -1) return this.#error(s, a, "Config file not found");
    let cats: ConfCategory[];
    try {
      cats = this.#conf(fn) ?? [];
    } catch {
      return this.#error(s, a, "Config file has invalid format");
    }
    const category = a.get("Category");
    const filter = a.get("Filter");
    const pairs: Array<[string, string]> = [["Response", "Success"], ...this.#id(a)];
    let n = 0;
    for (const c of cats) {
      if (!categoryMatches(c, category, filter)) continue;
      const cn = String(n).padStart(6, "0");
      pairs.push([`Category-${cn}`, c.name]);
      if (c.template) pairs.push([`IsTemplate-${cn}`, "1"]);
      if (c.inherits.length) pairs.push([`Templates-${cn}`, c.inherits.join(",")]);
      c.variables.forEach((v, i) => pairs.push([`Line-${cn}-${String(i).padStart(6, "0")}`, `${v.name}=${v.value}`]));
      n++;
    }
    let text = pairs.map(([k, v]) => `${k}: ${v}\r\n`).join("");
    if (category !== "" && n === 0) text += "No categories found\r\n"; // sic: not a Key: Value line
    this.#opts.log?.({ kind: "ami", action: "GetConfig", response: "Success" });
    this.#write(s, `${text}\r\n`);
  }

  #updateConfig(s: Session, a: ClientAction): void {
    const sfn = a.get("SrcFilename");
    const dfn = a.get("DstFilename");
    if (sfn === "" || dfn === "") return this.#error(s, a, "Filename not specified");
    if (this.#restricted(sfn) !== 0 || this.#restricted(dfn) !== 0) return this.#error(s, a, "File requires escalated privileges");
    let cfg: ConfCategory[];
    try {
      cfg = cloneConf(this.#conf(sfn) ?? []);
    } catch {
      return this.#error(s, a, "Config file has invalid format");
    }
    const error = handleUpdates(a, cfg);
    if (error !== undefined) return this.#error(s, a, error);
    this.#files.set(dfn, serializeConf(cfg, dfn));
    this.#persist(dfn);
    this.#ack(s, a);
    const rld = a.get("Reload");
    if (rld !== "" && !/^(no|false|n|f|0|off)$/i.test(rld)) void this.#reloadModule(yes(rld) ? "" : rld);
  }

  // --- Reload --------------------------------------------------------------------------------------

  async #reloadAction(s: Session, a: ClientAction): Promise<void> {
    const module = a.get("Module");
    const known = this.#moduleKnown(module);
    if (!known) return this.#error(s, a, "No such module");
    this.#ack(s, a, "Module Reloaded");
    await this.#reloadModule(module);
    this.#event("system", [["Event", "Reload"], ["Module", module === "" ? "All" : module], ["Status", "0"]]);
  }

  /** ast_module_check(): the module by its name, with or without .so, in any case; an empty name is never loaded. */
  #moduleLoaded(module: string): boolean {
    return module !== "" && this.#moduleKnown(module.toLowerCase());
  }

  #moduleKnown(module: string): boolean {
    if (module === "") return true;
    const base = module.replace(/\.so$/, "");
    if (base === "res_pjsip" || base === "res_pjsip_outbound_registration" || base === "chan_pjsip") return this.#files.has("pjsip.conf");
    if (base === "chan_sip") return this.#chanSip !== undefined;
    return ["manager", "res_pjsip_session", "app_dial", "pbx_config", "res_rtp_asterisk", "cdr", "logger"].includes(base);
  }

  async #reloadModule(module: string): Promise<void> {
    const base = module.replace(/\.so$/, "");
    this.#lastReload = Date.now();
    if (base === "" || base.startsWith("res_pjsip") || base === "chan_pjsip") await this.#reloadPjsip(false);
    if (base === "" || base === "chan_sip") await this.#reloadChanSip(false);
    if (base === "" || base === "manager") this.#loadUsers();
  }

  // --- Command -------------------------------------------------------------------------------------

  async #command(s: Session, a: ClientAction): Promise<void> {
    const cmd = a.get("Command").trim();
    if (cmd === "") return this.#error(s, a, "No command provided");
    const words = cmd.split(/\s+/);
    const lower = words.map((w) => w.toLowerCase());
    let text: string | undefined;
    let after: (() => Promise<void>) | undefined;
    if (lower[0] === "pjsip" && lower[1] === "show" && lower[2] === "transport" && words.length === 4 && this.#files.has("pjsip.conf")) {
      text = this.#showTransport(words[3]!);
    } else if (lower[0] === "sip" && lower[1] === "reload" && words.length === 2 && this.#chanSip) {
      text = "";
      const lag = this.#opts.chanSipReloadLagMs ?? 0;
      after = lag > 0 ? async () => void setTimeout(() => void this.#reloadChanSip(false).catch(() => undefined), lag) : () => this.#reloadChanSip(false);
    } else if (lower[0] === "sip" && lower[1] === "show" && lower[2] === "settings" && words.length === 3 && this.#chanSip) {
      text = this.#sipShowSettings();
    } else if (lower.join(" ") === "core show version") {
      text = `Asterisk ${SIM_ASTERISK_VERSION} built by pbxsim on a x86_64 running Linux\n`;
    }
    if (text === undefined) {
      const best = words.slice(0, Math.min(2, words.length)).join(" ");
      this.#reply(s, a, [["Response", "Error"], ...this.#id(a), ["Message", "Command output follows"], ["Output", `No such command '${cmd}' (type 'core show help ${best}' for other possible commands)`]]);
      return;
    }
    const body = text.endsWith("\n") ? text.slice(0, -1) : text;
    this.#reply(s, a, [["Response", "Success"], ...this.#id(a), ["Message", "Command output follows"], ...body.split("\n").map((l): [string, string] => ["Output", l])]);
    if (after) await after();
  }

  #showTransport(name: string): string {
    const t = this.#transports.get(name);
    if (!t) return `Unable to find object ${name}.\n\n`;
    const opt = (k: string): string => t.options.get(k) ?? "";
    const header = "Transport:  <TransportId........>  <Type>  <cos>  <tos>  <BindAddress....................>";
    let out = `\n${header}\n${"=".repeat(90)}\n\n`;
    out += `Transport:  ${name.padEnd(21)}  ${opt("protocol").padStart(6)}  ${opt("cos").padStart(5)}  ${opt("tos").padStart(5)}  ${opt("bind")}\n\n`;
    out += ` ${"ParameterName".padEnd(28)}: ParameterValue\n ${"=".repeat(56)}\n`;
    for (const [k] of TRANSPORT_DEFAULTS) {
      const v = k === "local_net" ? opt(k).split(",").filter((x) => x !== "").map((x) => dottedNetwork(x.trim())).join(",") : opt(k);
      out += ` ${k.padEnd(28)}: ${v}\n`;
    }
    return `${out}\n`;
  }

  #sipShowSettings(): string {
    const g = this.#chanSip!.general;
    const ext = g.get("externaddr");
    const local = this.#chanSip!.endpoint?.local;
    return [
      "",
      "",
      "Global Settings:",
      "----------------",
      `  UDP Bindaddress:        ${g.get("udpbindaddr") ?? `${local?.address ?? "0.0.0.0"}:${local?.port ?? 5060}`}`,
      `  User Agent:             ${USER_AGENT}`,
      `  Reg. default duration:  ${g.get("defaultexpiry") ?? "120"} secs`,
      "",
      "Network Settings:",
      "---------------------------",
      `  SIP address remapping:  ${ext ? "Enabled using externaddr" : "Disabled"}`,
      "  Externhost:             <none>",
      `  Externaddr:             ${ext ? `${ext}:0` : "(null):0"}`,
      "  Externrefresh:          10",
      `  Localnet:               ${allValues({ name: "general", template: false, inherits: [], variables: [...g].map(([name, value]) => ({ name, value, object: false })) }, "localnet").join(",") || "(Not set)"}`,
      "",
      "----",
      "",
    ].join("\n");
  }

  // --- PJSIP ---------------------------------------------------------------------------------------

  /** Objects of one type, template variables merged in first (what sorcery's config wizard builds). */
  #objects(cats: ConfCategory[], type: string): Map<string, Map<string, string>> {
    const out = new Map<string, Map<string, string>>();
    for (const c of cats) {
      if (c.template) continue;
      const vars = new Map<string, string>();
      for (const t of c.inherits) {
        const tmpl = cats.find((x) => x.name === t && x.template);
        for (const v of tmpl?.variables ?? []) vars.set(v.name.toLowerCase(), v.value);
      }
      for (const v of c.variables) vars.set(v.name.toLowerCase(), v.value);
      if ((vars.get("type") ?? "").toLowerCase() === type) out.set(c.name, vars);
    }
    return out;
  }

  async #reloadPjsip(initial: boolean): Promise<void> {
    let cats: ConfCategory[] | undefined;
    try {
      cats = this.#conf("pjsip.conf");
    } catch {
      return; // Asterisk keeps the running config when the file does not parse
    }
    if (!cats) return;
    for (const [name, vars] of this.#objects(cats, "transport")) {
      const options = new Map<string, string>(TRANSPORT_DEFAULTS);
      for (const [k, v] of vars) options.set(k, v);
      const existing = this.#transports.get(name);
      if (existing) {
        existing.options = options; // external_* and local_net apply without allow_reload (Asterisk ≥ 16.18/18.4)
        continue;
      }
      const t: TransportState = { name, options, endpoint: undefined };
      this.#transports.set(name, t);
      t.endpoint = await this.#endpointFor(options.get("bind") || "0.0.0.0:5060");
    }
    const wanted = this.#objects(cats, "registration");
    for (const [name, r] of [...this.#registrations]) {
      if (!wanted.has(name)) {
        this.#registrations.delete(name);
        void this.#stopRegistration(r);
      }
    }
    for (const [name, config] of wanted) {
      const existing = this.#registrations.get(name);
      if (existing && sameMap(existing.config, config)) continue;
      const state: RegState = {
        name,
        config,
        status: "Unregistered",
        callId: newCallId(),
        fromTag: newTag(),
        cseq: 0,
        lastContact: undefined,
        granted: undefined,
        registeredAt: undefined,
        retries: 0,
        gen: 0,
        timer: undefined,
      };
      this.#registrations.set(name, state);
      const start = async (): Promise<void> => {
        if (existing) await this.#stopRegistration(existing);
        if (!initial || this.#opts.registerOnStart !== false) this.#cycle(state, false);
      };
      void start();
    }
  }

  async #endpointFor(bind: string): Promise<SipEndpoint> {
    const override = this.#opts.sipBind;
    const [host, port] = override ? [override.host, override.port ?? 0] : splitHostPort(bind, 5060);
    const key = override && (override.port ?? 0) === 0 ? `${bind}#${this.#endpoints.size}` : `${host}:${port}`;
    let p = this.#endpoints.get(key);
    if (!p) {
      p = SipEndpoint.bind(host, port, (e) => this.#sipLogged(e), USER_AGENT);
      this.#endpoints.set(key, p);
    }
    return p;
  }

  #sipLogged(e: SipLogEntry): void {
    this.sipLog.push(e);
    if (this.sipLog.length > 5000) this.sipLog.splice(0, this.sipLog.length - 5000);
    this.#opts.log?.({ kind: "sip", ...e });
  }

  #route(target: { host: string; port: number }): { host: string; port: number } {
    return this.#opts.sipRoute?.[`${target.host}:${target.port}`] ?? target;
  }

  #timers(): TransactionTimers {
    return { t1Ms: 500, t2Ms: 4000, timeoutMs: 32_000, ...this.#opts.sipTimers };
  }

  get #second(): number {
    return this.#opts.secondMs ?? 1000;
  }

  #registry(driver: "PJSIP" | "SIP", name: string, username: string, domain: string, status: string): void {
    this.registryLog.push({ driver, name, status, at: Date.now() });
    this.#opts.log?.({ kind: "registry", driver, name, status });
    this.#event("system", [["Event", "Registry"], ["ChannelType", driver], ["Username", username], ["Domain", domain], ["Status", status]]);
  }

  /** Contact host:port for a request leaving `endpoint` toward `target`, per the transport's NAT settings. */
  #contactHost(options: ReadonlyMap<string, string> | undefined, endpoint: SipEndpoint, target: string, external: string | undefined, localNets: string[]): string {
    const local = endpoint.local;
    const inLocal = localNets.some((n) => inNetwork(target, n.replace(/\s/g, "")));
    const extPort = Number(options?.get("external_signaling_port") ?? "0");
    if (external && !inLocal) return `${external}:${extPort > 0 ? extPort : local.port}`;
    const host = local.address === "0.0.0.0" ? (this.#opts.localAddress ?? "127.0.0.1") : local.address;
    return `${host}:${local.port}`;
  }

  #transportOf(r: RegState): TransportState | undefined {
    const name = r.config.get("transport");
    if (name !== undefined && this.#transports.has(name)) return this.#transports.get(name);
    return [...this.#transports.values()].find((t) => t.options.get("protocol") === "udp");
  }

  async #sendRegister(r: RegState, expires: number, contactOverride?: string): Promise<{ ok: boolean; code?: number; contact: string; granted?: number }> {
    const t = this.#transportOf(r);
    const serverUri = r.config.get("server_uri") ?? "";
    const target = uriTarget(serverUri);
    if (!t?.endpoint || !target) return { ok: false, contact: "" };
    const localNets = (t.options.get("local_net") ?? "").split(",").filter((x) => x.trim() !== "");
    const hostPort = this.#contactHost(t.options, t.endpoint, target.host, t.options.get("external_signaling_address") || undefined, localNets);
    const contact = contactOverride ?? `sip:${r.config.get("contact_user") || "s"}@${hostPort}`;
    r.cseq++;
    const outcome = await t.endpoint.request(
      (branch) =>
        buildRegister(
          {
            requestUri: serverUri,
            aor: r.config.get("client_uri") ?? "",
            sentBy: hostPort,
            contact,
            expires,
            callId: r.callId,
            cseq: r.cseq,
            fromTag: r.fromTag,
            userAgent: USER_AGENT,
          },
          branch,
        ),
      this.#route(target),
      this.#timers(),
    );
    if (outcome.kind !== "response") return { ok: false, contact };
    const code = outcome.response.status ?? 0;
    return { ok: code >= 200 && code < 300, code, contact, granted: grantedExpiry(outcome.response, contact) };
  }

  // An un-REGISTER carries the Contact as the transport gives it NOW (res_pjsip_nat rewrites it on
  // the way out), not the one registered: after a change of external_signaling_address it names the
  // new address and leaves the old binding at the registrar.
  async #stopRegistration(r: RegState): Promise<void> {
    r.gen++;
    clearTimeout(r.timer);
    if (r.status === "Registered" && r.lastContact) {
      await this.#sendRegister(r, 0);
      r.status = "Unregistered";
      this.#registry("PJSIP", r.name, r.config.get("client_uri") ?? "", r.config.get("server_uri") ?? "", "Unregistered");
    }
    r.status = "Stopped";
  }

  /** Unregister (when asked and registered), wait the initial delay, register; reschedule as Asterisk does. */
  #cycle(r: RegState, unregisterFirst: boolean): void {
    const gen = ++r.gen;
    clearTimeout(r.timer);
    const alive = (): boolean => r.gen === gen && !this.#closed;
    const run = async (): Promise<void> => {
      if (unregisterFirst && r.status === "Registered" && r.lastContact) {
        await this.#sendRegister(r, 0);
        if (!alive()) return;
        r.status = "Unregistered";
        this.#registry("PJSIP", r.name, r.config.get("client_uri") ?? "", r.config.get("server_uri") ?? "", "Unregistered");
      }
      const maxDelay = Number(r.config.get("max_random_initial_delay") ?? "10");
      const delay = (maxDelay > 0 ? Math.floor(Math.random() * maxDelay) + 1 : 1) * this.#second;
      r.timer = setTimeout(() => void this.#register(r, gen), delay);
    };
    void run();
  }

  async #register(r: RegState, gen: number): Promise<void> {
    if (r.gen !== gen || this.#closed) return;
    const expires = Number(r.config.get("expiration") ?? "3600");
    const result = await this.#sendRegister(r, expires);
    if (r.gen !== gen || this.#closed) return;
    const client = r.config.get("client_uri") ?? "";
    const server = r.config.get("server_uri") ?? "";
    if (result.ok) {
      r.status = "Registered";
      r.lastContact = result.contact;
      r.granted = result.granted ?? expires;
      r.registeredAt = Date.now();
      r.retries = 0;
      this.#registry("PJSIP", r.name, client, server, "Registered");
      if (this.#opts.refresh !== false) r.timer = setTimeout(() => void this.#register(r, gen), Math.max(1, r.granted - 5) * this.#second);
      return;
    }
    r.status = "Rejected";
    this.#registry("PJSIP", r.name, client, server, "Rejected");
    const permanent = (result.code === 401 || result.code === 407) && boolWord(r.config.get("auth_rejection_permanent"), true) === "true";
    const maxRetries = Number(r.config.get("max_retries") ?? "10");
    if (permanent || r.retries >= maxRetries) return;
    r.retries++;
    r.timer = setTimeout(() => void this.#register(r, gen), Number(r.config.get("retry_interval") ?? "60") * this.#second);
  }

  #showRegistrations(s: Session, a: ClientAction): void {
    let registered = 0;
    let text = packet([["Response", "Success"], ...this.#id(a), ["EventList", "start"], ["Message", "Following are Events for each Outbound registration"]]);
    for (const r of this.#registrations.values()) {
      const c = r.config;
      if (r.status === "Registered") registered++;
      text += packet([
        ["Event", "OutboundRegistrationDetail"],
        ...this.#id(a),
        ["ObjectType", "registration"],
        ["ObjectName", r.name],
        ["MaxRetries", c.get("max_retries") ?? "10"],
        ["ClientUri", c.get("client_uri") ?? ""],
        ["SecurityNegotiation", c.get("security_negotiation") ?? "no"],
        ["AuthRejectionPermanent", boolWord(c.get("auth_rejection_permanent"), true)],
        ["ServerUri", c.get("server_uri") ?? ""],
        ["MaxRandomInitialDelay", c.get("max_random_initial_delay") ?? "10"],
        ["SupportPath", boolWord(c.get("support_path"), false)],
        ["RetryInterval", c.get("retry_interval") ?? "60"],
        ["ContactHeaderParams", c.get("contact_header_params") ?? ""],
        ["Expiration", c.get("expiration") ?? "3600"],
        ["Transport", c.get("transport") ?? ""],
        ["Line", boolWord(c.get("line"), false)],
        ["ContactUser", c.get("contact_user") ?? ""],
        ["Endpoint", c.get("endpoint") ?? ""],
        ["ForbiddenRetryInterval", c.get("forbidden_retry_interval") ?? "0"],
        ["OutboundAuth", c.get("outbound_auth") ?? ""],
        ["OutboundProxy", c.get("outbound_proxy") ?? ""],
        ["FatalRetryInterval", c.get("fatal_retry_interval") ?? "0"],
        ["SupportOutbound", c.get("support_outbound") ?? "no"],
        ["Status", r.status === "Stopped" ? "Unregistered" : r.status],
        ["NextReg", "0"],
      ]);
    }
    const n = this.#registrations.size;
    text += packet([
      ["Event", "OutboundRegistrationDetailComplete"],
      ...this.#id(a),
      ["EventList", "Complete"],
      ["ListItems", String(n)],
      ["Registered", String(registered)],
      ["NotRegistered", String(n - registered)],
    ]);
    this.#opts.log?.({ kind: "ami", action: a.action, response: "Success" });
    this.#write(s, text);
  }

  #pjsipRegister(s: Session, a: ClientAction): void {
    const name = a.get("Registration");
    if (name === "") return this.#error(s, a, "Registration parameter missing.");
    if (name === "*all") {
      this.#ack(s, a, "Reregistrations queued.");
      for (const r of this.#registrations.values()) this.#cycle(r, true);
      return;
    }
    const r = this.#registrations.get(name);
    if (!r) return this.#error(s, a, "Unable to retrieve registration entry\n"); // sic: Asterisk's stray LF
    this.#ack(s, a, "Reregistration sent");
    this.#cycle(r, true);
  }

  /** PJSIPUnregister: the un-REGISTER goes out at once and no registration follows. */
  #pjsipUnregister(s: Session, a: ClientAction): void {
    const name = a.get("Registration");
    if (name === "") return this.#error(s, a, "Registration parameter missing.");
    const targets = name === "*all" ? [...this.#registrations.values()] : [this.#registrations.get(name)].filter((r): r is RegState => r !== undefined);
    if (name !== "*all" && targets.length === 0) return this.#error(s, a, "Unable to retrieve registration entry\n"); // sic
    this.#ack(s, a, name === "*all" ? "Unregistrations queued." : "Unregistration sent");
    for (const r of targets) {
      const gen = ++r.gen;
      clearTimeout(r.timer);
      void this.#sendRegister(r, 0).then((result) => {
        if (r.gen !== gen || this.#closed || !result.ok) return;
        r.status = "Unregistered";
        this.#registry("PJSIP", r.name, r.config.get("client_uri") ?? "", r.config.get("server_uri") ?? "", "Unregistered");
      });
    }
  }

  // --- chan_sip ------------------------------------------------------------------------------------

  #chanSipExpiry(line: SipRegisterLine): number {
    return line.expiry ?? Number(this.#chanSip?.general.get("defaultexpiry") ?? "120");
  }

  async #reloadChanSip(initial: boolean): Promise<void> {
    let cats: ConfCategory[] | undefined;
    try {
      cats = this.#conf("sip.conf");
    } catch {
      return;
    }
    if (!cats) return;
    const generalCat = cats.find((c) => c.name.toLowerCase() === "general");
    const general = new Map<string, string>();
    const registers: SipRegisterLine[] = [];
    for (const v of generalCat?.variables ?? []) {
      const k = v.name.toLowerCase();
      if (k === "register") {
        const line = parseRegisterLine(v.value);
        if (line) registers.push(line);
        continue;
      }
      general.set(k === "externip" ? "externaddr" : k, v.value);
    }
    if (!this.#chanSip) {
      this.#chanSip = { general, endpoint: undefined, regs: [] };
      this.#chanSip.endpoint = await this.#endpointFor(general.get("udpbindaddr") ?? "0.0.0.0:5060");
    } else {
      this.#chanSip.general = general;
    }
    // chan_sip drops every registration on reload and sends them all again, without unregistering.
    for (const r of this.#chanSip.regs) {
      r.gen++;
      clearTimeout(r.timer);
    }
    this.#chanSip.regs = registers.map((line) => ({ line, state: "Unregistered", callId: newCallId(), fromTag: newTag(), cseq: 0, granted: undefined, registeredAt: undefined, gen: 0, timer: undefined }));
    if (initial && this.#opts.registerOnStart === false) return;
    for (const r of this.#chanSip.regs) void this.#chanSipRegister(r, r.gen);
  }

  async #chanSipRegister(r: ChanSipRegState, gen: number): Promise<void> {
    const cs = this.#chanSip;
    if (!cs?.endpoint || r.gen !== gen || this.#closed) return;
    const g = cs.general;
    const localNets = allValues({ name: "g", template: false, inherits: [], variables: [...g].map(([name, value]) => ({ name, value, object: false })) }, "localnet");
    const hostPort = this.#contactHost(undefined, cs.endpoint, r.line.host, g.get("externaddr"), localNets);
    const contact = `sip:${r.line.extension}@${hostPort}`;
    const aor = `sip:${r.line.user}@${r.line.host}`;
    const expires = this.#chanSipExpiry(r.line);
    r.state = "Request Sent";
    r.cseq++;
    const outcome = await cs.endpoint.request(
      (branch) =>
        buildRegister(
          { requestUri: `sip:${r.line.host}${r.line.port === 5060 ? "" : `:${r.line.port}`}`, aor, sentBy: hostPort, contact, expires, callId: r.callId, cseq: r.cseq, fromTag: r.fromTag, userAgent: USER_AGENT },
          branch,
        ),
      this.#route({ host: r.line.host, port: r.line.port }),
      this.#timers(),
    );
    if (r.gen !== gen || this.#closed) return;
    if (outcome.kind === "response" && outcome.response.status! >= 200 && outcome.response.status! < 300) {
      r.state = "Registered";
      r.granted = grantedExpiry(outcome.response, contact) ?? expires;
      r.registeredAt = Date.now();
      this.#registry("SIP", r.line.key, r.line.user, r.line.host, "Registered");
      if (this.#opts.refresh !== false) r.timer = setTimeout(() => void this.#chanSipRegister(r, gen), chanSipRefresh(r.granted) * this.#second);
      return;
    }
    r.state = outcome.kind === "timeout" ? "Timeout" : "Rejected";
    this.#registry("SIP", r.line.key, r.line.user, r.line.host, r.state === "Timeout" ? "Timeout" : "Rejected");
    r.timer = setTimeout(() => void this.#chanSipRegister(r, gen), Number(cs.general.get("registertimeout") ?? "20") * this.#second);
  }

  #sipShowRegistry(s: Session, a: ClientAction): void {
    const regs = this.#chanSip?.regs ?? [];
    let text = packet([["Response", "Success"], ...this.#id(a), ["EventList", "start"], ["Message", "Registrations will follow"]]);
    for (const r of regs) {
      text += packet([
        ["Event", "RegistryEntry"],
        ...this.#id(a),
        ["Host", r.line.host],
        ["Port", String(r.line.port)],
        ["Username", r.line.user],
        ["Domain", r.line.host],
        ["DomainPort", String(r.line.port)],
        ["Refresh", String(chanSipRefresh(r.granted ?? this.#chanSipExpiry(r.line)))],
        ["State", r.state],
        ["RegistrationTime", String(Math.floor((r.registeredAt ?? 0) / 1000))],
      ]);
    }
    text += packet([["Event", "RegistrationsComplete"], ...this.#id(a), ["EventList", "Complete"], ["ListItems", String(regs.length)]]);
    this.#opts.log?.({ kind: "ami", action: a.action, response: "Success" });
    this.#write(s, text);
  }

  // --- channels ------------------------------------------------------------------------------------

  #newChannel(name: string, context: string, exten: string, priority: number, application: string, data: string, linkedid?: string): Channel {
    const uniqueid = `${Math.floor(this.#startedAt / 1000)}.${this.#uniqueSeq++}`;
    const ch: Channel = { name, state: 6, context, exten, priority, uniqueid, linkedid: linkedid ?? uniqueid, application, data, created: Date.now(), timer: undefined };
    this.#channels.push(ch);
    return ch;
  }

  #originate(s: Session, a: ClientAction): void {
    const channel = a.get("Channel");
    const m = /^Local\/([^@]+)@([^/]+)$/i.exec(channel);
    if (!m) return this.#error(s, a, "Originate failed");
    this.#ack(s, a, "Originate successfully queued");
    const seq = String(this.#channels.length).padStart(8, "0");
    const app = a.get("Application") || "Dial";
    const data = a.get("Data");
    const one = this.#newChannel(`Local/${m[1]}@${m[2]}-${seq};1`, m[2]!, m[1]!, 1, app, data);
    const two = this.#newChannel(`Local/${m[1]}@${m[2]}-${seq};2`, m[2]!, m[1]!, 2, app, data, one.linkedid);
    if (/^wait$/i.test(app) && /^\d+$/.test(data)) {
      const t = setTimeout(() => {
        this.removeChannel(one.name);
        this.removeChannel(two.name);
      }, Number(data) * this.#second);
      one.timer = t;
    }
  }

  #coreShowChannels(s: Session, a: ClientAction): void {
    let text = packet([["Response", "Success"], ...this.#id(a), ["EventList", "start"], ["Message", "Channels will follow"]]);
    for (const c of this.#channels) {
      const secs = Math.floor((Date.now() - c.created) / 1000);
      const dur = [Math.floor(secs / 3600), Math.floor(secs / 60) % 60, secs % 60].map((n) => String(n).padStart(2, "0")).join(":");
      text += packet([
        ["Event", "CoreShowChannel"],
        ...this.#id(a),
        ["Channel", c.name],
        ["ChannelState", String(c.state)],
        ["ChannelStateDesc", "Up"],
        ["CallerIDNum", "<unknown>"],
        ["CallerIDName", "<unknown>"],
        ["ConnectedLineNum", "<unknown>"],
        ["ConnectedLineName", "<unknown>"],
        ["Language", "en"],
        ["AccountCode", ""],
        ["Context", c.context],
        ["Exten", c.exten],
        ["Priority", String(c.priority)],
        ["Uniqueid", c.uniqueid],
        ["Linkedid", c.linkedid],
        ["Application", c.application],
        ["ApplicationData", c.data],
        ["Duration", dur],
        ["BridgeId", ""],
      ]);
    }
    text += packet([["Event", "CoreShowChannelsComplete"], ...this.#id(a), ["EventList", "Complete"], ["ListItems", String(this.#channels.length)]]);
    this.#opts.log?.({ kind: "ami", action: a.action, response: "Success" });
    this.#write(s, text);
  }
}

/** chan_sip's refresh: 15 s before expiry, or 20 % of it for short ones (EXPIRY_GUARD_*). */
function chanSipRefresh(expiry: number): number {
  return expiry > 30 ? expiry - 15 : Math.max(1, Math.floor(expiry * 0.2));
}

function splitHostPort(value: string, defaultPort: number): [string, number] {
  const m = /^(.*?)(?::(\d+))?$/.exec(value.trim())!;
  return [m[1] || "0.0.0.0", m[2] ? Number(m[2]) : defaultPort];
}

function sameMap(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/**
 * manager.c handle_updates() on a copy of the file: every Action-NNNNNN in order, from 000000 until
 * the first missing index; the first failure aborts the lot with Asterisk's message.
 */
export function handleUpdates(a: ClientAction, cfg: ConfCategory[]): string | undefined {
  for (let x = 0; x < 100000; x++) {
    const n = String(x).padStart(6, "0");
    const action = a.get(`Action-${n}`);
    if (action === "") break;
    const cat = a.get(`Cat-${n}`);
    if (cat === "") return "Category not specified";
    const variable = a.get(`Var-${n}`);
    let value = a.get(`Value-${n}`);
    let object = false;
    if (value.startsWith(">")) {
      object = true;
      value = value.slice(1);
    }
    const match = a.get(`Match-${n}`);
    const line = a.get(`Line-${n}`);
    let allowdups = false;
    let template = false;
    let ignoreerror = false;
    let inherit: string | undefined;
    let catfilter: string | undefined;
    const options = a.get(`Options-${n}`);
    if (options !== "") {
      for (const token of strsep(options, ",")) {
        if (token.toLowerCase() === "allowdups") allowdups = true;
        else if (token.toLowerCase() === "template") template = true;
        else if (token.toLowerCase() === "ignoreerror") ignoreerror = true;
        else if (token.startsWith("inherit")) inherit = strsep(token, "=")[1];
        else if (token.startsWith("catfilter")) catfilter = strsep(token, "=")[1];
      }
    }
    const matching = (): ConfCategory[] => cfg.filter((c) => categoryMatches(c, cat, catfilter));
    switch (action.toLowerCase()) {
      case "newcat": {
        if (!allowdups && cfg.some((c) => categoryMatches(c, cat, "TEMPLATES=include"))) {
          if (ignoreerror) continue;
          return "Create category did not complete successfully";
        }
        const created: ConfCategory = { name: cat, template, inherits: [], variables: [] };
        for (const t of inherit ? strsep(inherit, ",") : []) {
          const tmpl = cfg.find((c) => categoryMatches(c, t, "TEMPLATES=restrict"));
          if (!tmpl) return "Template category does not exist";
          created.inherits.push(t);
        }
        if (match === "") cfg.push(created);
        else {
          const at = cfg.findIndex((c) => c.name.toLowerCase() === match.toLowerCase());
          if (at === -1) return "Create category did not complete successfully";
          cfg.splice(at, 0, created);
        }
        break;
      }
      case "renamecat": {
        if (value === "") return "Problem with category, value, or line (if required)";
        const found = matching();
        if (!found.length) return "Given category does not exist";
        for (const c of found) c.name = value;
        break;
      }
      case "delcat": {
        const found = matching();
        if (!found.length && !ignoreerror) return "Given category does not exist";
        for (const c of found) cfg.splice(cfg.indexOf(c), 1);
        break;
      }
      case "emptycat": {
        const found = matching();
        if (!found.length) return "Given category does not exist";
        for (const c of found) c.variables = [];
        break;
      }
      case "update": {
        if (variable === "") return "Problem with category, value, or line (if required)";
        const found = matching();
        if (!found.length) return "Given category does not exist";
        let foundVar = false;
        for (const c of found) {
          // ast_variable_update(): the LAST variable of that name (and value, with Match) is replaced.
          let idx = -1;
          c.variables.forEach((v, i) => {
            if (v.name.toLowerCase() === variable.toLowerCase() && (match === "" || v.value.toLowerCase() === match.toLowerCase())) idx = i;
          });
          if (idx === -1) continue;
          c.variables[idx] = { name: variable, value, object: object || c.variables[idx]!.object };
          foundVar = true;
        }
        if (!foundVar) return "Update did not complete successfully";
        break;
      }
      case "delete": {
        if (variable === "" && line === "") return "Problem with category, value, or line (if required)";
        const found = matching();
        if (!found.length) return "Given category does not exist";
        let foundVar = false;
        for (const c of found) {
          const lineNo = line === "" ? -1 : Number(line);
          const before = c.variables.length;
          c.variables = c.variables.filter((v, i) => {
            if (lineNo >= 0) return i !== lineNo;
            return !(v.name.toLowerCase() === variable.toLowerCase() && (match === "" || v.value.toLowerCase() === match.toLowerCase()));
          });
          if (c.variables.length !== before) foundVar = true;
        }
        if (!foundVar && !ignoreerror) return "Update did not complete successfully"; // sic: Asterisk reuses FAILURE_UPDATE
        break;
      }
      case "append": {
        if (variable === "") return "Problem with category, value, or line (if required)";
        const found = matching();
        if (!found.length) return "Given category does not exist";
        for (const c of found) c.variables.push({ name: variable, value, object: object || match.toLowerCase() === "object" });
        break;
      }
      case "insert": {
        if (variable === "" || line === "") return "Problem with category, value, or line (if required)";
        const found = matching();
        if (!found.length) return "Given category does not exist";
        for (const c of found) c.variables.splice(Math.min(Number(line) || 0, c.variables.length), 0, { name: variable, value, object });
        break;
      }
      default:
        return "Unknown action command";
    }
  }
  return undefined;
}

