// The ITSP's registrar in the lab: Kamailio 5.6 (Debian package) in the `inet` namespace on
// SERVICES.registrar (192.0.2.60), UDP 5060: registrar + usrloc in memory, OPTIONS answered, no
// auth. A test reads where each contact registered from and with which expiry in two ways:
//   - contacts(): `kamcmd ul.dump` over the ctl module's unix socket (the location table: Contact
//     URI, the source it came from as `Received`, the seconds left as `Expires`);
//   - requests(): one xlog line per request on Kamailio's stderr (when it arrived, method, source
//     ip:port, the Expires header asked for, the Contact), i.e. what arrived, in order.
// Everything lives in a temp dir of its own (config, ctl socket, pid file), so parallel labs do not
// collide; the process is the lab's (lab.spawn), killed at lab.down() if not stopped before.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVICES } from "./addresses.js";
import type { Lab, LabProcess } from "./lab.js";
import { exec, sleep } from "./proc.js";

export const KAMAILIO = "/usr/sbin/kamailio";
export const KAMCMD = "/usr/sbin/kamcmd";

export interface ItspOptions {
  /** Listen address (a /32 on inet's loopback). Default SERVICES.registrar. */
  address?: string;
  port?: number;
  /** registrar's min_expires (default 10, so short test expiries are accepted as asked). */
  minExpires?: number;
  /** registrar's max_expires (default 3600). */
  maxExpires?: number;
}

/** One binding of the location table. */
export interface ItspContact {
  readonly aor: string;
  /** The Contact URI as registered, e.g. sip:office@203.0.113.10:5060. */
  readonly address: string;
  /** Seconds left (Kamailio counts down from the granted expiry). */
  readonly expiresIn: number;
  /** Where the REGISTER really came from (sip:ip:port), as nathelper's fix_nated_register() saw it. */
  readonly received: string | null;
  readonly callId: string;
  readonly cseq: number;
  readonly userAgent: string;
  /** Unix seconds of the last update. */
  readonly lastModified: number;
}

/** One request as it arrived (xlog). */
export interface ItspRequest {
  /** When Kamailio took it in (ms since the epoch; $TV, the same clock as Date.now()). */
  readonly at: number;
  readonly method: string;
  /** Source address and port. */
  readonly source: string;
  /** The Expires header (null when absent). */
  readonly expires: number | null;
  readonly contact: string;
  readonly callId: string;
}

export interface Itsp {
  readonly address: string;
  readonly port: number;
  readonly process: LabProcess;
  readonly dir: string;
  readonly ctlSocket: string;
  /** The location table now. */
  contacts(): Promise<ItspContact[]>;
  /** Requests received so far, in order. */
  requests(): ItspRequest[];
  stop(): Promise<void>;
}

const LOG_TAG = "wanctl-itsp";

export function kamailioConfig(o: { address: string; port: number; ctlSocket: string; minExpires: number; maxExpires: number }): string {
  return `#!KAMAILIO
# Written by wanctl's lab (test/lab/kamailio.ts): the ITSP's registrar, no auth.
debug=2
log_stderror=yes
log_prefix=""
fork=yes
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:${o.address}:${o.port}

mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "nathelper.so"
loadmodule "xlog.so"
loadmodule "ctl.so"

modparam("ctl", "binrpc", "unix:${o.ctlSocket}")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", ${o.minExpires})
modparam("registrar", "max_expires", ${o.maxExpires})
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("registrar", "received_avp", "$avp(RECEIVED)")

request_route {
  xlog("L_NOTICE", "${LOG_TAG}|$TV(Sn)|$rm|$si:$sp|$hdr(Expires)|$ct|$ci\\n");
  if (!mf_process_maxfwd_header("10")) {
    sl_send_reply("483", "Too Many Hops");
    exit;
  }
  if (method == "OPTIONS") {
    sl_send_reply("200", "OK");
    exit;
  }
  if (method == "REGISTER") {
    # Remember the real source (sip:ip:port) with the binding: what the office's NAT made of it.
    fix_nated_register();
    if (!save("location")) sl_reply_error();
    exit;
  }
  if (method == "ACK") exit;
  sl_send_reply("404", "Not here");
}
`;
}

