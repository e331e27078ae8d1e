// Test servers listen on 127.0.0.1 at a port the kernel picks.
import type { Server } from "node:net";

export function listenOnLoopback(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
}

export function portOf(server: Server): number {
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("not listening");
  return addr.port;
}
