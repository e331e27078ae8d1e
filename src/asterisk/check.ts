// `wanctl asterisk check`: can wanctl do its job on this PBX? Connects to AMI, checks the manager
// user's privileges with harmless probes, and lists the transports and trunks wanctl will manage
// with their current external address, expiry and state, for each SIP channel driver it manages
// (with channelDriver "auto": each one ModuleCheck finds loaded). Says plainly what is missing or wrong.
//
// Privilege probes change nothing: Asterisk checks an action's privilege (the user's write= classes)
// before it looks at the action's arguments, so an action sent WITHOUT its required argument answers
// "Permission denied" when the class is missing, and its own "… not specified" error otherwise:
//   GetConfig      (write=system or config)  → "Filename not specified"
//   UpdateConfig   (write=config)            → "Filename not specified"
//   Command        (write=command)           → "No command provided"
//   PJSIPRegister  (write=system or reporting) → "Registration parameter missing."
// Reload needs write=config or system: covered by UpdateConfig's probe (an argument-less Reload
// would reload everything). read=system (for the Registry events wanctl waits on) shows as the
// FullyBooted event Asterisk sends right after a login with `Events: system`.

import { type AsteriskConfig, configuredDrivers, type SipDriver } from "../config/schema/asterisk.js";
import { readSecret } from "../config/secrets.js";
import { AmiClient, type AmiLogger } from "./ami/client.js";
import { AmiActionError } from "./ami/errors.js";
import { safeUrl } from "../lib/http.js";
import { ariInfo } from "./pbx/ari.js";
import { redactRegisterLine, parseRegisterLine } from "./pbx/chan-sip.js";
import { type ConfigSection, findSection, readConfigFile, valueOf, valuesOf } from "./pbx/config-file.js";
import { describeFailure, PbxError } from "./pbx/errors.js";

export interface AsteriskCheckResult {
  /** No problem found. */
  readonly ok: boolean;
  /** Every finding, in order, prefixed `ok:`, `problem:` or `note:`. */
  readonly lines: string[];
  /** The `problem:` lines without the prefix. */
  readonly problems: string[];
}

export interface CheckOptions {
  /** The AMI secret (default: read from asterisk.ami.secret). */
  readonly secret?: string;
  readonly ariPassword?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: AmiLogger;
  readonly fetch?: typeof fetch;
}

type Probe = { action: string; fields: Record<string, string>; expected: RegExp; needs: string; why: string };

