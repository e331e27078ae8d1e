// The real Asterisk 20 in the lab's `pbx` namespace (192.168.50.10, behind the office's static
// SNAT), built once per machine by scripts/asterisk.sh. Its trunks register with the lab's ITSP
// (Kamailio, 192.0.2.60): PJSIP ones from port 5060, chan_sip ones from 5062 — both drivers run at
// once, wanctl's config says which one it manages. AMI listens on 192.168.50.10:5038 for the
// office, and is bridged to 127.0.0.1 for the test process (./ami-bridge.ts).
//
// Everything Asterisk writes (config, astdb, logs, control socket) lives in a scratch directory
// of its own, removed by stop(); the process is the lab's (lab.spawn), so lab.down() ends it too.

import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ADDRESSES, LINK_PLAN, SERVICES } from "./addresses.js";
import { bridgeAmi, type AmiBridge } from "./ami-bridge.js";
import type { Availability } from "./availability.js";
import { onProcessDeath } from "./exit-hooks.js";
import type { Lab, LabProcess } from "./lab.js";
import { exec, sleep } from "./proc.js";

export const ASTERISK_VERSION = "20.20.1";

/** Where scripts/asterisk.sh installs Asterisk (the same default and override as the script). */
export function asteriskPrefix(): string {
  return process.env.WANCTL_ASTERISK_PREFIX ?? `/var/cache/wanctl-lab/asterisk-${ASTERISK_VERSION}`;
}

export function asteriskAvailability(): Availability {
  const binary = join(asteriskPrefix(), "sbin", "asterisk");
  try {
    accessSync(binary, constants.X_OK);
    return { ok: true };
  } catch {
    return { ok: false, reason: `no Asterisk at ${binary}: run scripts/asterisk.sh (scripts/test.sh does) to build it` };
  }
}

/** The lab's AMI account. */
export const AMI_USER = "wanctl";
export const AMI_SECRET = "wanctlsecret";
export const AMI_PORT = 5038;

export interface AsteriskTrunks {
  /** PJSIP outbound registrations: `itsp`, `itsp-2`, … as `office`, `office-2`, … Default 1. */
  pjsip?: number;
  /** chan_sip `register =>` lines: `office2`, `office2-2`, … Default 1. */
  chanSip?: number;
}

/** The AoR (user) of PJSIP trunk i (0-based) at the ITSP, and its registration's section name. */
export const pjsipTrunk = (i: number) => ({ registration: i === 0 ? "itsp" : `itsp-${i + 1}`, user: i === 0 ? "office" : `office-${i + 1}` });
/** The user of chan_sip trunk i (0-based) at the ITSP. */
export const chanSipTrunkUser = (i: number): string => (i === 0 ? "office2" : `office2-${i + 1}`);

const WAN1 = LINK_PLAN.wan1.publicAddress;
const ITSP = SERVICES.registrar;

/**
 * The files wanctl reads and changes over AMI (pjsip.conf, sip.conf, manager.conf) and the dialplan.
 * With the defaults these are the files the transcripts in test/fixtures/asterisk/ were recorded with.
 */
export function asteriskConfigFiles(trunks: AsteriskTrunks = {}): Record<string, string> {
  const pjsipCount = trunks.pjsip ?? 1;
  const chanSipCount = trunks.chanSip ?? 1;
  const registrations = Array.from({ length: pjsipCount }, (_, i) => {
    const t = pjsipTrunk(i);
    return `[${t.registration}]
type = registration
transport = transport-udp
server_uri = sip:${ITSP}:5060
client_uri = sip:${t.user}@${ITSP}
contact_user = ${t.user}
expiration = 3600
retry_interval = 20
max_retries = 10000
max_random_initial_delay = 1
`;
  });
  const pjsip = `[global]
type = global
user_agent = Asterisk PBX (wanctl lab)

[transport-udp]
type = transport
protocol = udp
bind = 0.0.0.0:5060
local_net = ${ADDRESSES.lan.network}
external_media_address = ${WAN1}
external_signaling_address = ${WAN1}

${registrations.join("\n")}
[itsp]
type = aor
contact = sip:${ITSP}:5060
qualify_frequency = 5

[itsp]
type = endpoint
transport = transport-udp
context = from-itsp
disallow = all
allow = ulaw
aors = itsp
rtp_symmetric = yes
rewrite_contact = yes

[itsp]
type = identify
endpoint = itsp
match = ${ITSP}
`;
  const registers = Array.from({ length: chanSipCount }, (_, i) => `register => ${chanSipTrunkUser(i)}:secret@${ITSP}:5060/${chanSipTrunkUser(i)}~3600`);
  const sip = `[general]
context = from-itsp
udpbindaddr = 0.0.0.0:5062
externip = ${WAN1}
localnet = 192.168.50.0/255.255.255.0
nat = force_rport,comedia
defaultexpiry = 3600
registertimeout = 20
registerattempts = 0
${registers.join("\n")}

[itsp-legacy]
type = peer
host = ${ITSP}
port = 5060
context = from-itsp
disallow = all
allow = ulaw
`;
  const manager = `[general]
enabled = yes
port = ${AMI_PORT}
bindaddr = 0.0.0.0

[${AMI_USER}]
secret = ${AMI_SECRET}
deny = 0.0.0.0/0.0.0.0
permit = 192.168.50.0/255.255.255.0
permit = 127.0.0.1/255.255.255.255
read = system,call,reporting,config,command
write = system,call,reporting,config,command,originate
`;
  // A call that stays up for a while: what CoreShowChannels counts.
  const extensions = `[from-itsp]
exten => 100,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
`;
  return { "pjsip.conf": pjsip, "sip.conf": sip, "manager.conf": manager, "extensions.conf": extensions };
}

