// The Linux route backend's flush on a real connection-tracking table (the lab's office gateway):
// after the office leaves wan1, every UDP entry NATed to wan1's address goes, and nothing else does:
// with the netlink program (the kernel filters the table; one helper process serves both flushes
// and is gone after close) and, on a host without perl, with one `conntrack -D` per kind. Both
// delete the same entries.
import { afterEach, expect, test } from "vitest";
import { commandRunner, commandSpawner, type Spawner } from "../../src/system/command.js";
import { LinuxRouteBackend } from "../../src/wan/route/linux.js";
import { LINK_PLAN } from "../lab/index.js";
import { describeLab, useLab } from "../lab/vitest.js";

const WAN1 = LINK_PLAN.wan1.address;
const WAN2 = LINK_PLAN.wan2.address;
const PBX = "192.168.50.10";
const ITSP = "192.0.2.60";

describeLab("conntrack flush on a real table (the lab's office)", () => {
  const lab = useLab();
  const conntrack = (...args: string[]) => lab.run("office", ["conntrack", ...args]);
  afterEach(async () => void (await lab.exec("office", ["conntrack", "-F"])));
  /** The processes in the office's namespace. */
  const pids = async () => new Set((await commandRunner()(["ip", "netns", "pids", lab.ns("office")])).stdout.split("\n").filter(Boolean));

  test.each(["netlink", "conntrack -D (no perl)"])("%s: every UDP flow NATed to the link left goes; the other link's, the gateway's own, TCP and LAN flows stay", async (how) => {
    const entries: Record<string, string[]> = {
      // Stale: source NAT toward wan1 (the trunk, RTP, any UDP) and a port forward that came through wan1.
      trunk: ["-p", "udp", "-s", PBX, "-d", ITSP, "--sport", "5060", "--dport", "5060", "--src-nat", WAN1],
      rtp: ["-p", "udp", "-s", PBX, "-d", "192.0.2.99", "--sport", "14000", "--dport", "31000", "--src-nat", WAN1],
      vpn: ["-p", "udp", "-s", "192.168.50.20", "-d", "192.0.2.1", "--sport", "51820", "--dport", "51820", "--src-nat", WAN1],
      forward: ["-p", "udp", "-s", ITSP, "-d", WAN1, "--sport", "5080", "--dport", "5060", "--dst-nat", PBX],
      forwardPort: ["-p", "udp", "-s", ITSP, "-d", WAN1, "--sport", "5082", "--dport", "5060", "--dst-nat", `${WAN1}:5070`], // a port redirect only
      // Kept.
      otherLink: ["-p", "udp", "-s", PBX, "-d", "192.0.2.98", "--sport", "15000", "--dport", "32000", "--src-nat", WAN2],
      probe: ["-p", "udp", "-s", WAN1, "-d", ITSP, "--sport", "40000", "--dport", "5060"],
      toGateway: ["-p", "udp", "-s", "192.0.2.61", "-d", WAN1, "--sport", "5090", "--dport", "5060"], // to the gateway itself, not NATed
      tcp: ["-p", "tcp", "-s", "192.168.50.20", "-d", "192.0.2.80", "--sport", "40001", "--dport", "443", "--state", "ESTABLISHED", "--src-nat", WAN1],
      lan: ["-p", "udp", "-s", "192.168.50.20", "-d", PBX, "--sport", "5060", "--dport", "5060"],
    };
    for (const args of Object.values(entries)) await conntrack("-I", ...args, "-t", "300");
    const prefix = ["ip", "netns", "exec", lab.ns("office")];
    const before = await pids();
    let spawned = 0;
    const inOffice: Spawner = (argv) => (spawned++, commandSpawner(prefix)(argv));
    const noPerl: Spawner = () => commandSpawner()(["/nonexistent/perl"]); // spawn fails with ENOENT, as without perl
    const route = new LinuxRouteBackend({
      links: [LINK_PLAN.wan1, LINK_PLAN.wan2].map((l) => ({ name: l.ifname, interface: l.ifname, gateway: l.gateway })),
      run: commandRunner(prefix),
      spawn: how === "netlink" ? inOffice : noPerl,
    });
    route.startFlushHelper();

    expect(await route.flushStaleFlows("wan2")).toBe(5);

    const left = (await conntrack("-L")).stdout;
    expect(left).not.toContain(`src=${PBX} dst=${ITSP} sport=5060`); // the trunk
    expect(left).not.toContain("sport=5080"); // the port forward
    expect(left).not.toContain("sport=5082"); // the port redirect
    expect(left).not.toContain("sport=14000");
    expect(left).not.toContain("sport=51820");
    expect(left).toContain("sport=15000"); // NATed to wan2: the link in use
    expect(left).toContain(`src=${WAN1} dst=${ITSP} sport=40000`); // the gateway's own flow, not NATed
    expect(left).toContain(`src=192.0.2.61 dst=${WAN1} sport=5090`); // to the gateway, not NATed
    expect(left).toContain("sport=40001 dport=443"); // TCP
    expect(left).toContain(`src=192.168.50.20 dst=${PBX}`); // inside the LAN
    expect(await route.flushStaleFlows("wan2")).toBe(0);
    const running = [...(await pids())].filter((pid) => !before.has(pid));
    await route.close();
    expect(running).toHaveLength(how === "netlink" ? 1 : 0); // the helper (ip netns exec execs perl)
    if (how === "netlink") expect(spawned).toBe(1); // for both flushes
    const after = await pids();
    expect(running.filter((pid) => after.has(pid))).toEqual([]);
  });
});
