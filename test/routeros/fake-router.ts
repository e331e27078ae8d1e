// A RouterOS router for tests: its menus (routes, addresses, interfaces, routing tables,
// connections, users and groups), its commands (print with queries and .proplist, set, remove,
// /ping, /tool/fetch, /cancel) and its permissions, behind either wire (API or REST, see
// fake-servers.ts). What it does to the network goes to a RouterWorld: kept in memory, or applied
// to a lab namespace (fake-worlds.ts) so that a route change moves real traffic.
//
// Version behaviour: RouterOS ≥ 7.18 answers a print that finds nothing with "!empty" before
// "!done"; older versions with "!done" alone. RouterOS 7 names a route's table (routing-table=main)
// and has /routing/table; RouterOS 6 has neither.

export interface Echo {
  /** Counted from 0, like RouterOS. */
  readonly seq: number;
  readonly timeMs?: number;
  /** "timeout", or why the echo failed. */
  readonly status?: string;
}

export interface PingRequest {
  readonly address: string;
  readonly interface?: string;
  readonly routingTable?: string;
  readonly srcAddress?: string;
  readonly intervalMs: number;
  readonly count?: number;
}

export interface FakeConnection {
  readonly id: string;
  readonly protocol: string;
  readonly src: string;
  readonly dst: string;
  readonly replySrc: string;
  readonly replyDst: string;
}

/** What the router's configuration does to a network. */
export interface RouterWorld {
  /** The main table's default route (null: none). */
  setDefaultRoute(route: { gateway: string; iface: string } | null): Promise<void>;
  /** A routing table's default route (RouterOS 7's /routing/table), for `routing-table=` pings. */
  setTableRoute(table: string, route: { gateway: string; iface: string } | null): Promise<void>;
  /** Pings until stopped (or `count` echoes); `onEnd` when it cannot go on. */
  ping(request: PingRequest, onEcho: (echo: Echo) => void, onEnd: (error?: string) => void): { stop(): void };
  connections(): Promise<FakeConnection[]>;
  removeConnections(ids: readonly string[]): Promise<void>;
  /** GET `url` from `srcAddress` (through the link that owns it); rejects with the reason. */
  fetch(url: string, srcAddress: string | undefined, timeoutMs: number): Promise<string>;
}

export type Item = Record<string, string>;

export interface FakeUser {
  readonly name: string;
  readonly password: string;
  readonly group: string;
}

export interface FakeRouterOptions {
  /** e.g. "7.18.2" or "6.49.10". */
  readonly version: string;
  readonly users: readonly FakeUser[];
  /** Group name → policies (read, write, api, rest-api, test, ...). */
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly interfaces: readonly string[];
  /** "198.51.100.10/30" on "wan1". */
  readonly addresses: readonly { address: string; interface: string }[];
  /** Static routes; `routing-table` defaults to main. */
  readonly routes: readonly Partial<Item>[];
  /** RouterOS 7 routing tables besides main. */
  readonly routingTables?: readonly string[];
  readonly world: RouterWorld;
}

/** A command's arguments as the wires deliver them. */
export interface Invocation {
  /** "/ip/route/print", "/ping", ... */
  readonly command: string;
  readonly args: Readonly<Record<string, string>>;
  /** API query words without the "?" ("dst-address=0.0.0.0/0", "-disabled", "#|"), or REST's equality filters as "name=value". */
  readonly queries: readonly string[];
}

/** Where a command's answer goes: the API sends sentences, REST collects a JSON body. */
export interface Sink {
  record(item: Item): void;
  trap(message: string, category?: string): void;
  /** Ends the command (after a trap too). `empty`: a print that found nothing. */
  done(empty: boolean): void;
}

export class Trap extends Error {
  constructor(
    message: string,
    readonly category?: string,
  ) {
    super(message);
  }
}

const NOT_ENOUGH = "not enough permissions (9)";

function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split(".").map((n) => Number.parseInt(n, 10));
  return a > major || (a === major && b >= minor);
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

