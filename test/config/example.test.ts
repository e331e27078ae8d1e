import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { configJsonSchema } from "../../src/config/json-schema.js";
import { loadConfig } from "../../src/config/load.js";

const root = new URL("../../", import.meta.url);

type Node = Record<string, unknown>;

/** Every property name the schema defines, at any depth and in any union branch. */
function schemaKeys(node: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => schemaKeys(n, into));
  else if (node && typeof node === "object") {
    const properties = (node as Node).properties as Node | undefined;
    for (const [key, child] of Object.entries(properties ?? {})) {
      into.add(key);
      schemaKeys(child, into);
    }
    for (const [key, child] of Object.entries(node as Node)) if (key !== "properties") schemaKeys(child, into);
  }
  return into;
}

function exampleKeys(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => exampleKeys(v, into));
  else if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      into.add(key);
      exampleKeys(child, into);
    }
  }
  return into;
}

describe("config.example.json, config.routeros.example.json and config.follow.example.json", () => {
  const files = ["config.example.json", "config.routeros.example.json", "config.follow.example.json"].map((name) => new URL(name, root).pathname);

  test.each(files)("%s is valid", (file) => {
    expect(() => loadConfig(file, {})).not.toThrow();
  });

  test("between them they show every option the schema has", () => {
    // The two other forms of a secret ({"file"}, {"credential"}) and the other form of the
    // router's TLS check ({"fingerprint"}) are shown in the README: the examples must pass
    // check-config on any machine, so their secrets are inline placeholders.
    const shown = new Set(files.flatMap((file) => [...exampleKeys(JSON.parse(readFileSync(file, "utf8")))]));
    const missing = [...schemaKeys(configJsonSchema())].filter((key) => !["file", "credential", "fingerprint"].includes(key) && !shown.has(key));
    expect(missing).toEqual([]);
  });

  test("every option has a description for editors", () => {
    const undocumented: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}|${i}`));
      if (!node || typeof node !== "object") return;
      for (const [key, child] of Object.entries(((node as Node).properties ?? {}) as Node)) {
        const c = child as Node;
        const described = typeof c.description === "string" || (Array.isArray(c.anyOf) && c.anyOf.every((b) => typeof (b as Node).description === "string"));
        if (!described && !("const" in c)) undocumented.push(`${path}.${key}`);
        walk(child, `${path}.${key}`);
      }
      for (const [key, child] of Object.entries(node as Node)) if (key !== "properties") walk(child, `${path}/${key}`);
    };
    walk(configJsonSchema(), "");
    expect(undocumented).toEqual([]);
  });
});

describe("schema/wanctl.schema.json", () => {
  test("is the schema generated from the code (run `npm run schema` after changing it)", () => {
    const committed = JSON.parse(readFileSync(new URL("schema/wanctl.schema.json", root), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });
});
