// The adapter's UpdateConfig planning (src/asterisk/pbx/config-file.ts): which action, when a
// catfilter is needed, what is refused — and, run through the simulator's copy of manager.c's
// handle_updates(), that the plan changes exactly the asked variables and nothing else.

import { describe, expect, it } from "vitest";

import { type ConfigSection, findSection, planChanges, type SectionChange, updateConfigFields, verifyChanges } from "../../src/asterisk/pbx/config-file.js";
import { ClientAction } from "./sim/ami-wire.js";
import { type ConfCategory, parseConf, strsep } from "./sim/conf.js";
import { handleUpdates } from "./sim/pbx-sim.js";

const PJSIP = `
[transport-udp]
type = transport
protocol = udp
bind = 0.0.0.0:5060

[itsp]
type = registration
server_uri = sip:192.0.2.60:5060
client_uri = sip:office@192.0.2.60

[itsp]
type = aor
contact = sip:192.0.2.60:5060

[itsp]
type = endpoint
aors = itsp

[reg-defaults](!)
type = registration
expiration = 600

[other](reg-defaults)
server_uri = sip:192.0.2.61
`;

/** What GetConfig would hand the adapter for this text. */
function view(text: string): ConfigSection[] {
  return parseConf(text).map((c, index) => ({ index, name: c.name, template: c.template, templates: c.inherits, variables: c.variables.map((v) => [v.name, v.value] as const) }));
}

/** Apply an adapter plan the way Asterisk does (the simulator's handle_updates), return the new view. */
function applyLikeAsterisk(text: string, fields: Array<[string, string]>): { error: string | undefined; after: ConfCategory[] } {
  const cats = parseConf(text);
  const error = handleUpdates(new ClientAction(fields), cats);
  return { error, after: cats };
}

describe("findSection", () => {
  it("picks the section by name and type among same-named ones, and lists the siblings", () => {
    const ref = findSection(view(PJSIP), "pjsip.conf", "itsp", "registration", "registration");
    expect(ref.section.variables[0]).toEqual(["type", "registration"]);
    expect(ref.siblings.map((s) => s.variables[0]![1])).toEqual(["aor", "endpoint"]);
    expect(ref.ownType).toBe(true);
  });

  it("says what is there when the type is missing", () => {
    expect(() => findSection(view(PJSIP), "pjsip.conf", "itsp", "transport", "transport")).toThrow(
      "transport 'itsp' not found in pjsip.conf (sections named 'itsp' there: registration, aor, endpoint)",
    );
    expect(() => findSection(view(PJSIP), "pjsip.conf", "nope", "transport", "transport")).toThrow("transport 'nope' not found in pjsip.conf");
  });

  it("refuses to guess between two sections of one name and type", () => {
    expect(() => findSection(view(`${PJSIP}\n[itsp]\ntype = registration\n`), "pjsip.conf", "itsp", "registration", "registration")).toThrow(
      "registration 'itsp' is ambiguous: pjsip.conf has 2 sections [itsp] with type=registration; wanctl will not guess which one to change",
    );
  });

  it("finds a type inherited from a template (and never the template itself)", () => {
    const ref = findSection(view(PJSIP), "pjsip.conf", "other", "registration", "registration");
    expect(ref.ownType).toBe(false);
    expect(() => findSection(view(PJSIP), "pjsip.conf", "reg-defaults", "registration", "registration")).toThrow("not found");
  });
});