function inSubnet(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split("/");
  const bits = Number(len ?? 32);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((ipToInt(ip) & mask) >>> 0) === ((ipToInt(net!) & mask) >>> 0);
}

/** "350ms", "1s", "0.35" (seconds) → ms. */
function intervalMs(text: string | undefined): number {
  if (text === undefined) return 1000;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
  if (!m) throw new Trap(`invalid value for argument interval: ${text}`, "1");
  const ms = m[2] === "ms" ? Number(m[1]) : Number(m[1]) * 1000;
  if (ms < 10 || ms > 5000) throw new Trap("interval must be between 10ms and 5s", "1");
  return ms;
}

/** RouterOS 7 writes 1.537 ms as "1ms537us"; RouterOS 6 as "1ms". */
function routerTime(ms: number, v7: boolean): string {
  if (!v7) return `${Math.round(ms)}ms`;
  const us = Math.round(ms * 1000);
  const whole = Math.floor(us / 1000);
  const rest = us % 1000;
  return whole > 0 ? `${whole}ms${rest ? `${rest}us` : ""}` : `${rest}us`;
}

export class FakeRouter {
  readonly version: string;
  readonly v7: boolean;
  /** RouterOS ≥ 7.18 sends !empty. */
  readonly sendsEmpty: boolean;
  private readonly routes: Item[] = [];
  private nextId = 1;
  private readonly applied = new Map<string, string>();
  /** Tables seen with two usable default routes of the same lowest distance (RouterOS 7 would share the traffic). */
  readonly ties: string[] = [];
  /** Every command run, for tests: [user, command, args]. */
  readonly log: { user: string; command: string; args: Readonly<Record<string, string>> }[] = [];

  constructor(readonly options: FakeRouterOptions) {
    this.version = options.version;
    this.v7 = versionAtLeast(options.version, 7, 0);
    this.sendsEmpty = versionAtLeast(options.version, 7, 18);
    for (const r of options.routes) this.addRoute(r);
  }

  private id(): string {
    return `*${(this.nextId++).toString(16).toUpperCase()}`;
  }

  addRoute(route: Partial<Item>): string {
    const item: Item = {
      ".id": this.id(),
      "dst-address": route["dst-address"] ?? "0.0.0.0/0",
      gateway: route.gateway ?? "",
      distance: route.distance ?? "1",
      disabled: route.disabled ?? "false",
      dynamic: "false",
      ...(route.comment ? { comment: route.comment } : {}),
      ...(this.v7 ? { "routing-table": route["routing-table"] ?? "main" } : route["routing-mark"] ? { "routing-mark": route["routing-mark"] } : {}),
    };
    this.routes.push(item);
    return item[".id"]!;
  }

  user(name: string, password: string): FakeUser | undefined {
    return this.options.users.find((u) => u.name === name && u.password === password);
  }

  policies(user: string): readonly string[] {
    const group = this.options.users.find((u) => u.name === user)?.group ?? "";
    return this.options.groups[group] ?? [];
  }

  private need(user: string, policy: string): void {
    if (!this.policies(user).includes(policy)) throw new Trap(NOT_ENOUGH);
  }

  /** The interface a gateway address is reached through (a connected subnet), if any. */
  private gatewayInterface(gateway: string): string | undefined {
    if (this.options.interfaces.includes(gateway)) return gateway; // gateway=pppoe-out1
    return this.options.addresses.find((a) => inSubnet(gateway, a.address))?.interface;
  }

