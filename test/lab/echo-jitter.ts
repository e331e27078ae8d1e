// Delay and jitter for ICMP echo where the kernel has no netem: a user-space echo responder in the
// inet namespace answers the probe targets itself (the kernel's replies are switched off) and
// holds back the replies to one link's public address by a random delay. It shapes exactly what
// wanctl's ICMP probes see of that link; other traffic is not delayed.
import { SERVICES } from "./addresses.js";
import type { Lab, LabProcess } from "./lab.js";

// Python, because Node has no raw sockets. Replies are sent with IP_HDRINCL so that they come
// from the probed address, not from the namespace's primary one. Bounded: it runs until stopped.
const RESPONDER = String.raw`
import heapq, random, socket, struct, sys, threading, time
targets = set(sys.argv[1].split(","))
slowed = set(sys.argv[2].split(","))
delay_ms, jitter_ms = float(sys.argv[3]), float(sys.argv[4])
rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
tx.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
def checksum(data):
    if len(data) % 2: data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
# The sender sleeps until the earliest reply is due (or a new one is queued): no polling, so the
# responder takes no CPU from the daemon under test and adds no delay of its own.
queue, due = [], threading.Condition()
def sender():
    while True:
        with due:
            while not queue: due.wait()
            wait = queue[0][0] - time.monotonic()
            if wait > 0:
                due.wait(wait)
                continue
            _, _, packet, dst = heapq.heappop(queue)
        tx.sendto(packet, (dst, 0))
threading.Thread(target=sender, daemon=True).start()
print("ready", flush=True)
seq = 0
while True:
    packet, (src, _) = rx.recvfrom(65535)
    ihl = (packet[0] & 0x0f) * 4
    dst = socket.inet_ntoa(packet[16:20])
    icmp = bytearray(packet[ihl:])
    if icmp[0] != 8 or dst not in targets: continue
    icmp[0] = 0; icmp[2:4] = b"\0\0"
    icmp[2:4] = struct.pack("!H", checksum(bytes(icmp)))
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64, socket.IPPROTO_ICMP, 0, socket.inet_aton(dst), socket.inet_aton(src))
    wait = max(0.0, delay_ms + random.uniform(-jitter_ms, jitter_ms)) / 1000 if src in slowed else 0.0
    seq += 1
    with due:
        heapq.heappush(queue, (time.monotonic() + wait, seq, header + bytes(icmp), src)); due.notify()
`;

export interface EchoJitter {
  stop(): Promise<void>;
}

/**
 * Replies to ICMP echo for the probe targets come back `delayMs ± jitterMs` late when the request
 * came from one of `slowedSources` (a link's public address). Undone by stop().
 */
export async function startEchoJitter(
  lab: Lab,
  options: { slowedSources: string[]; delayMs: number; jitterMs: number; targets?: string[] },
): Promise<EchoJitter> {
  const targets = options.targets ?? [SERVICES.probe1, SERVICES.probe2, SERVICES.probe3, SERVICES.http];
  // The responder first, the kernel's replies off only once it answers: in between nobody would
  // answer, and a loaded machine takes long enough to start Python for the probes to call that an
  // outage. (While both answer, ping marks the second reply DUP! and ignores it.)
  let responder: LabProcess | undefined;
  try {
    responder = lab.spawn("inet", ["python3", "-u", "-c", RESPONDER, targets.join(","), options.slowedSources.join(","), String(options.delayMs), String(options.jitterMs)]);
    await responder.waitFor(/^ready/m, 10_000);
    await lab.run("inet", ["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1"]);
  } catch (error) {
    await lab.run("inet", ["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=0"]);
    await responder?.stop();
    throw error;
  }
  return {
    async stop() {
      await lab.run("inet", ["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=0"]);
      await responder?.stop();
    },
  };
}
