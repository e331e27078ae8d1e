// Runs the CLI in-process and captures what a user would see.
import { runCli } from "../../src/cli/program.js";

export async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    out: (text) => void (stdout += text.endsWith("\n") ? text : `${text}\n`),
    err: (text) => void (stderr += text.endsWith("\n") ? text : `${text}\n`),
    env,
  });
  return { code, stdout, stderr };
}