  /** Connected routes (dynamic) and static ones, with `active` worked out as RouterOS would. */
  routeItems(): Item[] {
    const connected: Item[] = this.options.addresses.map((a, i) => {
      const [ip, len] = a.address.split("/");
      const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
      const net = [24, 16, 8, 0].map((s) => ((ipToInt(ip!) & mask) >>> s) & 255).join(".");
      return { ".id": `*D${i}`, "dst-address": `${net}/${len}`, gateway: a.interface, distance: "0", disabled: "false", dynamic: "true", active: "true", ...(this.v7 ? { "routing-table": "main" } : {}) };
    });
    const tables = new Map<string, Item[]>();
    for (const r of this.routes) {
      const table = this.tableOf(r);
      const usable = r.disabled !== "true" && r["dst-address"] === "0.0.0.0/0" && this.gatewayInterface(r.gateway ?? "") !== undefined;
      if (!usable) continue;
      tables.set(table, [...(tables.get(table) ?? []), r]);
    }
    const winners = new Set(
      [...tables.entries()].map(([table, rs]) => {
        const [best, second] = [...rs].sort((a, b) => Number(a.distance) - Number(b.distance));
        if (second && second.distance === best!.distance) this.ties.push(`${table}: ${best!.comment ?? best![".id"]} and ${second.comment ?? second[".id"]} at distance ${best!.distance}`);
        return best!;
      }),
    );
    return [...connected, ...this.routes.map((r) => ({ ...r, active: String(winners.has(r)) }))];
  }

  private tableOf(route: Item): string {
    return route["routing-table"] ?? route["routing-mark"] ?? "main";
  }

  /** Applies the active default route of every table to the world, where it changed. */
  async apply(): Promise<void> {
    const items = this.routeItems().filter((r) => r.dynamic !== "true" && r["dst-address"] === "0.0.0.0/0");
    const tables = new Set([...items.map((r) => this.tableOf(r)), ...(this.options.routingTables ?? []), "main"]);
    for (const table of tables) {
      const active = items.find((r) => this.tableOf(r) === table && r.active === "true");
      const route = active ? { gateway: active.gateway!, iface: this.gatewayInterface(active.gateway!)! } : null;
      const key = JSON.stringify(route);
      if (this.applied.get(table) === key) continue;
      this.applied.set(table, key);
      if (table === "main") await this.options.world.setDefaultRoute(route);
      else await this.options.world.setTableRoute(table, route);
    }
  }

  /** The items of a menu, or a Trap for one this router does not have. */
  private async menu(path: string, user: string): Promise<Item[]> {
    switch (path) {
      case "/ip/route":
        return this.routeItems();
      case "/ip/address":
        return this.options.addresses.map((a, i) => ({ ".id": `*${i + 1}`, address: a.address, network: a.address.split("/")[0]!, interface: a.interface, "actual-interface": a.interface, disabled: "false", invalid: "false", dynamic: "false" }));
      case "/interface":
        return this.options.interfaces.map((name, i) => ({ ".id": `*${i + 1}`, name, type: "ether", running: "true", disabled: "false" }));
      case "/routing/table":
        if (!this.v7) throw new Trap("no such command prefix", "0");
        return ["main", ...(this.options.routingTables ?? [])].map((name, i) => ({ ".id": `*${i}`, name, fib: "", dynamic: String(name === "main") }));
      case "/ip/firewall/connection":
        return (await this.options.world.connections()).map((c) => ({
          ".id": c.id,
          protocol: c.protocol,
          "src-address": c.src,
          "dst-address": c.dst,
          "reply-src-address": c.replySrc,
          "reply-dst-address": c.replyDst,
          "connection-type": c.src.endsWith(":5060") || c.dst.endsWith(":5060") ? "sip" : "",
        }));
      case "/system/resource":
        return [{ version: `${this.version} (stable)`, "board-name": "CHR", platform: "MikroTik", uptime: "1d2h3m" }];
      case "/user":
        return this.options.users.map((u, i) => ({ ".id": `*${i + 1}`, name: u.name, group: u.group, disabled: "false" }));
      case "/user/group":
        return Object.entries(this.options.groups).map(([name, policy], i) => ({ ".id": `*${i + 1}`, name, policy: policy.join(",") }));
      default:
        void user;
        throw new Trap("no such command prefix", "0");
    }
  }