/** The files Asterisk itself needs to run from `dir` (directories, modules, logging). */
function runtimeFiles(prefix: string, dir: string): Record<string, string> {
  const d = (name: string) => join(dir, name);
  return {
    "asterisk.conf": `[directories]
astetcdir => ${d("etc")}
astmoddir => ${prefix}/lib/asterisk/modules
astvarlibdir => ${d("lib")}
astdbdir => ${d("lib")}
astkeydir => ${d("lib")}
astdatadir => ${prefix}/var/lib/asterisk
astagidir => ${d("lib")}
astspooldir => ${d("spool")}
astrundir => ${d("run")}
astlogdir => ${d("log")}
astsbindir => ${prefix}/sbin

[options]
; No history file, no colours, nothing outside the scratch directory.
nocolor = yes
`,
    // Only what the lab uses: the two SIP drivers, the dialplan, and what they need.
    "modules.conf": `[modules]
autoload = no
load => res_sorcery_config.so
load => res_sorcery_memory.so
load => res_sorcery_astdb.so
load => res_pjproject.so
load => res_pjsip.so
load => res_pjsip_session.so
load => res_pjsip_outbound_registration.so
load => res_pjsip_endpoint_identifier_ip.so
load => res_pjsip_nat.so
load => res_pjsip_sdp_rtp.so
load => res_pjsip_outbound_authenticator_digest.so
load => res_pjsip_authenticator_digest.so
load => res_pjsip_registrar.so
load => res_pjsip_pubsub.so
load => res_rtp_asterisk.so
load => chan_pjsip.so
load => chan_sip.so
load => pbx_config.so
load => app_dial.so
load => app_echo.so
load => codec_ulaw.so
load => res_timing_timerfd.so
`,
    // Present so that Asterisk does not complain about them on every start.
    ...Object.fromEntries(["cdr.conf", "cel.conf", "features.conf", "acl.conf", "udptl.conf", "ccss.conf", "pjproject.conf"].map((f) => [f, ""])),
    "logger.conf": `[general]
dateformat = %F %T.%3q

[logfiles]
messages => notice,warning,error,verbose(3)
console => warning,error
`,
  };
}

export interface LabAsteriskOptions {
  trunks?: AsteriskTrunks;
  /** Replace or add config files (by name) after the defaults of asteriskConfigFiles(). */
  files?: Record<string, string>;
}

export interface LabAsterisk {
  readonly process: LabProcess;
  /** AMI as the office sees it: 192.168.50.10:5038. */
  readonly ami: { readonly host: string; readonly port: number };
  /** AMI for the test process: 127.0.0.1:<amiPort>. */
  readonly amiPort: number;
  /** Asterisk's config directory (UpdateConfig writes here). */
  readonly configDir: string;
  fileText(name: string): string;
  /** A CLI command through Asterisk's control socket (`asterisk -rx`); its output. */
  cli(command: string): Promise<string>;
  /** Asterisk's own log (notice and up, verbose 3). */
  log(): string;
  stop(): Promise<void>;
}

