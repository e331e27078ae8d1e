// The http section: loopback by default, refused beyond loopback without auth, and its secrets
// read like every other secret.
import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig, parseConfigText, secretRefs } from "../../src/config/load.js";
import { parseListen } from "../../src/config/schema/http.js";
import { minimalConfig, writeTemp } from "./fixtures.js";

function problemsOf(http: unknown) {
  try {
    parseConfigText(JSON.stringify({ ...minimalConfig(), http }, null, 2), "c.json");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}:${p.line}: ${p.message}`);
    throw error;
  }
  return [];
}

describe("http config", () => {
  test("is on by default, on loopback port 9026, without auth", () => {
    expect(parseConfigText(JSON.stringify(minimalConfig()), "c.json").http).toEqual({ enabled: true, listen: "127.0.0.1:9026" });
  });

  test("loopback (IPv4 or IPv6) needs no auth", () => {
    expect(problemsOf({ listen: "127.0.0.2:9100" })).toEqual([]);
    expect(problemsOf({ listen: "[::1]:9026" })).toEqual([]);
  });

  test("beyond loopback without auth is refused, at the listen line", () => {
    const [problem] = problemsOf({ listen: "0.0.0.0:9026" });
    expect(problem).toBe("http.listen:25: 0.0.0.0:9026 can be reached from other hosts: set http.auth (a token, or a username and password), or listen on 127.0.0.1");
    expect(problemsOf({ listen: "[::]:9026" })).toHaveLength(1);
    expect(problemsOf({ listen: "192.168.50.1:9026" })).toHaveLength(1);
    // Off, it listens nowhere.
    expect(problemsOf({ enabled: false, listen: "0.0.0.0:9026" })).toEqual([]);
  });

  test("beyond loopback with a token, or a username and password, is accepted", () => {
    expect(problemsOf({ listen: "0.0.0.0:9026", auth: { token: "t0ken" } })).toEqual([]);
    expect(problemsOf({ listen: "0.0.0.0:9026", auth: { username: "office", password: "pw" } })).toEqual([]);
  });

  test("auth needs a token or a username and password, the two together", () => {
    expect(problemsOf({ listen: "0.0.0.0:9026", auth: {} })).toEqual([expect.stringContaining("http.auth:26: expected a token, or a username and password")]);
    expect(problemsOf({ auth: { username: "office" } })).toEqual([expect.stringContaining("username and password go together")]);
  });

  test("a listen address that is not IP:port says what it expects", () => {
    for (const bad of ["localhost:9026", "127.0.0.1", "127.0.0.1:99999", "::1:9026", "[127.0.0.1]:9026"]) {
      expect(problemsOf({ listen: bad })).toEqual([expect.stringContaining('expected an IP address and a port such as "127.0.0.1:9026"')]);
    }
    expect(parseListen("[::1]:9026")).toEqual({ host: "::1", port: 9026 });
  });

  test("its secrets are read like the others: a missing secret file is reported at its line", () => {
    const config = { ...minimalConfig(), http: { listen: "0.0.0.0:9026", auth: { token: { file: "/nonexistent/wanctl-token" } } } };
    const file = writeTemp("c.json", JSON.stringify(config, null, 2));
    expect(() => loadConfig(file, {})).toThrow(/http\.auth\.token: cannot read the secret file \/nonexistent\/wanctl-token/);
    const parsed = parseConfigText(JSON.stringify({ ...config, http: { ...config.http, auth: { username: "u", password: "p", token: "t" } } }), "c.json");
    expect(secretRefs(parsed).map((r) => r.path)).toEqual(["http.auth.token", "http.auth.password"]);
  });
});
