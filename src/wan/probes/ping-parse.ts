/**
 * The lines of iputils ping(8) run as `ping -n -O -D ...`, as printed by iputils 20221126
 * (Debian 12), checked against the real thing:
 *
 *   PING 127.0.0.1 (127.0.0.1) from 127.0.0.1 lo: 56(84) bytes of data.
 *   [1795640866.280299] 64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.776 ms
 *   [1795640866.482035] 64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.037 ms (DUP!)
 *   [1795640979.413972] no answer yet for icmp_seq=1
 *   [1795640979.413972] From 192.0.2.9 icmp_seq=3 Destination Host Unreachable
 *   From 172.17.0.1 (172.17.0.1) icmp_seq=1 Time to live exceeded        (without -n)
 *
 * `-D` puts the wall-clock time in brackets; `-O` prints "no answer yet" for the previous echo
 * request when the next one is sent without a reply to it; `-n` keeps addresses numeric (no
 * reverse lookups, which would block ping on a dead link). The RTT is printed as `time=0.776 ms`
 * or, from 100 ms on, `time=123 ms`.
 */

export type PingLine =
  | { readonly kind: "reply"; readonly seq: number; readonly rttMs: number; readonly from: string; readonly dup: boolean; readonly wallMs?: number }
  | { readonly kind: "no-answer"; readonly seq: number; readonly wallMs?: number }
  | { readonly kind: "icmp-error"; readonly seq: number; readonly from: string; readonly message: string; readonly wallMs?: number }
  | { readonly kind: "other"; readonly text: string };

const STAMP = /^\[(\d+(?:\.\d+)?)\]\s*/;
const REPLY = /^\d+ bytes from ([^\s:]+(?: \([^)]*\))?):? .*?icmp_seq=(\d+)\b.*?\btime=(\d+(?:\.\d+)?) ms(.*)$/;
const NO_ANSWER = /^no answer yet for icmp_seq=(\d+)\s*$/;
const ICMP_ERROR = /^From (\S+?)(?: \([^)]*\))?:? icmp_seq=(\d+) (.+?)\s*$/;

export function parsePingLine(line: string): PingLine {
  let rest = line.trimEnd();
  let wallMs: number | undefined;
  const stamp = STAMP.exec(rest);
  if (stamp) {
    wallMs = Math.round(Number(stamp[1]) * 1000);
    rest = rest.slice(stamp[0].length);
  }
  const at = wallMs === undefined ? {} : { wallMs };
  let m = REPLY.exec(rest);
  if (m) {
    return { kind: "reply", from: m[1]!, seq: Number(m[2]), rttMs: Number(m[3]), dup: /\(DUP!\)/.test(m[4] ?? ""), ...at };
  }
  m = NO_ANSWER.exec(rest);
  if (m) return { kind: "no-answer", seq: Number(m[1]), ...at };
  m = ICMP_ERROR.exec(rest);
  if (m) return { kind: "icmp-error", from: m[1]!, seq: Number(m[2]), message: m[3]!, ...at };
  return { kind: "other", text: rest };
}
