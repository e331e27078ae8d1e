// Runs wanctl's public-IP and DDNS functions inside a lab node (the office gateway), from the
// build: `node dist/test/ddns/office-driver.js '<json>'` prints one JSON result line. The lab tests
// use it because the test runner itself lives outside the lab's namespaces.
import type { LinkConfig } from "../../src/config/schema/links.js";
import type { DnsConfig } from "../../src/config/schema/dns.js";
import type { PlanLink } from "../../src/ddns/plan.js";
import { updateAllRecords, type DdnsAlert, type UpdateOptions } from "../../src/ddns/updater.js";
import { publicAddresses, type PublicIpOptions } from "../../src/wan/public-ip/index.js";
import type { LinkBinding } from "../../src/wan/probes/types.js";

export type DriverInput =
  | { op: "publicAddresses"; config: { links: LinkConfig[] }; bindings: LinkBinding[]; options?: PublicIpOptions }
  | {
      op: "updateAllRecords";
      config: { dns: DnsConfig; links?: PlanLink[] };
      /** The active link and the links' addresses (OfficeAddresses, with objects for maps). */
      office: { active: string; addresses: Record<string, string>; unknown?: Record<string, string> };
      options: Omit<UpdateOptions, "onAlert" | "onVerified" | "providers" | "now" | "random" | "signal">;
    };

async function main(input: DriverInput): Promise<unknown> {
  if (input.op === "publicAddresses") return publicAddresses(input.config, input.bindings, input.options ?? {});
  const alerts: DdnsAlert[] = [];
  const office = { active: input.office.active, addresses: new Map(Object.entries(input.office.addresses)), unknown: new Map(Object.entries(input.office.unknown ?? {})) };
  const results = await updateAllRecords(input.config, office, { ...input.options, onAlert: (a) => alerts.push(a) });
  return { results, alerts };
}

main(JSON.parse(process.argv[2] ?? "{}") as DriverInput).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
