// The SIP OPTIONS request of a reachability probe (RFC 3261 §11, §8.1.1) and the check that a
// datagram is a response to it (§8.1.3.3, §17.1.3: the top Via's branch and the Call-ID match).
import { randomBytes } from "node:crypto";

/** RFC 3261's magic cookie: a branch that starts with it is unique per transaction. */
export const BRANCH_COOKIE = "z9hG4bK";

export interface OptionsRequest {
  readonly text: string;
  readonly branch: string;
  readonly callId: string;
  readonly tag: string;
  readonly cseq: number;
}

export interface OptionsParams {
  /** Where it goes: the proxy's host (name or address) and port, for the Request-URI and To. */
  readonly host: string;
  readonly port: number;
  /** Where it comes from: the link's source address and the socket's local port. */
  readonly localAddress: string;
  readonly localPort: number;
  /** User part of From and Contact. Default "wanctl". */
  readonly user?: string;
}

const token = (bytes: number): string => randomBytes(bytes).toString("hex");

/** `[v6]` in a URI or Via, bare v4 or name. */
const uriHost = (h: string): string => (h.includes(":") && !h.startsWith("[") ? `[${h}]` : h);

export function buildOptions(p: OptionsParams): OptionsRequest {
  const branch = `${BRANCH_COOKIE}${token(10)}`;
  const tag = token(6);
  const callId = `${token(12)}@${uriHost(p.localAddress)}`;
  const user = p.user ?? "wanctl";
  const cseq = 1;
  const local = `${uriHost(p.localAddress)}:${p.localPort}`;
  const target = `sip:${uriHost(p.host)}:${p.port}`;
  const text =
    [
      `OPTIONS ${target} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local};branch=${branch};rport`,
      "Max-Forwards: 70",
      `From: <sip:${user}@${uriHost(p.localAddress)}>;tag=${tag}`,
      `To: <${target}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} OPTIONS`,
      `Contact: <sip:${user}@${local}>`,
      "Accept: application/sdp",
      "User-Agent: wanctl-probe",
      "Content-Length: 0",
    ].join("\r\n") + "\r\n\r\n";
  return { text, branch, callId, tag, cseq };
}

export interface SipResponse {
  readonly status: number;
  readonly reason: string;
}

/** Compact header forms (RFC 3261 §7.3.3) of the headers we read. */
const COMPACT: Readonly<Record<string, string>> = { v: "via", i: "call-id" };

/**
 * The response to `req` in `datagram`, or null: not a SIP response, or not ours (the top Via's
 * branch and the Call-ID must both match, and CSeq must be ours for OPTIONS).
 */
export function matchOptionsResponse(req: OptionsRequest, datagram: Buffer | string): SipResponse | null {
  const text = typeof datagram === "string" ? datagram : datagram.toString("latin1");
  const end = text.search(/\r?\n\r?\n/);
  const head = end === -1 ? text : text.slice(0, end);
  const lines = unfold(head.split(/\r?\n/));
  const status = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/.exec(lines[0] ?? "");
  if (!status) return null;
  let topVia: string | undefined;
  let callId: string | undefined;
  let cseq: string | undefined;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return null; // not a header: not a well-formed SIP message
    const raw = line.slice(0, colon).trim().toLowerCase();
    const name = COMPACT[raw] ?? raw;
    const value = line.slice(colon + 1).trim();
    if (name === "via" && topVia === undefined) topVia = value.split(",")[0]?.trim();
    else if (name === "call-id" && callId === undefined) callId = value;
    else if (name === "cseq" && cseq === undefined) cseq = value;
  }
  if (callId !== req.callId || topVia === undefined || cseq === undefined) return null;
  const branch = /;\s*branch\s*=\s*([^;,\s]+)/i.exec(topVia)?.[1];
  if (branch !== req.branch) return null;
  const cs = /^(\d+)\s+(\S+)$/.exec(cseq);
  if (!cs || Number(cs[1]) !== req.cseq || cs[2]?.toUpperCase() !== "OPTIONS") return null;
  return { status: Number(status[1]), reason: (status[2] ?? "").trim() };
}

/** Header lines folded onto the next (RFC 3261 §7.3.1: a continuation starts with SP or HTAB). */
function unfold(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if ((l.startsWith(" ") || l.startsWith("\t")) && out.length > 1) out[out.length - 1] += ` ${l.trim()}`;
    else out.push(l);
  }
  return out;
}
