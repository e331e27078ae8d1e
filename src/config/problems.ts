// Turns schema issues into problems a person can fix: the JSON path, the line and column in the
// file, and what was expected.
import { findNodeAtLocation, type Node } from "jsonc-parser";
import type { z } from "zod";

export interface ConfigProblem {
  /** JSON path in the usual dotted form, e.g. links[0].gateway ("" for the whole file). */
  path: string;
  line: number;
  column: number;
  message: string;
}

export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  return path.reduce<string>((out, seg) => (typeof seg === "number" ? `${out}[${seg}]` : out ? `${out}.${seg}` : seg), "");
}

/** Maps an offset in the text to 1-based line and column. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** The node at `path`, or the deepest ancestor that exists (a missing field points at its object). */
function nearestNode(root: Node, path: readonly PathSegment[]): Node {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = findNodeAtLocation(root, path.slice(0, depth) as PathSegment[]);
    if (node) return node;
  }
  return root;
}

function preview(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

const TYPE_NAMES: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a string",
  boolean: "true or false",
  object: "an object",
  array: "an array",
};

const ZOD_DEFAULT_MESSAGE = /^(Invalid input|Too (small|big)|Invalid (string|option|discriminator))/;

function describe(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case "invalid_type": {
      const expected = ZOD_DEFAULT_MESSAGE.test(issue.message) ? `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}` : issue.message;
      if (value === undefined) {
        const field = issue.path[issue.path.length - 1];
        return `missing required field ${JSON.stringify(field)} (${expected})`;
      }
      return `${expected}, got ${preview(value)}`;
    }
    case "invalid_union": {
      if ("discriminator" in issue && issue.discriminator) {
        const options = ((issue as { options?: unknown[] }).options ?? []).map((o) => JSON.stringify(o)).join(", ");
        if (value === undefined) return `missing required field ${JSON.stringify(issue.discriminator)} (one of ${options})`;
        return `expected ${JSON.stringify(issue.discriminator)} to be one of ${options}, got ${preview(value)}`;
      }
      return `${issue.message === "Invalid input" ? "value does not match any allowed form" : issue.message}, got ${preview(value)}`;
    }
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${preview(value)}`;
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? "at least" : "at most";
      const unit = issue.origin === "array" ? " item(s)" : issue.origin === "string" ? " character(s)" : "";
      const limit = String((issue as { minimum?: unknown; maximum?: unknown }).minimum ?? (issue as { maximum?: unknown }).maximum);
      const expected = ZOD_DEFAULT_MESSAGE.test(issue.message) ? `expected ${bound} ${limit}${unit}` : issue.message;
      return `${expected}, got ${issue.origin === "array" ? `${(value as unknown[]).length} item(s)` : preview(value)}`;
    }
    case "custom":
      return issue.message;
    default:
      return value === undefined ? issue.message : `${issue.message}, got ${preview(value)}`;
  }
}

/** Converts one schema issue into one or more problems located in the file. */
export function problemsFromIssue(
  issue: z.core.$ZodIssue,
  text: string,
  root: Node,
  valueAt: (path: readonly PathSegment[]) => unknown,
  suggest: (path: readonly PathSegment[], key: string) => string | undefined,
): ConfigProblem[] {
  const path = issue.path.filter((seg): seg is PathSegment => typeof seg !== "symbol");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const propertyNode = findNodeAtLocation(root, [...path, key])?.parent;
      const at = positionOf(text, propertyNode?.offset ?? nearestNode(root, path).offset);
      const hint = suggest(path, key);
      return {
        path: formatPath([...path, key]),
        ...at,
        message: `unknown key ${JSON.stringify(key)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ""}`,
      };
    });
  }
  const node = nearestNode(root, path);
  return [{ path: formatPath(path), ...positionOf(text, node.offset), message: describe(issue, valueAt(path)) }];
}
