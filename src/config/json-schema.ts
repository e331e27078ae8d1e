// The JSON Schema of the config, generated from the zod schema (the single source of truth), and
// the look-ups on it that error messages use.
import { z } from "zod";
import { configSchema } from "./schema/index.js";

type JsonSchemaNode = {
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  [key: string]: unknown;
};

let cached: JsonSchemaNode | undefined;

/** The schema editors use: input form, so fields with defaults are optional. */
export function configJsonSchema(): JsonSchemaNode {
  cached ??= {
    ...(z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as JsonSchemaNode),
    $id: "https://github.com/wanctl/wanctl/schema/wanctl.schema.json",
    title: "wanctl configuration",
  };
  return cached;
}

function branches(node: JsonSchemaNode): JsonSchemaNode[] {
  const alternatives = [...(node.anyOf ?? []), ...(node.oneOf ?? [])];
  return alternatives.length ? alternatives.flatMap(branches) : [node];
}

/** Property names allowed in the object at `path` (any branch of a union). */
export function knownKeysAt(path: readonly (string | number)[]): string[] {
  let nodes = branches(configJsonSchema());
  for (const seg of path) {
    nodes = nodes.flatMap((node) => {
      const next = typeof seg === "number" ? node.items : node.properties?.[seg];
      return next ? branches(next) : [];
    });
  }
  return [...new Set(nodes.flatMap((node) => Object.keys(node.properties ?? {})))];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The allowed key closest to a misspelt one, when it is close enough to be a likely typo. */
export function suggestKey(path: readonly (string | number)[], key: string): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of knownKeysAt(path)) {
    const distance = editDistance(key, candidate);
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(key.length / 3)) ? best.key : undefined;
}
