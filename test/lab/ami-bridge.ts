// AMI of a PBX inside the lab, for the test process. The test process runs in the host's network
// namespace and cannot reach 192.168.50.10, but a unix socket is a file and crosses namespaces:
//   test process ──TCP 127.0.0.1:<port>──▶ proxyUnixToTcp ──unix──▶ [pbx ns] bridge ──TCP──▶ AMI
// The simulator listens on the unix socket itself; the real Asterisk only speaks TCP, so a small
// node process inside the pbx namespace joins the unix socket to its AMI port.

import net from "node:net";

import type { Lab, LabProcess } from "./lab.js";

/** A TCP port on 127.0.0.1 that forwards every connection to a unix socket. */
export async function proxyUnixToTcp(socketPath: string): Promise<{ port: number; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.createConnection({ path: socketPath });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// Runs inside the namespace: unix socket (argv[1]) → TCP host:port (argv[2], argv[3]).
const BRIDGE = `
const net = require("node:net");
const [path, host, port] = process.argv.slice(1);
const server = net.createServer((client) => {
  const upstream = net.createConnection({ host, port: Number(port) });
  const end = () => { client.destroy(); upstream.destroy(); };
  client.on("error", end); upstream.on("error", end);
  client.on("close", end); upstream.on("close", end);
  client.pipe(upstream); upstream.pipe(client);
});
server.listen(path, () => console.log("bridge listening"));
process.on("SIGTERM", () => process.exit(0));
`;

export interface AmiBridge {
  /** AMI for the test process: 127.0.0.1:<port>. */
  readonly port: number;
  close(): Promise<void>;
}

/** Make `host:port` inside the pbx namespace reachable as 127.0.0.1:<port>, through `socketPath`. */
export async function bridgeAmi(lab: Lab, target: { host: string; port: number }, socketPath: string): Promise<AmiBridge> {
  const inside: LabProcess = lab.spawn("pbx", [process.execPath, "-e", BRIDGE, socketPath, target.host, String(target.port)]);
  await inside.waitFor(/bridge listening/, 10_000);
  const outside = await proxyUnixToTcp(socketPath);
  return {
    port: outside.port,
    async close() {
      await outside.close();
      await inside.stop();
    },
  };
}
