// Writes schema/wanctl.schema.json from the zod schema; a test keeps the committed file in step.
import { writeFileSync } from "node:fs";
import { configJsonSchema } from "../src/config/json-schema.js";

const target = process.argv[2] ?? "schema/wanctl.schema.json";
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