export async function startAsterisk(lab: Lab, options: LabAsteriskOptions = {}): Promise<LabAsterisk> {
  const available = asteriskAvailability();
  if (!available.ok) throw new Error(available.reason);
  const prefix = asteriskPrefix();
  const dir = mkdtempSync(join(tmpdir(), "wanctl-asterisk-"));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  // Also when the run dies before stop() (the lab kills the process itself).
  const forget = onProcessDeath(removeDir);
  const configDir = join(dir, "etc");
  for (const sub of ["etc", "lib", "spool", "run", "log"]) mkdirSync(join(dir, sub));
  const files = { ...asteriskConfigFiles(options.trunks), ...(options.files ?? {}), ...runtimeFiles(prefix, dir) };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(configDir, name), text);
  const conf = join(configDir, "asterisk.conf");
  const binary = join(prefix, "sbin", "asterisk");
  const cli = async (command: string, timeoutMs = 10_000) => exec([binary, "-C", conf, "-rx", command], { timeoutMs });

  // pjproject looks up the host's name for an IPv6 address at start; through the host's resolver,
  // unreachable from the namespace, that takes 10 s. A resolv.conf pointing at the namespace's own
  // loopback fails at once; the bind mount lives only in this process's mount namespace (which
  // `ip netns exec` makes private). -f: stay in the foreground (the lab owns the process); -n: no colours.
  const resolvConf = join(dir, "resolv.conf");
  writeFileSync(resolvConf, "nameserver 127.0.0.1\n");
  const proc = lab.spawn("pbx", ["sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConf, binary, "-C", conf, "-f", "-n"]);
  let bridge: AmiBridge | undefined;
  try {
    let booted = false;
    for (let i = 0; i < 150 && proc.running && !booted; i++) {
      booted = (await cli("core waitfullybooted", 5_000)).code === 0;
      if (!booted) await sleep(100);
    }
    if (!booted) throw new Error(`Asterisk did not boot in the lab's pbx namespace:\n${tail(proc.stderr + proc.stdout)}\n${tail(readLog(dir))}`);
    bridge = await bridgeAmi(lab, { host: "127.0.0.1", port: AMI_PORT }, join(dir, "run", "ami.sock"));
  } catch (error) {
    await proc.stop();
    removeDir();
    forget();
    throw error;
  }
  const amiBridge = bridge;
  return {
    process: proc,
    ami: { host: ADDRESSES.pbx.eth0, port: AMI_PORT },
    amiPort: amiBridge.port,
    configDir,
    fileText: (name) => readFileSync(join(configDir, name), "utf8"),
    async cli(command) {
      const r = await cli(command);
      if (r.code !== 0) throw new Error(`asterisk -rx '${command}' failed: ${(r.stderr || r.stdout).trim()}`);
      return r.stdout;
    },
    log: () => readLog(dir),
    async stop() {
      await amiBridge.close();
      if (proc.running) await cli("core stop now", 5_000);
      await proc.stop(5_000);
      removeDir();
      forget();
    },
  };
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, "log", "messages"), "utf8");
  } catch {
    return "";
  }
}

const tail = (text: string): string => text.trim().split("\n").slice(-20).join("\n");

/**
 * Until every outbound registration of both drivers is Registered, as Asterisk's CLI lists them
 * (`pjsip show registrations`, `sip show registry`); bounded by `timeoutMs`.
 */
export async function waitTrunksRegistered(asterisk: LabAsterisk, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const pjsip = await asterisk.cli("pjsip show registrations");
    const chanSip = await asterisk.cli("sip show registry");
    last = `${pjsip}\n${chanSip}`;
    const states = [...pjsipRegistrationStates(pjsip), ...chanSipRegistryStates(chanSip)];
    if (states.length > 0 && states.every((s) => s === "Registered")) return;
    await sleep(100);
  }
  throw new Error(`the lab's Asterisk trunks are not all Registered after ${timeoutMs} ms:\n${last}`);
}

/** States of `pjsip show registrations` rows (`<name>/<server uri>  <auth>  <state>`). */
export function pjsipRegistrationStates(text: string): string[] {
  return text
    .split("\n")
    .map((l) => /^\s*\S+\/sip:\S+\s+\S+\s+(\S+)/.exec(l)?.[1])
    .filter((s): s is string => s !== undefined);
}

/** States of `sip show registry` rows (`host:port  dnsmgr  user  refresh  state  …`). */
export function chanSipRegistryStates(text: string): string[] {
  return text
    .split("\n")
    .map((l) => /^\S+:\d+\s+[YN]\s+\S+\s+\d+\s+(\S+)/.exec(l)?.[1])
    .filter((s): s is string => s !== undefined);
}