/** Parse `kamcmd ul.dump`: AoR blocks with Contact blocks of `Key: value` lines. */
export function parseUlDump(text: string): ItspContact[] {
  const out: ItspContact[] = [];
  let aor = "";
  let contact: Record<string, string> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const kv = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (kv && kv[1] === "AoR") {
      aor = kv[2]!;
      continue;
    }
    if (line === "Contact: {") {
      contact = {};
      continue;
    }
    if (contact && line === "}") {
      const c = contact;
      contact = undefined;
      out.push({
        aor,
        address: c.Address ?? "",
        expiresIn: Number(c.Expires ?? NaN),
        received: c.Received === undefined || c.Received === "[not set]" ? null : c.Received,
        callId: c["Call-ID"] ?? "",
        cseq: Number(c.CSeq ?? NaN),
        userAgent: c["User-Agent"] ?? "",
        lastModified: Number(c["Last-Modified"] ?? NaN),
      });
      continue;
    }
    if (contact && kv) contact[kv[1]!] = kv[2]!;
  }
  return out;
}

export function parseRequests(stderr: string): ItspRequest[] {
  const out: ItspRequest[] = [];
  for (const line of stderr.split("\n")) {
    const i = line.indexOf(`${LOG_TAG}|`);
    if (i === -1) continue;
    const [, at, method, source, expires, contact, callId] = line.slice(i).split("|");
    out.push({
      at: Math.round(Number(at) * 1000),
      method: method ?? "",
      source: source ?? "",
      expires: expires !== undefined && /^\d+$/.test(expires) ? Number(expires) : null,
      contact: contact ?? "",
      callId: (callId ?? "").trim(),
    });
  }
  return out;
}

async function kamcmd(ctlSocket: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await exec([KAMCMD, "-s", `unix:${ctlSocket}`, ...args], { timeoutMs: 5_000 });
  return { ok: r.code === 0, out: r.code === 0 ? r.stdout : `${r.stderr}${r.stdout}` };
}

/** Start Kamailio in the lab's inet namespace; resolves once its ctl socket answers. */
export async function startItsp(lab: Lab, options: ItspOptions = {}): Promise<Itsp> {
  const address = options.address ?? SERVICES.registrar;
  const port = options.port ?? 5060;
  const dir = mkdtempSync(join(tmpdir(), "wanctl-itsp-"));
  const ctlSocket = join(dir, "kamailio_ctl");
  const cfg = join(dir, "kamailio.cfg");
  writeFileSync(cfg, kamailioConfig({ address, port, ctlSocket, minExpires: options.minExpires ?? 10, maxExpires: options.maxExpires ?? 3600 }));
  // -DD: stay in the foreground (children still forked); -E: log to stderr; -Y: runtime dir of its own.
  const proc = lab.spawn("inet", [KAMAILIO, "-DD", "-E", "-f", cfg, "-Y", dir, "-P", join(dir, "kamailio.pid"), "-m", "32", "-M", "4"]);
  let ready = false;
  for (let i = 0; i < 100 && proc.running; i++) {
    if ((await kamcmd(ctlSocket, ["core.uptime"])).ok) {
      ready = true;
      break;
    }
    await sleep(100);
  }
  if (!ready) {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Kamailio did not come up in the lab's inet namespace:\n${proc.stderr.trim().split("\n").slice(-15).join("\n")}`);
  }
  return {
    address,
    port,
    process: proc,
    dir,
    ctlSocket,
    async contacts() {
      const r = await kamcmd(ctlSocket, ["ul.dump"]);
      if (!r.ok) throw new Error(`kamcmd ul.dump failed: ${r.out.trim()}`);
      return parseUlDump(r.out);
    },
    requests: () => parseRequests(proc.stderr),
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The first contact Kamailio holds that was registered from `ip` (and passes `check`); bounded wait (30 s). */
export async function contactFrom(itsp: Itsp, ip: string, check: (c: ItspContact) => boolean = () => true): Promise<ItspContact> {
  let last: ItspContact[] = [];
  for (let i = 0; i < 150; i++) {
    last = await itsp.contacts();
    const found = last.find((c) => c.received === `sip:${ip}:5060` && check(c));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no contact registered from ${ip}; Kamailio has ${JSON.stringify(last)}`);
}
