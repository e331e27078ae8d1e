// Watches what an authoritative DNS server answers for one A record, for bench/e2e.ts: run inside
// the lab (the server's namespace), it asks every 5 ms (no recursion, no cache) and prints one JSON
// line {"at": <ms since the epoch>, "answer": "<addresses, comma-separated, or error>"} each time the
// answer changes. Bounded: it stops by itself after an hour.
//   node dist/bench/dns-watch.js <server> <name>
import { createSocket } from "node:dgram";
import { decodeMessage, encodeQuery, readA, TYPE } from "../src/dns/wire.js";

const [server, name] = process.argv.slice(2);
if (!server || !name) {
  process.stderr.write("usage: dns-watch <server> <name>\n");
  process.exit(2);
}

const INTERVAL_MS = 5;
const TIMEOUT_MS = 200;
const MAX_QUERIES = 3_600_000 / INTERVAL_MS;

const socket = createSocket("udp4");
let id = 0;
let last = "";
let queries = 0;
let pending: { id: number; timer: NodeJS.Timeout } | undefined;

function report(answer: string): void {
  if (answer === last) return;
  last = answer;
  process.stdout.write(`${JSON.stringify({ at: Date.now(), answer })}\n`);
}

function ask(): void {
  if (++queries > MAX_QUERIES) process.exit(0);
  id = (id + 1) & 0xffff;
  const timer = setTimeout(() => {
    pending = undefined;
    report("error:timeout");
    setTimeout(ask, INTERVAL_MS);
  }, TIMEOUT_MS);
  pending = { id, timer };
  socket.send(encodeQuery(id, name!, TYPE.A), 53, server);
}

socket.on("message", (msg) => {
  const m = decodeMessage(msg);
  if (!pending || m.id !== pending.id) return;
  clearTimeout(pending.timer);
  pending = undefined;
  const addresses = m.answers.filter((rr) => rr.type === TYPE.A).map(readA).filter((a): a is string => a !== null);
  report(m.rcode === 0 ? addresses.sort().join(",") : `rcode:${m.rcode}`);
  setTimeout(ask, INTERVAL_MS);
});
socket.on("error", (error) => {
  process.stderr.write(`dns-watch: ${error.message}\n`);
  process.exit(1);
});
process.on("SIGTERM", () => process.exit(0));
ask();
