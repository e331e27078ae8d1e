// The command runner's errors: a missing binary is told apart from one that ran and failed (the
// conntrack flush falls back to conntrack -D only for the first).
import { expect, test } from "vitest";
import { CommandError, commandRunner } from "../../src/system/command.js";

test("a binary that is not installed: notFound, named with its Debian package when known", async () => {
  const error = await commandRunner()(["wanctl-no-such-binary", "-x"]).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CommandError);
  expect((error as CommandError).notFound).toBe(true);
  expect((error as CommandError).message).toBe("wanctl-no-such-binary not found");
});

test("a binary that ran and failed: not notFound, with its exit code and stderr", async () => {
  const error = await commandRunner()(["sh", "-c", "echo nope >&2; exit 3"]).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CommandError);
  expect((error as CommandError).notFound).toBe(false);
  expect((error as CommandError).exitCode).toBe(3);
  expect((error as CommandError).stderr).toBe("nope\n");
});
