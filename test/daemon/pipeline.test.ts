import { describe, expect, test } from "vitest";
import { runPipeline, type PipelineStep } from "../../src/daemon/pipeline.js";

interface Ctx {
  log: string[];
  address?: string;
}

const step = (name: string, needs: string[], work: (ctx: Ctx) => Promise<string>, timeoutMs = 1000): PipelineStep<Ctx> => ({ name, needs, timeoutMs, run: work });

describe("failover pipeline", () => {
  test("passes results along and runs independent steps side by side", async () => {
    let release!: () => void;
    const dnsBlocked = new Promise<void>((resolve) => (release = resolve));
    const ctx: Ctx = { log: [] };
    const results = await runPipeline(
      [
        step("route", [], async (c) => (c.log.push("route"), "ok")),
        step("public-ip", ["route"], async (c) => ((c.address = "203.0.113.10"), "203.0.113.10")),
        step("dns", ["public-ip"], async (c) => (await dnsBlocked, c.log.push("dns"), `dns ${c.address}`)),
        step("asterisk", ["public-ip"], async (c) => (c.log.push("asterisk"), release(), `asterisk ${c.address}`)),
      ],
      ctx,
    );
    // asterisk ran while dns waited: dns could only finish after asterisk released it.
    expect(ctx.log).toEqual(["route", "asterisk", "dns"]);
    expect(results.map((r) => [r.step, r.ok, r.detail])).toEqual([
      ["route", true, "ok"],
      ["public-ip", true, "203.0.113.10"],
      ["dns", true, "dns 203.0.113.10"],
      ["asterisk", true, "asterisk 203.0.113.10"],
    ]);
  });

  test("a failed step skips only what needs it", async () => {
    const results = await runPipeline(
      [
        step("route", [], async () => "ok"),
        step("public-ip", ["route"], async () => {
          throw new Error("no STUN answer");
        }),
        step("dns", ["public-ip"], async () => "updated"),
        step("trunks", ["route"], async () => "registered"),
      ],
      { log: [] },
    );
    expect(results.map((r) => [r.step, r.ok, r.detail])).toEqual([
      ["route", true, "ok"],
      ["public-ip", false, "no STUN answer"],
      ["dns", false, "skipped: public-ip failed"],
      ["trunks", true, "registered"],
    ]);
    expect(results[2]!.skipped).toBe(true);
  });

  test("a step that hangs is cut off at its timeout and the rest goes on", async () => {
    const results = await runPipeline(
      [step("dns", [], () => new Promise<string>(() => undefined), 20), step("asterisk", [], async () => "done")],
      { log: [] },
    );
    expect(results[0]).toMatchObject({ step: "dns", ok: false, detail: "did not finish within 20 ms" });
    expect(results[1]).toMatchObject({ step: "asterisk", ok: true });
  });

  test("a step may only need an earlier step", async () => {
    await expect(runPipeline([step("a", ["b"], async () => ""), step("b", [], async () => "")], { log: [] })).rejects.toThrow("a must come after b");
    await expect(runPipeline([step("a", ["zzz"], async () => "")], { log: [] })).rejects.toThrow("needs unknown step zzz");
  });
});
