// "What is my IP" services for the lab's inet namespace: an HTTP echo that answers each client with
// the source address it saw (as plain text, or JSON under /json), and a STUN server (RFC 5389)
// that maps each Binding request to its real source. Behind isp2's carrier NAT, both see
// 203.0.113.10, not the office's 100.64.0.2. As a script:
//   node dist/test/lab/fake-ipecho.js '{"host":"192.0.2.80","httpPort":8080,"stunPort":3478}'
// prints {"listening":...}, then one JSON line per request.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { startStunServer } from "../wan/public-ip/stun-server.js";

export interface FakeIpEcho {
  httpUrl: string;
  stunPort: number;
  close(): Promise<void>;
}

export async function startFakeIpEcho(o: { host: string; httpPort?: number; stunPort?: number }, log?: (line: string) => void): Promise<FakeIpEcho> {
  const http = createServer((req, res) => {
    const from = req.socket.remoteAddress ?? "";
    log?.(JSON.stringify({ proto: "http", path: req.url, from, userAgent: req.headers["user-agent"] }));
    res.setHeader("Content-Type", req.url === "/json" ? "application/json" : "text/plain");
    res.end(req.url === "/json" ? JSON.stringify({ ip: from }) : `${from}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(o.httpPort ?? 0, o.host, resolve);
  });
  const stun = await startStunServer({}, o.host, o.stunPort ?? 0, (from) => log?.(JSON.stringify({ proto: "stun", from: from.address, port: from.port })));
  return {
    httpUrl: `http://${o.host}:${(http.address() as AddressInfo).port}`,
    stunPort: stun.port,
    close: async () => {
      http.closeAllConnections();
      await Promise.all([new Promise((r) => http.close(r)), stun.close()]);
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = JSON.parse(process.argv[2] ?? "{}") as { host: string; httpPort?: number; stunPort?: number };
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  void startFakeIpEcho(o, out).then((f) => out(JSON.stringify({ listening: { http: f.httpUrl, stun: f.stunPort } })));
  process.on("SIGTERM", () => process.exit(0));
}