  /** Runs a command for `user`; a long-running one (/ping without count) returns its stop. */
  async execute(user: string, inv: Invocation, sink: Sink): Promise<{ stop(): void } | undefined> {
    this.log.push({ user, command: inv.command, args: inv.args });
    try {
      return await this.dispatch(user, inv, sink);
    } catch (error) {
      if (!(error instanceof Trap)) throw error;
      sink.trap(error.message, error.category);
      sink.done(false);
      return undefined;
    }
  }

  private async dispatch(user: string, inv: Invocation, sink: Sink): Promise<{ stop(): void } | undefined> {
    const { command, args } = inv;
    if (command === "/ping") return this.ping(user, args, sink);
    if (command === "/tool/fetch") return void (await this.fetch(user, args, sink));
    const slash = command.lastIndexOf("/");
    const [path, verb] = [command.slice(0, slash), command.slice(slash + 1)];
    switch (verb) {
      case "print": {
        this.need(user, "read");
        let items = (await this.menu(path, user)).filter((item) => matches(item, inv.queries));
        const proplist = args[".proplist"]?.split(",");
        if (proplist) items = items.map((item) => Object.fromEntries(Object.entries(item).filter(([k]) => proplist.includes(k))));
        for (const item of items) sink.record(item);
        sink.done(items.length === 0);
        return undefined;
      }
      case "set":
      case "remove": {
        await this.menu(path, user); // a menu that does not exist is refused before permissions
        this.need(user, "write");
        const ids = (args[".id"] ?? args.numbers ?? "").split(",").filter(Boolean);
        if (ids.length === 0) throw new Trap("no such item", "0");
        if (path === "/ip/route") this.changeRoutes(verb, ids, args);
        else if (path === "/ip/firewall/connection" && verb === "remove") {
          const known = new Set((await this.options.world.connections()).map((c) => c.id));
          const missing = ids.find((id) => !known.has(id));
          if (missing) throw new Trap("no such item", "0");
          await this.options.world.removeConnections(ids);
        } else throw new Trap(`cannot ${verb} in ${path}`, "0");
        await this.apply();
        sink.done(false);
        return undefined;
      }
      default:
        throw new Trap("no such command", "0");
    }
  }

  private changeRoutes(verb: string, ids: readonly string[], args: Readonly<Record<string, string>>): void {
    const items = ids.map((id) => {
      if (id.startsWith("*D")) throw new Trap("cannot change dynamic route", "1");
      const item = this.routes.find((r) => r[".id"] === id);
      if (!item) throw new Trap("no such item", "0");
      return item;
    });
    if (verb === "remove") {
      for (const item of items) this.routes.splice(this.routes.indexOf(item), 1);
      return;
    }
    for (const [key, raw] of Object.entries(args)) {
      if (key === ".id" || key === "numbers") continue;
      let value = raw;
      if (key === "disabled") value = raw === "yes" || raw === "true" ? "true" : raw === "no" || raw === "false" ? "false" : "";
      if (key === "distance" && !(Number.isInteger(Number(raw)) && Number(raw) >= 1 && Number(raw) <= 255)) throw new Trap(`value of distance out of range (1..255)`, "1");
      if (!["distance", "disabled", "comment", "gateway"].includes(key) || value === "") throw new Trap(`unknown parameter ${key}`, "1");
      for (const item of items) item[key] = value;
    }
  }

