// Reads the config file: strict JSON, then the schema, then the secrets it points at. Every
// problem names its JSON path and its line:column in the file.
import { readFileSync, statSync } from "node:fs";
import { findNodeAtLocation, getNodeValue, parseTree, printParseErrorCode, type Node, type ParseError } from "jsonc-parser";
import { suggestKey } from "./json-schema.js";
import { formatPath, positionOf, problemsFromIssue, type ConfigProblem, type PathSegment } from "./problems.js";
import { configSchema, type Config } from "./schema/index.js";
import { inlineSecretPaths, readSecret, SecretError } from "./secrets.js";
import type { SecretRef } from "./schema/common.js";

export const DEFAULT_CONFIG_PATH = "/etc/wanctl/config.json";

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join("\n"));
    this.name = "ConfigError";
  }
}

export function formatProblem(file: string, problem: ConfigProblem): string {
  const where = problem.line > 0 ? `${file}:${problem.line}:${problem.column}` : file;
  return `${where}: ${problem.path ? `${problem.path}: ` : ""}${problem.message}`;
}

export interface LoadedConfig {
  file: string;
  config: Config;
  /** Things that work but deserve attention (e.g. inline secrets in a file others can read). */
  warnings: string[];
}

function syntaxProblems(text: string, errors: ParseError[]): ConfigProblem[] {
  return errors.map((error) => ({
    path: "",
    ...positionOf(text, error.offset),
    message: `invalid JSON: ${printParseErrorCode(error.error)
      .replace(/([a-z])([A-Z])/g, "$1 $2")
      .toLowerCase()}`,
  }));
}

/** JSON.parse silently keeps the last of two equal keys; a typo'd copy must not pass unseen. */
function duplicateKeyProblems(text: string, node: Node, path: PathSegment[] = []): ConfigProblem[] {
  const children = node.children ?? [];
  if (node.type === "array") return children.flatMap((child, i) => duplicateKeyProblems(text, child, [...path, i]));
  if (node.type !== "object") return [];
  const seen = new Set<string>();
  return children.flatMap((property) => {
    const [keyNode, valueNode] = property.children ?? [];
    const key = String(keyNode?.value);
    const here = [...path, key];
    const own: ConfigProblem[] = seen.has(key)
      ? [{ path: formatPath(here), ...positionOf(text, property.offset), message: `duplicate key ${JSON.stringify(key)} (the earlier one would be ignored)` }]
      : [];
    seen.add(key);
    return [...own, ...(valueNode ? duplicateKeyProblems(text, valueNode, here) : [])];
  });
}

function valueAtPath(value: unknown, path: readonly PathSegment[]): unknown {
  let current = value;
  for (const seg of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[seg];
  }
  return current;
}

/** A wanctl config is a few kilobytes; far beyond that it is the wrong file (and parsing it would take long). */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** The schema nests a few levels; far deeper is not a config (and would exhaust the parser's stack). */
export const MAX_CONFIG_DEPTH = 32;

/** Where the text nests deeper than MAX_CONFIG_DEPTH, found without parsing it. */
function nestingProblem(text: string): ConfigProblem | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[" || c === "{") {
      if (++depth > MAX_CONFIG_DEPTH) return { path: "", ...positionOf(text, i), message: `nested more than ${MAX_CONFIG_DEPTH} levels deep: this is not a wanctl config` };
    } else if (c === "]" || c === "}") depth--;
  }
  return undefined;
}

/** Validates config text; throws ConfigError listing every problem found. */
export function parseConfigText(text: string, file: string): Config {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError(file, [{ path: "", line: 0, column: 0, message: `the file is ${text.length} bytes, more than the ${MAX_CONFIG_BYTES} a config can be: is it the right file?` }]);
  }
  const tooDeep = nestingProblem(text);
  if (tooDeep) throw new ConfigError(file, [tooDeep]);
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  if (errors.length || !root) {
    throw new ConfigError(file, errors.length ? syntaxProblems(text, errors) : [{ path: "", line: 1, column: 1, message: "the file is empty" }]);
  }
  const duplicates = duplicateKeyProblems(text, root);
  if (duplicates.length) throw new ConfigError(file, duplicates);

  const raw: unknown = getNodeValue(root);
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) =>
    problemsFromIssue(issue, text, root, (path) => valueAtPath(raw, path), suggestKey),
  );
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  throw new ConfigError(file, problems);
}

