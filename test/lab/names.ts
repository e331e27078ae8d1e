// Per-run names. A run id is short random + the creator's pid, so two runs never collide
// and a sweep can tell from a namespace's name alone whose it was.
import { randomBytes } from "node:crypto";

export type LabNode = "office" | "isp1" | "isp2" | "inet" | "pbx";
/** Build order; teardown goes the other way. */
export const NODES: readonly LabNode[] = ["inet", "isp1", "isp2", "office", "pbx"];

/** Prefix of every lab namespace: wl-<runid>-<node>. */
export const NS_PREFIX = "wl-";
const RUN_ID_RE = /^[0-9a-f]{4}p(\d+)$/;
const NS_RE = /^wl-([0-9a-f]{4}p(\d+))-([a-z0-9]+)$/;

export function newRunId(pid = process.pid): string {
  return `${randomBytes(2).toString("hex")}p${pid}`;
}

export function isRunId(s: string): boolean {
  return RUN_ID_RE.test(s);
}

/** The creator pid encoded in a lab namespace name, or null if the name is not a lab's. */
export function parseNamespace(name: string): { runId: string; pid: number; node: string } | null {
  const m = NS_RE.exec(name);
  if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) return null;
  return { runId: m[1], pid: Number(m[2]), node: m[3] };
}

/** Interface names inside each namespace. Namespaces isolate them, so they are fixed. */
export const IFACES = {
  office: { wan1: "wan1", wan2: "wan2", lan: "lan" },
  isp1: { cust: "cust", up: "uplink" },
  isp2: { cust: "cust", up: "uplink" },
  inet: { isp1: "isp1", isp2: "isp2" },
  pbx: { eth0: "eth0" },
} as const;

export interface LabNames {
  runId: string;
  /** Namespace name per node, e.g. ns.office = "wl-3fa2p4711-office". */
  ns: Readonly<Record<LabNode, string>>;
  ifaces: typeof IFACES;
}

export function labNames(runId: string): LabNames {
  if (!isRunId(runId)) throw new Error(`bad lab run id ${JSON.stringify(runId)}`);
  const ns = Object.fromEntries(NODES.map((n) => [n, `${NS_PREFIX}${runId}-${n}`])) as Record<LabNode, string>;
  return { runId, ns, ifaces: IFACES };
}
