// The shared HTTP client against a server on 127.0.0.1: source binding, capped answers, errors
// that name the URL without its secrets.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpError, httpFetch, safeUrl } from "../../src/lib/http.js";
import { errorCode } from "../../src/lib/net-errors.js";
import { listenOnLoopback, portOf } from "../loopback.js";

describe("safeUrl", () => {
  it("keeps scheme, host and path; drops credentials, query, fragment and a trailing slash", () => {
    expect(safeUrl("https://user:pa55@www.duckdns.org/update/?domains=x&token=SECRET#f")).toBe("https://www.duckdns.org/update");
    expect(safeUrl("http://wanctl:aripass@192.168.50.10:8088/ari/")).toBe("http://192.168.50.10:8088/ari");
    expect(safeUrl("http://[2001:db8::1]:8080")).toBe("http://[2001:db8::1]:8080");
    expect(safeUrl("not a url token=SECRET")).toBe("(bad URL)");
  });
});

describe("httpFetch", () => {
  let server: Server;
  let base: string;
  const seen: { remote: string | undefined; method: string | undefined; body: string; type: string | undefined }[] = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push({ remote: req.socket.remoteAddress, method: req.method, body, type: req.headers["content-type"] });
        const path = (req.url ?? "").split("?")[0];
        if (path === "/long") res.end("x".repeat(10_000));
        else if (path === "/hang") return; // never answers
        else res.writeHead(201).end("ok");
      });
    });
    await listenOnLoopback(server);
    base = `http://127.0.0.1:${portOf(server)}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("sends the body from the bound source address and returns the answer", async () => {
    const res = await httpFetch({ url: `${base}/x`, method: "POST", body: "{}", headers: { "content-type": "application/json" }, localAddress: "127.0.0.1", timeoutMs: 2000 });
    expect(res).toMatchObject({ status: 201, body: "ok" });
    expect(seen.at(-1)).toEqual({ remote: "127.0.0.1", method: "POST", body: "{}", type: "application/json" });
  });

  it("fails an answer longer than maxBodyBytes, or cuts it when asked to", async () => {
    await expect(httpFetch({ url: `${base}/long?token=SECRET`, timeoutMs: 2000, maxBodyBytes: 100 })).rejects.toThrow(
      new HttpError(`${base}/long: answer longer than 100 bytes`, "protocol"),
    );
    const cut = await httpFetch({ url: `${base}/long`, timeoutMs: 2000, maxBodyBytes: 100, overlongBody: "truncate" });
    expect(cut.body).toBe("x".repeat(100));
  });

  it("a network error carries the socket's code; the message names the URL without its query", async () => {
    const closed = createServer();
    await listenOnLoopback(closed);
    const port = portOf(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await httpFetch({ url: `http://127.0.0.1:${port}/nic/update?password=SECRET`, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(errorCode(error)).toBe("ECONNREFUSED");
    expect((error as HttpError).message).toBe(`http://127.0.0.1:${port}/nic/update: ECONNREFUSED`);
  });

  it("is always bounded: by its own deadline, by the caller's signal, and never by neither", async () => {
    await expect(httpFetch({ url: `${base}/hang`, timeoutMs: 50 })).rejects.toMatchObject({ kind: "timeout" });
    const stop = new AbortController();
    const pending = httpFetch({ url: `${base}/hang`, signal: stop.signal });
    stop.abort();
    await expect(pending).rejects.toMatchObject({ kind: "aborted", message: `${base}/hang: aborted` });
    await expect(httpFetch({ url: `${base}/x` })).rejects.toThrow(RangeError);
  });
});