describe("planChanges + Asterisk's handle_updates", () => {
  it("Append on a shared name goes with a catfilter and lands in the registration only", () => {
    const sections = view(PJSIP);
    const ref = findSection(sections, "pjsip.conf", "itsp", "registration", "registration");
    const changes = [{ ref, type: "registration", values: { expiration: "120", max_random_initial_delay: "0" } }];
    const plan = planChanges("pjsip.conf", changes);
    expect(plan.actions).toEqual([
      { action: "Append", section: "itsp", variable: "expiration", value: "120", catfilter: '"^type$=^registration$"' },
      { action: "Append", section: "itsp", variable: "max_random_initial_delay", value: "0", catfilter: '"^type$=^registration$"' },
    ]);
    const fields = updateConfigFields("pjsip.conf", plan);
    expect(fields).toContainEqual(["Options-000000", 'catfilter="^type$=^registration$"']);
    // ast_strsep() keeps the quoted '=' together and strips the quotes.
    expect(strsep('catfilter="^type$=^registration$"', "=")).toEqual(["catfilter", "^type$=^registration$"]);
    const { error, after } = applyLikeAsterisk(PJSIP, fields);
    expect(error).toBeUndefined();
    const afterView = after.map((c, index) => ({ index, name: c.name, template: c.template, templates: c.inherits, variables: c.variables.map((v) => [v.name, v.value] as const) }));
    expect(verifyChanges(sections, afterView, changes)).toEqual([]);
    expect(after.filter((c) => c.name === "itsp").map((c) => c.variables.some((v) => v.name === "expiration"))).toEqual([true, false, false]);
  });

  it("without the catfilter Asterisk would have added it to all three [itsp] — which verifyChanges catches", () => {
    const sections = view(PJSIP);
    const ref = findSection(sections, "pjsip.conf", "itsp", "registration", "registration");
    const changes = [{ ref, type: "registration", values: { expiration: "120" } }];
    const plan = planChanges("pjsip.conf", changes);
    const naive = updateConfigFields("pjsip.conf", { ...plan, actions: plan.actions.map(({ catfilter: _c, ...a }) => a) });
    const { after } = applyLikeAsterisk(PJSIP, naive);
    const afterView = after.map((c, index) => ({ index, name: c.name, template: c.template, templates: c.inherits, variables: c.variables.map((v) => [v.name, v.value] as const) }));
    expect(verifyChanges(sections, afterView, changes)).toEqual(["section #2 [itsp] changed beyond what was asked", "section #3 [itsp] changed beyond what was asked"]);
  });

  it("Update of a variable only the target has needs no catfilter (as recorded); Delete restores absence", () => {
    const text = PJSIP.replace("client_uri = sip:office@192.0.2.60", "client_uri = sip:office@192.0.2.60\nexpiration = 3600");
    const sections = view(text);
    const ref = findSection(sections, "pjsip.conf", "itsp", "registration", "registration");
    const plan = planChanges("pjsip.conf", [{ ref, type: "registration", values: { expiration: "120", max_random_initial_delay: null } }]);
    expect(plan.actions).toEqual([{ action: "Update", section: "itsp", variable: "expiration", value: "120" }]);
    expect(updateConfigFields("pjsip.conf", plan)).toEqual([
      ["SrcFilename", "pjsip.conf"],
      ["DstFilename", "pjsip.conf"],
      ["Action-000000", "Update"],
      ["Cat-000000", "itsp"],
      ["Var-000000", "expiration"],
      ["Value-000000", "120"],
    ]);
    const del = planChanges("pjsip.conf", [{ ref, type: "registration", values: { expiration: null } }]);
    expect(del.actions).toEqual([{ action: "Delete", section: "itsp", variable: "expiration" }]);
    expect(applyLikeAsterisk(text, updateConfigFields("pjsip.conf", del)).error).toBeUndefined();
  });

  it("two changes to one section (externip and a register line of a move) are verified together", () => {
    const text = "[general]\nexternip = 198.51.100.10\nregister => a:pw1@192.0.2.60/a~3600\n";
    const sections = view(text);
    const ref = findSection(sections, "sip.conf", "general", null, "section");
    const changes: SectionChange[] = [
      { ref, type: null, values: { externip: "203.0.113.10" } },
      { ref, type: null, values: { register: "a:pw1@192.0.2.60/a~120" }, match: { register: "a:pw1@192.0.2.60/a~3600" } },
    ];
    const { error, after } = applyLikeAsterisk(text, updateConfigFields("sip.conf", planChanges("sip.conf", changes)));
    expect(error).toBeUndefined();
    const afterView = after.map((c, index) => ({ index, name: c.name, template: c.template, templates: c.inherits, variables: c.variables.map((v) => [v.name, v.value] as const) }));
    expect(verifyChanges(sections, afterView, changes)).toEqual([]);
  });

  it("nothing to do when the values are already there", () => {
    const ref = findSection(view(PJSIP), "pjsip.conf", "transport-udp", "transport", "transport");
    expect(planChanges("pjsip.conf", [{ ref, type: "transport", values: { protocol: "udp" } }]).actions).toEqual([]);
  });

  it("refuses when a filter is needed but the section's type comes only from a template", () => {
    const text = `${PJSIP}\n[other]\ntype = aor\n`;
    const ref = findSection(view(text), "pjsip.conf", "other", "registration", "registration");
    expect(() => planChanges("pjsip.conf", [{ ref, type: "registration", values: { expiration: "120" } }])).toThrow(
      "cannot change expiration of [other] in pjsip.conf safely: other sections are named 'other' too and this one has no type= of its own to tell it apart; give it a unique name",
    );
  });

  it("a chan_sip register line is changed by Match- on the whole old line", () => {
    const text = "[general]\nexternip = 198.51.100.10\nregister => a:pw1@192.0.2.60/a~3600\nregister => b:pw2@192.0.2.61/b~3600\n";
    const sections = view(text);
    const ref = findSection(sections, "sip.conf", "general", null, "section");
    const changes = [{ ref, type: null, values: { register: "b:pw2@192.0.2.61/b~120" }, match: { register: "b:pw2@192.0.2.61/b~3600" } }];
    const plan = planChanges("sip.conf", changes);
    expect(plan.actions).toEqual([{ action: "Update", section: "general", variable: "register", value: "b:pw2@192.0.2.61/b~120", match: "b:pw2@192.0.2.61/b~3600" }]);
    const { error, after } = applyLikeAsterisk(text, updateConfigFields("sip.conf", plan));
    expect(error).toBeUndefined();
    expect(after[0]!.variables.filter((v) => v.name === "register").map((v) => v.value)).toEqual(["a:pw1@192.0.2.60/a~3600", "b:pw2@192.0.2.61/b~120"]);
  });
});