/** Every secret reference in the config with its path, for checks and resolution. */
export function secretRefs(config: Config): { path: string; ref: SecretRef }[] {
  const refs: { path: string; ref: SecretRef | undefined }[] = [
    { path: "asterisk.ami.secret", ref: config.asterisk?.ami.secret },
    { path: "asterisk.ari.password", ref: config.asterisk?.ari?.password },
    { path: "alerts.email.password", ref: config.alerts.email?.password },
    { path: "alerts.slack.webhookUrl", ref: config.alerts.slack?.webhookUrl },
    { path: "alerts.webhook.token", ref: config.alerts.webhook?.token },
    { path: "http.auth.token", ref: config.http.auth?.token },
    { path: "http.auth.password", ref: config.http.auth?.password },
    { path: "route.router.password", ref: config.route.backend === "routeros" ? config.route.router.password : undefined },
    ...config.dns.providers.map((p, i) => {
      const base = `dns.providers[${i}]`;
      switch (p.type) {
        case "dyndns2":
          return { path: `${base}.password`, ref: p.password };
        case "rfc2136":
          return { path: `${base}.tsig.secret`, ref: p.tsig.secret };
        default:
          return { path: `${base}.token`, ref: p.token };
      }
    }),
  ];
  return refs.filter((r): r is { path: string; ref: SecretRef } => r.ref !== undefined);
}

/** `a.b[2].c` → ["a", "b", 2, "c"]. */
function pathSegments(path: string): PathSegment[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/** Line and column of the value at `path` in config text already known to parse. */
function locate(text: string, path: PathSegment[]): { line: number; column: number } {
  const root = parseTree(text);
  const node = root ? findNodeAtLocation(root, path) : undefined;
  return node ? positionOf(text, node.offset) : { line: 0, column: 0 };
}

/** Loads, validates and checks a config file (its secrets must be readable). */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    // Not read at all when far too big: a 50 MB file would cost seconds and gigabytes to parse.
    const size = statSync(file).size;
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError(file, [{ path: "", line: 0, column: 0, message: `the file is ${size} bytes, more than the ${MAX_CONFIG_BYTES} a config can be: is it the right file?` }]);
    }
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code ?? String(error);
    throw new ConfigError(file, [{ path: "", line: 0, column: 0, message: `cannot read the config file (${reason})` }]);
  }
  const config = parseConfigText(text, file);

  const secretProblems: ConfigProblem[] = [];
  for (const { path, ref } of secretRefs(config)) {
    try {
      readSecret(ref, path, env);
    } catch (error) {
      if (!(error instanceof SecretError)) throw error;
      // The message begins with the path; the position points at the secret in the file.
      const at = locate(text, pathSegments(path));
      secretProblems.push({ path: "", ...at, message: error.message });
    }
  }
  if (secretProblems.length) throw new ConfigError(file, secretProblems);

  const warnings: string[] = [];
  if (config.failover.waitForIdleCalls && !config.asterisk) {
    warnings.push(`failover.waitForIdleCalls is on but there is no "asterisk" section: calls cannot be counted, so failback will not wait for them`);
  }
  const routerTls = config.route.backend === "routeros" ? config.route.router.tls : undefined;
  if (routerTls && "ca" in routerTls) {
    try {
      readFileSync(routerTls.ca);
    } catch (error) {
      warnings.push(`route.router.tls.ca: cannot read ${routerTls.ca} (${(error as NodeJS.ErrnoException).code ?? "unreadable"}): wanctl cannot reach the router until it can`);
    }
  }
  const inline = inlineSecretPaths(config);
  if (inline.length && (statSync(file).mode & 0o004) !== 0) {
    warnings.push(
      `${file} is readable by every user and holds secrets inline (${inline.join(", ")}): run \`chmod 600 ${file}\` or move them into files ({"file": ...} or {"credential": ...})`,
    );
  }
  return { file, config, warnings };
}
