// Changing one of Asterisk's config files over AMI without touching anything else.
//
// How Asterisk's UpdateConfig picks sections (main/manager.c handle_updates(), main/config.c
// ast_category_browse_filtered()): `Cat-NNNNNN: itsp` applies the action to EVERY non-template
// section named `itsp` (case-insensitive). For Update that is harmless when only one of them has the
// variable (ast_variable_update() fails quietly on the others), but Append would add the variable
// to the aor, the endpoint and the identify too — and Asterisk would then refuse to load those.
// So wanctl:
//   - finds the one section with the right `type` (a second one is an error: ambiguous);
//   - sends plain `Cat-` when no other section of that name is affected (what the recordings show);
//   - otherwise adds `Options-NNNNNN: catfilter="^type$=^registration$"`, the documented filter of
//     UpdateConfig (name_regex=value_regex pairs; quoted, because ast_strsep() splits the option at
//     '=' outside quotes), so that only the section whose own `type` matches is touched;
//   - sends every change for a file in ONE UpdateConfig (Asterisk applies all or none and writes
//     the file once), then reads the whole file back and checks that the asked changes are there
//     and that nothing else moved.

import type { AmiClient } from "../ami/client.js";
import { AmiActionError } from "../ami/errors.js";
import { PbxError } from "./errors.js";

export interface ConfigSection {
  /** Position in the file (GetConfig's Category-NNNNNN). */
  readonly index: number;
  readonly name: string;
  readonly template: boolean;
  readonly templates: readonly string[];
  /** `name=value` lines in order; names may repeat. */
  readonly variables: ReadonlyArray<readonly [string, string]>;
}

/** GetConfig of a whole file. A missing file is a `config` failure naming it. */
export async function readConfigFile(client: AmiClient, file: string, timeoutMs?: number): Promise<ConfigSection[]> {
  let response;
  try {
    response = await client.action("GetConfig", { Filename: file }, timeoutMs === undefined ? {} : { timeoutMs });
  } catch (error) {
    if (error instanceof AmiActionError && error.amiMessage === "Config file not found") {
      throw new PbxError("config", `${file} not found in Asterisk's config directory (GetConfig: Config file not found)`);
    }
    throw error;
  }
  const sections = new Map<number, { name: string; template: boolean; templates: string[]; variables: Array<[string, string]> }>();
  const get = (i: number) => {
    let s = sections.get(i);
    if (!s) sections.set(i, (s = { name: "", template: false, templates: [], variables: [] }));
    return s;
  };
  for (const [key, value] of response.fields) {
    let m = /^Category-(\d{6})$/.exec(key);
    if (m) {
      get(Number(m[1])).name = value;
      continue;
    }
    m = /^IsTemplate-(\d{6})$/.exec(key);
    if (m) {
      get(Number(m[1])).template = value.trim() === "1";
      continue;
    }
    m = /^Templates-(\d{6})$/.exec(key);
    if (m) {
      get(Number(m[1])).templates = value.split(",").map((t) => t.trim()).filter((t) => t !== "");
      continue;
    }
    m = /^Line-(\d{6})-\d{6}$/.exec(key);
    if (m) {
      const eq = value.indexOf("=");
      get(Number(m[1])).variables.push(eq === -1 ? [value, ""] : [value.slice(0, eq), value.slice(eq + 1)]);
    }
  }
  return [...sections.entries()].sort(([a], [b]) => a - b).map(([index, s]) => ({ index, ...s }));
}

/** Last value of `name` (as Asterisk reads a repeated option), or null. Case-insensitive. */
export function valueOf(section: ConfigSection, name: string): string | null {
  let found: string | null = null;
  for (const [k, v] of section.variables) if (k.toLowerCase() === name.toLowerCase()) found = v;
  return found;
}