  private ping(user: string, args: Readonly<Record<string, string>>, sink: Sink): { stop(): void } | undefined {
    this.need(user, "test");
    const address = args.address;
    if (!address) throw new Trap("missing value of argument address", "1");
    if (args.interface && !this.options.interfaces.includes(args.interface)) throw new Trap("input does not match any value of interface", "1");
    if (args["routing-table"] !== undefined) {
      if (!this.v7) throw new Trap("unknown parameter routing-table", "1");
      if (!(this.options.routingTables ?? []).includes(args["routing-table"]) && args["routing-table"] !== "main") throw new Trap("input does not match any value of routing-table", "1");
    }
    const count = args.count === undefined ? undefined : Number(args.count);
    const request: PingRequest = {
      address,
      intervalMs: intervalMs(args.interval),
      ...(args.interface ? { interface: args.interface } : {}),
      ...(args["routing-table"] ? { routingTable: args["routing-table"] } : {}),
      ...(args["src-address"] ? { srcAddress: args["src-address"] } : {}),
      ...(count !== undefined ? { count } : {}),
    };
    let sent = 0;
    let received = 0;
    let finished = false;
    const rtts: number[] = [];
    const handle = this.options.world.ping(
      request,
      (echo) => {
        if (finished) return;
        sent++;
        if (echo.timeMs !== undefined) {
          received++;
          rtts.push(echo.timeMs);
        }
        const loss = String(Math.round((100 * (sent - received)) / sent));
        const stats = { sent: String(sent), received: String(received), "packet-loss": loss };
        if (echo.timeMs !== undefined) {
          const t = (ms: number) => routerTime(ms, this.v7);
          sink.record({ seq: String(echo.seq), host: address, size: "56", ttl: "62", time: t(echo.timeMs), ...stats, "min-rtt": t(Math.min(...rtts)), "avg-rtt": t(rtts.reduce((a, b) => a + b, 0) / rtts.length), "max-rtt": t(Math.max(...rtts)) });
        } else sink.record({ seq: String(echo.seq), host: address, status: echo.status ?? "timeout", ...stats });
        if (count !== undefined && sent >= count) end();
      },
      (error) => {
        if (finished) return;
        if (error) sink.trap(error);
        end();
      },
    );
    function end(): void {
      if (finished) return;
      finished = true;
      handle.stop();
      sink.done(false);
    }
    return {
      stop: () => {
        if (finished) return;
        finished = true;
        handle.stop();
        sink.trap("interrupted", "2");
        sink.done(false);
      },
    };
  }

  private async fetch(user: string, args: Readonly<Record<string, string>>, sink: Sink): Promise<void> {
    this.need(user, "read");
    this.need(user, "test");
    if (!args.url) throw new Trap("missing value of argument url", "1");
    if (args.output !== "user") throw new Trap("wanctl's fake only fetches with output=user", "1");
    let body: string;
    try {
      body = await this.options.world.fetch(args.url, args["src-address"], 10_000);
    } catch (error) {
      throw new Trap(`failure: ${(error as Error).message}`);
    }
    sink.record({ status: "finished", downloaded: "0", total: "0", duration: "1s", data: body });
    sink.done(false);
  }
}

/**
 * Does an item pass the API's query words? Each word pushes a result: "name=value" (equal),
 * "-name" (has no such property), "name" (has it), "<name=value" / ">name=value" (less / more);
 * "#|", "#&", "#!", "#." combine the stack (or, and, not, copy). Whatever stays is ANDed.
 */
export function matches(item: Item, queries: readonly string[]): boolean {
  const stack: boolean[] = [];
  for (const raw of queries) {
    const q = raw.startsWith("=") ? raw.slice(1) : raw;
    if (q.startsWith("#")) {
      for (const op of q.slice(1)) {
        if (op === "!") stack.push(!stack.pop());
        else if (op === ".") stack.push(stack[stack.length - 1] ?? true);
        else if (op === "|" || op === "&") {
          const b = stack.pop() ?? true;
          const a = stack.pop() ?? true;
          stack.push(op === "|" ? a || b : a && b);
        }
      }
    } else if (q.startsWith("-")) stack.push(!(q.slice(1) in item));
    else if (q.startsWith("<") || q.startsWith(">")) {
      const [name, value] = splitOnce(q.slice(1));
      const have = Number(item[name]);
      stack.push(q[0] === "<" ? have < Number(value) : have > Number(value));
    } else if (q.includes("=")) {
      const [name, value] = splitOnce(q);
      stack.push((item[name] ?? "") === value);
    } else stack.push(q in item);
  }
  return stack.every(Boolean);
}

function splitOnce(text: string): [string, string] {
  const eq = text.indexOf("=");
  return eq === -1 ? [text, ""] : [text.slice(0, eq), text.slice(eq + 1)];
}
