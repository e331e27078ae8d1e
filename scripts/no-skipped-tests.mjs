// Fails when the vitest JSON report holds skipped or todo tests: in CI every test must run.
import { readFileSync } from "node:fs";

const report = JSON.parse(readFileSync(process.argv[2], "utf8"));
const notRun = [];
for (const file of report.testResults ?? []) {
  for (const t of file.assertionResults ?? []) {
    if (t.status !== "passed" && t.status !== "failed") notRun.push(`${t.status}: ${file.name.replace(process.cwd() + "/", "")} > ${t.fullName}`);
  }
}
if (report.numTotalTests === 0) notRun.push("no tests ran at all");
if (notRun.length) {
  console.error(`${notRun.length} test(s) did not run (CI needs every test, lab tests included):\n  ${notRun.join("\n  ")}`);
  process.exit(1);
}
console.log(`all ${report.numTotalTests} tests ran`);
