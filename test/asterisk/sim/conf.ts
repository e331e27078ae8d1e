// Asterisk's config-file model, as main/config.c has it: an ordered list of categories whose names
// may repeat (pjsip.conf's `[itsp]` is a registration, an aor, an endpoint and an identify), each an
// ordered list of variables whose names may repeat too (`register =>`, `permit =`). This is the
// simulator's own implementation, kept apart from the adapter's so that a bug in one cannot hide a
// bug in the other. Only node: imports: the simulator runs as a plain Node process in the lab.

export interface ConfVariable {
  name: string;
  value: string;
  /** Written with `=>` (an "object" in Asterisk's words). */
  object: boolean;
}

export interface ConfCategory {
  name: string;
  /** `[name](!)`: a template, hidden from lookups unless asked for. */
  template: boolean;
  /** Templates this category inherits from (`[name](tmpl1,tmpl2)`). */
  inherits: string[];
  variables: ConfVariable[];
}

export class ConfParseError extends Error {
  override name = "ConfParseError";
}

/** Parse a config file. Comments (`;`, `;-- --;`) and `#include`/`#exec` lines are dropped. */
export function parseConf(text: string, fileName = "(text)"): ConfCategory[] {
  const categories: ConfCategory[] = [];
  let current: ConfCategory | undefined;
  let inBlockComment = false;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (inBlockComment) {
      const end = line.indexOf("--;");
      if (end === -1) continue;
      line = line.slice(end + 3);
      inBlockComment = false;
    }
    const block = line.indexOf(";--");
    if (block !== -1) {
      const end = line.indexOf("--;", block + 3);
      if (end === -1) {
        inBlockComment = true;
        line = line.slice(0, block);
      } else {
        line = line.slice(0, block) + line.slice(end + 3);
      }
    }
    line = stripComment(line).trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("[")) {
      const m = /^\[([^\]]+)\](?:\(([^)]*)\))?$/.exec(line);
      if (!m) throw new ConfParseError(`${fileName}:${i + 1}: bad category line`);
      const options = (m[2] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
      current = {
        name: m[1]!.trim(),
        template: options.includes("!"),
        inherits: options.filter((o) => o !== "!" && o !== "+"),
        variables: [],
      };
      categories.push(current);
      continue;
    }
    const m = /^([^=]+?)\s*=(>?)\s*(.*)$/.exec(line);
    if (!m) throw new ConfParseError(`${fileName}:${i + 1}: not "name = value"`);
    if (!current) throw new ConfParseError(`${fileName}:${i + 1}: variable outside a category`);
    current.variables.push({ name: m[1]!.trim(), value: m[3]!.replace(/\\;/g, ";"), object: m[2] === ">" });
  }
  return categories;
}

function stripComment(line: string): string {
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\\") {
      i++;
      continue;
    }
    if (line[i] === ";") return line.slice(0, i);
  }
  return line;
}

/** Text as Asterisk's ast_config_text_file_save2() writes it back (header, `name = value`, blank lines). */
export function serializeConf(categories: readonly ConfCategory[], fileName: string, now = new Date()): string {
  let out = `;!\n;! Automatically generated configuration file\n;! Filename: ${fileName}\n;! Generator: Manager\n;! Creation Date: ${now.toUTCString()}\n;!\n\n`;
  for (const c of categories) {
    const opts = [...(c.template ? ["!"] : []), ...c.inherits];
    out += `[${c.name}]${opts.length ? `(${opts.join(",")})` : ""}\n`;
    for (const v of c.variables) out += `${v.name} ${v.object ? "=>" : "="} ${v.value.replace(/;/g, "\\;")}\n`;
    out += "\n";
  }
  return out;
}

export function cloneConf(categories: readonly ConfCategory[]): ConfCategory[] {
  return categories.map((c) => ({ ...c, inherits: [...c.inherits], variables: c.variables.map((v) => ({ ...v })) }));
}

/** Last value of `name` (case-insensitive), as Asterisk's option handling sees a repeated option. */
export function lastValue(category: ConfCategory, name: string): string | undefined {
  let found: string | undefined;
  for (const v of category.variables) if (v.name.toLowerCase() === name.toLowerCase()) found = v.value;
  return found;
}

export function allValues(category: ConfCategory, name: string): string[] {
  return category.variables.filter((v) => v.name.toLowerCase() === name.toLowerCase()).map((v) => v.value);
}

/**
 * ast_strsep(): split at `sep`, ignoring separators inside '…' or "…" and after a backslash; with
 * strip, each piece is trimmed and one pair of surrounding quotes removed. Options of UpdateConfig
 * (`catfilter="type=registration"`) depend on exactly this.
 */
export function strsep(text: string, seps: string, strip = true): string[] {
  const out: string[] = [];
  let piece = "";
  const stack: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "\\" && i + 1 < text.length) {
      piece += ch + text[i + 1]!;
      i++;
      continue;
    }
    if (ch === "'" || ch === '"') {
      if (stack[stack.length - 1] === ch) stack.pop();
      else stack.push(ch);
    }
    if (seps.includes(ch) && stack.length === 0) {
      out.push(piece);
      piece = "";
      continue;
    }
    piece += ch;
  }
  out.push(piece);
  return strip ? out.map(stripQuoted) : out;
}

function stripQuoted(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) return t.slice(1, -1);
  return t;
}

/**
 * config.c does_category_match(): the name matches (case-insensitive) when given, and every
 * `name_regex=value_regex` expression of the filter (separated by `,` or `&`) matches some variable.
 * Templates only with `TEMPLATES=include|restrict`. A malformed expression matches nothing.
 */
export function categoryMatches(category: ConfCategory, name: string | undefined, filter: string | undefined): boolean {
  if (name !== undefined && name !== "" && category.name.toLowerCase() !== name.toLowerCase()) return false;
  if (filter === undefined || filter === "") return !category.template;
  let expressions = 0;
  let found = 0;
  let templateOk = false;
  for (const nvp of strsep(filter, ",&")) {
    expressions++;
    const [matchName, matchValue] = strsep(nvp, "=");
    if (matchName === undefined || matchValue === undefined) return false;
    if (matchName === "TEMPLATES") {
      if (matchValue.toLowerCase() === "include") {
        if (category.template) templateOk = true;
        found++;
      } else if (matchValue.toLowerCase() === "restrict") {
        if (!category.template) return false;
        found++;
        templateOk = true;
      }
      continue;
    }
    let nameRe: RegExp;
    let valueRe: RegExp;
    try {
      nameRe = new RegExp(matchName);
      valueRe = new RegExp(matchValue);
    } catch {
      return false;
    }
    if (category.variables.some((v) => nameRe.test(v.name) && valueRe.test(v.value))) found++;
  }
  return found === expressions && (!category.template || templateOk);
}