export async function checkAsterisk(config: AsteriskConfig, options: CheckOptions = {}): Promise<AsteriskCheckResult> {
  const lines: string[] = [];
  const problems: string[] = [];
  const ok = (t: string) => void lines.push(`ok: ${t}`);
  const note = (t: string) => void lines.push(`note: ${t}`);
  const problem = (t: string) => {
    lines.push(`problem: ${t}`);
    problems.push(t);
  };
  const done = (): AsteriskCheckResult => ({ ok: problems.length === 0, lines, problems });

  let secret: string;
  try {
    secret = options.secret ?? readSecret(config.ami.secret, "asterisk.ami.secret", options.env);
  } catch (error) {
    problem(error instanceof Error ? error.message : String(error));
    return done();
  }
  const timeoutMs = config.ami.timeoutMs;
  const client = new AmiClient({
    host: config.ami.host,
    port: config.ami.port,
    username: config.ami.username,
    secret,
    events: ["system"],
    connectTimeoutMs: timeoutMs,
    actionTimeoutMs: timeoutMs,
    reconnect: false,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const target = client.target;
  let systemEvents = false;
  client.onEvent("*", () => {
    systemEvents = true;
  });
  try {
    try {
      await client.connect();
    } catch (error) {
      problem(describeFailure(error, target, "logging in").message);
      return done();
    }
    ok(`AMI ${target}: logged in as manager user '${config.ami.username}' (AMI ${client.amiVersion ?? "?"})`);
    try {
      const settings = await client.action("CoreSettings");
      ok(`Asterisk ${settings.fields.get("AsteriskVersion") ?? "?"}`);
    } catch {
      // CoreSettings needs write=system/reporting; the probes below say what is missing.
    }

    // read=system: FullyBooted comes with the login answer when the user may read system events.
    if (!systemEvents) await client.waitForEvent("FullyBooted", () => true, { timeoutMs: Math.min(1000, timeoutMs) }).then(() => (systemEvents = true), () => {});
    if (systemEvents) ok("the manager user receives system events (read=system): wanctl sees each trunk's Registry events");
    else problem("no system event after login: the manager user needs read=system in manager.conf (wanctl waits for the trunks' Registry events), unless Asterisk is still booting");

    // Which drivers: those the config names, or with "auto" those Asterisk has loaded.
    const named = configuredDrivers(config);
    const drivers = named === "auto" ? await loadedDrivers(client, ok, note, problem) : named;
    const files = drivers.map((d) => (d === "pjsip" ? (config.pjsip?.configFile ?? "pjsip.conf") : (config.chanSip?.configFile ?? "sip.conf")));
    const commands = drivers.map((d) => (d === "pjsip" ? "'pjsip show transport'" : "'sip reload' and 'sip show settings'"));

    // write= privileges, probed without effect.
    const probes: Probe[] = [
      { action: "GetConfig", fields: {}, expected: /^Filename not specified/, needs: "write=config", why: `to read ${files.join(" and ") || "the SIP config files"}` },
      { action: "UpdateConfig", fields: {}, expected: /^Filename not specified/, needs: "write=config", why: "to change the external address and the trunks' expiry (and to Reload)" },
      { action: "Command", fields: {}, expected: /^No command provided/, needs: "write=command", why: `for ${commands.join(" and ") || "the CLI commands"}` },
      ...(drivers.includes("pjsip")
        ? [{ action: "PJSIPRegister", fields: {}, expected: /^Registration parameter missing/, needs: "write=system", why: "to register the trunks again" }]
        : []),
    ];
    const allowed: string[] = [];
    for (const p of probes) {
      try {
        await client.action(p.action, p.fields);
        allowed.push(p.action); // would not happen (the argument is missing), but it is allowed
      } catch (error) {
        if (!(error instanceof AmiActionError)) throw error;
        const m = (error.amiMessage ?? "").trim();
        if (m === "Permission denied") problem(`the manager user lacks ${p.needs} in manager.conf (${p.action}, ${p.why})`);
        else if (/^Invalid\/unknown command/.test(m)) problem(`Asterisk has no ${p.action} action (is the module loaded?) — needed ${p.why}`);
        else if (p.expected.test(m)) allowed.push(p.action);
        else note(`${p.action} probe answered "${m}"`);
      }
    }
    if (allowed.length === probes.length) ok(`privileges: ${allowed.join(", ")} and Reload allowed`);

    try {
      await client.list("CoreShowChannels");
      ok("CoreShowChannels allowed: wanctl can count active calls");
    } catch (error) {
      if (!(error instanceof AmiActionError)) throw error;
      if (error.amiMessage === "Permission denied") problem("the manager user lacks write=system (or reporting) in manager.conf (CoreShowChannels, to count active calls before a failback)");
      else note(`CoreShowChannels: ${error.amiMessage ?? ""}`);
    }

    if (drivers.includes("pjsip")) await checkPjsip(config, client, named === "auto", ok, note, problem);
    if (drivers.includes("chan_sip")) await checkChanSip(config, client, named === "auto", ok, note, problem);
  } catch (error) {
    problem(describeFailure(error, target, "checking").message);
  } finally {
    if (client.state === "ready") await client.logoff({ timeoutMs: Math.min(2000, timeoutMs) }).catch(() => client.close());
    else await client.close();
  }

  if (config.ari) {
    try {
      const password = options.ariPassword ?? readSecret(config.ari.password, "asterisk.ari.password", options.env);
      const info = await ariInfo({ url: config.ari.url, username: config.ari.username, password }, { timeoutMs, ...(options.fetch ? { fetch: options.fetch } : {}) });
      ok(`ARI ${safeUrl(config.ari.url)} answers (Asterisk ${info.version ?? "?"}${info.systemName ? `, ${info.systemName}` : ""})`);
    } catch (error) {
      problem(error instanceof Error ? error.message : String(error));
    }
  }
  return done();
}

type Say = (text: string) => void;

const MODULES: ReadonlyArray<readonly [SipDriver, string]> = [
  ["pjsip", "res_pjsip.so"],
  ["chan_sip", "chan_sip.so"],
];

/** channelDriver "auto": ModuleCheck of each driver's module (write=system); without the privilege, both are checked. */
async function loadedDrivers(client: AmiClient, ok: Say, note: Say, problem: Say): Promise<SipDriver[]> {
  const loaded: SipDriver[] = [];
  for (const [driver, module] of MODULES) {
    try {
      await client.action("ModuleCheck", { Module: module });
      loaded.push(driver);
      ok(`${module} is loaded: wanctl manages ${driver} if it has trunks or an external address (channelDriver "auto")`);
    } catch (error) {
      if (!(error instanceof AmiActionError)) throw error;
      const m = (error.amiMessage ?? "").trim();
      if (/^Module not loaded/i.test(m)) {
        note(`${module} is not loaded: wanctl leaves ${driver} alone (channelDriver "auto")`);
        continue;
      }
      problem(`cannot tell whether ${module} is loaded (ModuleCheck: ${m || "?"})${m === "Permission denied" ? ': the manager user lacks write=system, which channelDriver "auto" needs' : ""}`);
      return MODULES.map(([d]) => d);
    }
  }
  if (loaded.length === 0) problem('neither res_pjsip.so nor chan_sip.so is loaded: wanctl has no SIP driver to manage (channelDriver "auto")');
  return loaded;
}

async function checkPjsip(config: AsteriskConfig, client: AmiClient, auto: boolean, ok: Say, note: Say, problem: Say): Promise<void> {
  const file = config.pjsip?.configFile ?? "pjsip.conf";
  if (auto && !config.pjsip) {
    // Loaded, but the config names no transport: fine only while PJSIP has no trunk.
    const list = await client.list("PJSIPShowRegistrationsOutbound").catch((error: unknown) => {
      if (error instanceof AmiActionError) return undefined;
      throw error;
    });
    const names = (list?.items ?? []).filter((e) => e.event.toLowerCase() === "outboundregistrationdetail").map((e) => e.fields.get("ObjectName") ?? "?");
    if (names.length) problem(`PJSIP has outbound registration(s) ${names.join(", ")}, but the config has no asterisk.pjsip section: name the transports whose external address follows the link ("pjsip": { "transports": [...] })`);
    else note("PJSIP has no outbound registration and the config no asterisk.pjsip section: nothing for wanctl to manage in PJSIP");
    return;
  }
  const transports = config.pjsip?.transports ?? [];
  let sections: ConfigSection[] | undefined;
  try {
    sections = await readConfigFile(client, file);
    ok(`${file}: ${sections.length} sections`);
  } catch (error) {
    problem(describeFailure(error, client.target, `reading ${file}`).message);
  }
  if (transports.length === 0) problem("asterisk.pjsip.transports is empty: wanctl does not know which transports to change");
  for (const name of transports) {
    let fileText = "";
    if (sections) {
      try {
        const { section } = findSection(sections, file, name, "transport", "transport");
        const media = valueOf(section, "external_media_address");
        const signaling = valueOf(section, "external_signaling_address");
        fileText = `external_media_address ${media ?? "(absent)"}, external_signaling_address ${signaling ?? "(absent)"}`;
        if (media === null || signaling === null) note(`transport '${name}' has no ${media === null ? "external_media_address" : "external_signaling_address"} in ${file} yet: wanctl will add it`);
      } catch (error) {
        problem(error instanceof Error ? error.message : String(error));
        continue;
      }
    }
    try {
      const out = await client.command(`pjsip show transport ${name}`);
      const live = (k: string) => out.map((l) => new RegExp(`^\\s*${k}\\s*:\\s?(.*)$`).exec(l)?.[1]?.trim()).find((v) => v !== undefined);
      const m = live("external_media_address");
      const s = live("external_signaling_address");
      if (m === undefined || s === undefined) problem(`transport '${name}' is in ${file} but Asterisk has not loaded it (pjsip show transport: ${out.map((l) => l.trim()).filter(Boolean)[0] ?? "no output"})`);
      else ok(`transport '${name}': ${fileText} in ${file}; live ${m || "(empty)"} / ${s || "(empty)"}`);
    } catch (error) {
      if (!(error instanceof AmiActionError)) throw error;
      // Command not allowed: reported by the probes already.
      if (fileText) ok(`transport '${name}': ${fileText} in ${file}`);
    }
  }

  let listed: Array<{ name: string; status: string; expiration: string; server: string }> = [];
  try {
    const list = await client.list("PJSIPShowRegistrationsOutbound");
    listed = list.items
      .filter((e) => e.event.toLowerCase() === "outboundregistrationdetail")
      .map((e) => ({ name: e.fields.get("ObjectName") ?? "", status: e.fields.get("Status") ?? "?", expiration: e.fields.get("Expiration") ?? "?", server: e.fields.get("ServerUri") ?? "?" }));
  } catch (error) {
    if (!(error instanceof AmiActionError)) throw error;
    problem(`cannot list the outbound registrations (PJSIPShowRegistrationsOutbound: ${error.amiMessage ?? "?"})${error.amiMessage === "Permission denied" ? ": the manager user lacks write=system" : ""}`);
    return;
  }
  const configured = config.pjsip?.registrations ?? "auto";
  const names = configured === "auto" ? listed.map((r) => r.name) : configured;
  if (names.length === 0) note("no outbound registrations: no trunk to register again on a switch");
  for (const name of names) {
    const r = listed.find((x) => x.name === name);
    let inFile = "";
    if (sections) {
      try {
        const ref = findSection(sections, file, name, "registration", "registration");
        inFile = `; in ${file}: expiration ${valueOf(ref.section, "expiration") ?? "(absent: 3600)"}, max_random_initial_delay ${valueOf(ref.section, "max_random_initial_delay") ?? "(absent: 10)"}`;
        if (ref.siblings.length) note(`[${name}] shares its name with ${ref.siblings.length} other section(s) in ${file}; wanctl changes only the one with type=registration`);
      } catch (error) {
        if (r) note(`${error instanceof Error ? error.message : String(error)}: wanctl can register it again but cannot shorten its expiry`);
      }
    }
    if (!r) {
      problem(`registration '${name}' (asterisk.pjsip.registrations) is not known to Asterisk: PJSIPShowRegistrationsOutbound does not list it`);
      continue;
    }
    const line = `registration '${name}' → ${r.server}: ${r.status}, expiry ${r.expiration} s${inFile}`;
    if (r.status === "Registered") ok(line);
    else problem(line);
  }
  ok(`on a backup link wanctl sets expiration ${config.shortExpirySeconds} s and waits up to ${config.registerTimeoutMs} ms for each trunk`);
}

async function checkChanSip(config: AsteriskConfig, client: AmiClient, auto: boolean, ok: Say, note: Say, problem: Say): Promise<void> {
  const file = config.chanSip?.configFile ?? "sip.conf";
  let general: ConfigSection | undefined;
  try {
    const sections = await readConfigFile(client, file);
    general = findSection(sections, file, "general", null, "section").section;
  } catch (error) {
    problem(error instanceof PbxError ? error.message : describeFailure(error, client.target, `reading ${file}`).message);
    return;
  }
  const externip = valueOf(general, "externip");
  const externaddr = valueOf(general, "externaddr");
  if (auto && externip === null && externaddr === null && valuesOf(general, "register").length === 0) {
    note(`[general] of ${file} has no register line and no externip: nothing for wanctl to manage in chan_sip`);
    return;
  }
  const externhost = valueOf(general, "externhost");
  if (externhost !== null) problem(`[general] of ${file} sets externhost=${externhost}: chan_sip would keep resolving it; remove it so that wanctl's externip is used`);
  let live = "";
  try {
    const out = await client.command("sip show settings");
    live = out.map((l) => /^\s*Externaddr:\s*(\S*)/.exec(l)?.[1]).find((v) => v !== undefined) ?? "(no Externaddr line)";
  } catch (error) {
    if (!(error instanceof AmiActionError)) throw error;
    if (!/Permission denied/.test(error.amiMessage ?? "")) problem(`sip show settings failed: ${error.output.join(" ").trim() || error.amiMessage} (is chan_sip loaded?)`);
  }
  ok(`[general] of ${file}: externip ${externip ?? "(absent)"}${externaddr !== null ? `, externaddr ${externaddr}` : ""}${live ? `; live Externaddr ${live}` : ""}`);
  const lines = valuesOf(general, "register");
  if (lines.length === 0) note(`no register => lines in [general] of ${file}: no trunk to register again on a switch`);
  let registry: Array<{ user: string; host: string; state: string; refresh: string }> = [];
  try {
    const list = await client.list("SIPshowregistry");
    registry = list.items.map((e) => ({ user: e.fields.get("Username") ?? "", host: e.fields.get("Host") ?? "", state: e.fields.get("State") ?? "?", refresh: e.fields.get("Refresh") ?? "?" }));
  } catch (error) {
    if (!(error instanceof AmiActionError)) throw error;
    problem(`cannot list chan_sip registrations (SIPshowregistry: ${error.amiMessage ?? "?"})`);
  }
  for (const raw of lines) {
    const line = parseRegisterLine(raw);
    if (!line) {
      problem(`a register line of ${file} cannot be read by wanctl: ${redactRegisterLine(raw)}`);
      continue;
    }
    const r = registry.find((x) => x.user === line.user && x.host.toLowerCase() === line.host.toLowerCase());
    const text = `register ${line.key}: expiry ${line.expiry ?? `(none: defaultexpiry ${valueOf(general, "defaultexpiry") ?? "120"})`}; chan_sip: ${r ? `${r.state}, refresh ${r.refresh} s` : "not listed"}`;
    if (r?.state === "Registered") ok(text);
    else problem(text);
  }
}