export function valuesOf(section: ConfigSection, name: string): string[] {
  return section.variables.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** The section's `type`, its own or from a template it inherits. */
function typeOf(sections: readonly ConfigSection[], s: ConfigSection): { type: string | null; own: boolean } {
  const own = valueOf(s, "type");
  if (own !== null) return { type: own.trim(), own: true };
  for (const t of [...s.templates].reverse()) {
    const tmpl = sections.find((x) => x.template && x.name === t);
    const v = tmpl ? valueOf(tmpl, "type") : null;
    if (v !== null) return { type: v.trim(), own: false };
  }
  return { type: null, own: false };
}

export interface SectionRef {
  readonly section: ConfigSection;
  /** Other non-template sections of the same name (UpdateConfig's Cat- would reach them too). */
  readonly siblings: readonly ConfigSection[];
  /** The type is the section's own variable (a catfilter can find it). */
  readonly ownType: boolean;
}

/**
 * The one section `[name]` with `type=<type>` (`type` null: a section without type, e.g. chan_sip's
 * [general]). What is wrong is said plainly: "transport 'x' not found in pjsip.conf (sections named
 * 'x' there: aor, endpoint)".
 */
export function findSection(sections: readonly ConfigSection[], file: string, name: string, type: string | null, what: string): SectionRef {
  const named = sections.filter((s) => !s.template && sameName(s.name, name));
  const typed = named.filter((s) => {
    const t = typeOf(sections, s).type;
    return type === null ? true : t !== null && t.toLowerCase() === type.toLowerCase();
  });
  if (typed.length === 0) {
    const others = named.map((s) => typeOf(sections, s).type ?? "no type");
    const note = others.length ? ` (sections named '${name}' there: ${others.join(", ")})` : "";
    throw new PbxError("config", `${what} '${name}' not found in ${file}${note}`);
  }
  if (typed.length > 1) {
    throw new PbxError("config", `${what} '${name}' is ambiguous: ${file} has ${typed.length} sections [${name}]${type ? ` with type=${type}` : ""}; wanctl will not guess which one to change`);
  }
  const section = typed[0]!;
  return { section, siblings: named.filter((s) => s !== section), ownType: typeOf(sections, section).own };
}

/** Desired values for one section: a string to set, null to remove the variable. */
export interface SectionChange {
  readonly ref: SectionRef;
  /** For messages and the catfilter: `transport`, `registration`, or null ([general]). */
  readonly type: string | null;
  readonly values: Readonly<Record<string, string | null>>;
  /** Only for variables that repeat (`register`): change the one whose value is exactly this. */
  readonly match?: Readonly<Record<string, string>>;
}

export interface PlannedAction {
  readonly action: "Update" | "Append" | "Delete";
  readonly section: string;
  readonly variable: string;
  readonly value?: string;
  readonly match?: string;
  readonly catfilter?: string;
}

export interface ChangePlan {
  readonly actions: readonly PlannedAction[];
  /** Human-readable list of what changes (values shown; callers redact what needs it). */
  readonly summary: readonly string[];
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** What to send so that exactly these values change. Throws `config` when that cannot be done safely. */
export function planChanges(file: string, changes: readonly SectionChange[]): ChangePlan {
  const actions: PlannedAction[] = [];
  const summary: string[] = [];
  for (const change of changes) {
    const { section, siblings, ownType } = change.ref;
    for (const [variable, wanted] of Object.entries(change.values)) {
      const match = change.match?.[variable];
      const current = match !== undefined ? (valuesOf(section, variable).includes(match) ? match : null) : valueOf(section, variable);
      if (current === wanted) continue;
      if (match !== undefined && current === null) {
        throw new PbxError("config", `[${section.name}] of ${file} no longer has that ${variable} line; re-read and try again`);
      }
      const siblingHasVar = siblings.some((s) => valuesOf(s, variable).length > 0);
      let action: PlannedAction["action"];
      if (wanted === null) action = "Delete";
      else if (current === null) action = "Append";
      else action = "Update";
      const needsFilter = action === "Append" ? siblings.length > 0 : siblingHasVar;
      let catfilter: string | undefined;
      if (needsFilter) {
        if (change.type === null || !ownType) {
          throw new PbxError(
            "config",
            `cannot change ${variable} of [${section.name}] in ${file} safely: other sections are named '${section.name}' too and this one has no type= of its own to tell it apart; give it a unique name`,
          );
        }
        catfilter = `"^type$=^${escapeRegex(change.type)}$"`;
      }
      actions.push({
        action,
        section: section.name,
        variable,
        ...(wanted !== null ? { value: wanted } : {}),
        ...(match !== undefined ? { match } : {}),
        ...(catfilter !== undefined ? { catfilter } : {}),
      });
      summary.push(`[${section.name}] ${variable}: ${current ?? "(absent)"} → ${wanted ?? "(absent)"}`);
    }
  }
  return { actions, summary };
}

/** UpdateConfig fields for a plan: six-digit indexes from 000000, contiguous. */
export function updateConfigFields(file: string, plan: ChangePlan): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ["SrcFilename", file],
    ["DstFilename", file],
  ];
  plan.actions.forEach((a, i) => {
    const n = String(i).padStart(6, "0");
    fields.push([`Action-${n}`, a.action], [`Cat-${n}`, a.section], [`Var-${n}`, a.variable]);
    if (a.value !== undefined) fields.push([`Value-${n}`, a.value]);
    if (a.match !== undefined) fields.push([`Match-${n}`, a.match]);
    if (a.catfilter !== undefined) fields.push([`Options-${n}`, `catfilter=${a.catfilter}`]);
  });
  return fields;
}

