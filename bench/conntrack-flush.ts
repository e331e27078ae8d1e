// How long the route backend's conntrack flush takes on a busy gateway: the lab's office table is
// filled with `conntrack -I` (50 000 unrelated entries: TCP through wan1, UDP through wan2, the
// gateway's own UDP from wan1's address, UDP inside the LAN; then 200 stale voice flows NATed to
// wan1: SIP and RTP through the office's source NAT, and one in ten come in through its port
// forward), and the flush after a move to wan2 is timed, N times (the stale flows are put
// back each time), with the flush helper running already, as the daemon starts it (the first
// flush, which starts it, is shown apart). It must delete exactly the 200. Ends with one JSON
// line. Target: ≤ 50 ms. --no-perl times the fallback of a host without perl (one `conntrack -D`
// per filter).
//   npm run bench:conntrack -- --runs N --entries E [--no-perl]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { commandRunner, commandSpawner } from "../src/system/command.js";
import { LinuxRouteBackend } from "../src/wan/route/linux.js";
import { LINK_PLAN, runScriptOnLab, type Lab } from "../test/lab/index.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, entries: { type: "string", default: "50000" }, stale: { type: "string", default: "200" }, "no-perl": { type: "boolean", default: false } } });
const runs = Math.max(1, Math.min(50, Number(values.runs)));
const unrelated = Math.max(0, Math.min(200_000, Number(values.entries)));
const staleCount = Math.max(1, Math.min(5_000, Number(values.stale)));

const WAN1 = LINK_PLAN.wan1.address;
const WAN2 = LINK_PLAN.wan2.address;
const say = (text: string): void => void process.stdout.write(`${text}\n`);

/** A distinct remote address per index: 10.x.y.z. */
const remote = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

function unrelatedEntries(n: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const port = 20_001 + (i % 40_000);
    switch (i % 4) {
      case 0: // a LAN client's HTTPS through wan1 (TCP: left alone)
        lines.push(`-I -p tcp -s 192.168.50.${20 + (i % 200)} -d ${remote(i)} --sport ${port} --dport 443 --state ESTABLISHED --src-nat ${WAN1} -t 3600`);
        break;
      case 1: // UDP through wan2, the link in use
        lines.push(`-I -p udp -s 192.168.50.${20 + (i % 200)} -d ${remote(i)} --sport ${port} --dport 443 --src-nat ${WAN2} -t 3600`);
        break;
      case 2: // the gateway's own UDP from wan1's address (probes): not NATed
        lines.push(`-I -p udp -s ${WAN1} -d ${remote(i)} --sport ${port} --dport 5060 -t 3600`);
        break;
      default: // inside the LAN
        lines.push(`-I -p udp -s 192.168.50.${20 + ((i >> 2) % 200)} -d 192.168.50.10 --sport ${1024 + Math.floor((i >> 2) / 200)} --dport 5060 -t 3600`);
    }
  }
  return lines;
}

function staleVoiceFlows(n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    i % 10 === 0
      ? `-I -p udp -s 192.168.50.10 -d ${remote(200_000 + i)} --sport 5060 --dport 5060 --src-nat ${WAN1} -t 3600`
      : i % 10 === 5 // a call that came in through wan1's port forward to the PBX
        ? `-I -p udp -s ${remote(300_000 + i)} -d ${WAN1} --sport 5060 --dport 5060 --dst-nat 192.168.50.10 -t 3600`
        : `-I -p udp -s 192.168.50.10 -d 192.0.2.${100 + (i % 100)} --sport ${10_000 + 2 * i} --dport ${30_000 + 2 * i} --src-nat ${WAN1} -t 3600`,
  );
}

/** `conntrack -R <file>` (a file: conntrack cannot open a socket as /dev/stdin, which is what node's pipes are). */
async function fill(lab: Lab, lines: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "wanctl-conntrack-"));
  try {
    writeFileSync(join(dir, "entries"), `${lines.join("\n")}\n`);
    await lab.run("office", ["conntrack", "-R", join(dir, "entries")], { timeoutMs: 120_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function count(lab: Lab): Promise<number> {
  return Number((await lab.run("office", ["conntrack", "-C"])).stdout.trim());
}

runScriptOnLab("bench", async (lab) => {
  const prefix = ["ip", "netns", "exec", lab.ns("office")];
  const route = new LinuxRouteBackend({
    links: [LINK_PLAN.wan1, LINK_PLAN.wan2].map((l) => ({ name: l.ifname, interface: l.ifname, gateway: l.gateway })),
    run: commandRunner(prefix),
    // Without perl the helper's spawn fails with ENOENT, as on such a host.
    spawn: values["no-perl"] ? () => commandSpawner()(["/nonexistent/perl"]) : commandSpawner(prefix),
  });
  const via = values["no-perl"] ? "conntrack -D" : "netlink";
  try {
    await fill(lab, unrelatedEntries(unrelated));
    const base = await count(lab);
    say(`conntrack table of the lab's office: ${base} unrelated entries; the flush via ${via}`);
    const flush = async (): Promise<number> => {
      await fill(lab, staleVoiceFlows(staleCount));
      const started = performance.now();
      const deleted = await route.flushStaleFlows("wan2");
      const ms = performance.now() - started;
      const after = await count(lab);
      if (deleted !== staleCount || after !== base) throw new Error(`the flush deleted ${deleted} (expected ${staleCount}) and left ${after} (expected ${base})`);
      return ms;
    };
    say(`the first flush, which starts the helper: ${Math.round(await flush())} ms (the daemon starts it ahead)`);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      times.push(await flush());
      say(`run ${i + 1}/${runs}: ${Math.round(times.at(-1)!)} ms, ${staleCount} deleted, ${base} entries left`);
    }
    const sorted = [...times].sort((a, b) => a - b);
    say(`target: ≤ 50 ms with 50 000 unrelated entries and 200 stale voice flows`);
    say(JSON.stringify({ via, entries: base, stale: staleCount, runs, flush_ms_p50: Math.round(sorted[Math.floor((runs - 1) / 2)]!), flush_ms_max: Math.round(sorted.at(-1)!) }));
  } finally {
    await route.close();
  }
});