/**
 * After UpdateConfig: the asked values are there, and every other section and variable is as it
 * was. Returns problems (empty = good). `redact` hides values in messages (register lines).
 */
export function verifyChanges(
  before: readonly ConfigSection[],
  after: readonly ConfigSection[],
  changes: readonly SectionChange[],
  redact: (variable: string, value: string) => string = (_v, value) => value,
): string[] {
  const problems: string[] = [];
  const touched = new Map<number, Set<string>>();
  for (const c of changes) {
    const names = touched.get(c.ref.section.index) ?? new Set<string>();
    for (const k of Object.keys(c.values)) names.add(k.toLowerCase());
    touched.set(c.ref.section.index, names);
  }
  if (before.length !== after.length) problems.push(`the file has ${after.length} sections now, ${before.length} before`);
  const shape = (s: ConfigSection, skip: Set<string> | undefined): string =>
    JSON.stringify([s.name.toLowerCase(), s.template, s.templates, s.variables.filter(([k]) => !skip?.has(k.toLowerCase()))]);
  for (let i = 0; i < Math.min(before.length, after.length); i++) {
    const b = before[i]!;
    const a = after[i]!;
    const skip = touched.get(b.index);
    if (shape(b, skip) !== shape(a, skip)) problems.push(`section #${i} [${b.name}] changed beyond what was asked`);
  }
  for (const c of changes) {
    const a = after.find((s) => s.index === c.ref.section.index);
    if (!a) continue;
    for (const [variable, wanted] of Object.entries(c.values)) {
      const match = c.match?.[variable];
      const values = valuesOf(a, variable);
      const ok = wanted === null ? (match !== undefined ? !values.includes(match) : values.length === 0) : match !== undefined ? values.includes(wanted) : valueOf(a, variable) === wanted;
      if (!ok) problems.push(`[${a.name}] ${variable} is ${values.length ? values.map((v) => redact(variable, v)).join(", ") : "(absent)"}, expected ${wanted === null ? "(absent)" : redact(variable, wanted)}`);
    }
  }
  return problems;
}

/** Send one UpdateConfig with every planned action, then re-read and verify. Returns the file after. */
export async function applyChanges(
  client: AmiClient,
  file: string,
  before: readonly ConfigSection[],
  changes: readonly SectionChange[],
  plan: ChangePlan,
  options: { timeoutMs?: number; redact?: (variable: string, value: string) => string } = {},
): Promise<ConfigSection[]> {
  const t = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  await client.action("UpdateConfig", updateConfigFields(file, plan), t);
  const after = await readConfigFile(client, file, options.timeoutMs);
  const problems = verifyChanges(before, after, changes, options.redact);
  if (problems.length) {
    throw new PbxError("verify", `UpdateConfig of ${file} did not give the expected result (${problems.join("; ")}); check the file by hand`);
  }
  return after;
}
