// The network lab's public API. The demo and lab tests import from here; vitest helpers
// (describeLab, useLab) are in ./vitest.js so that this module never pulls in vitest.
//
//   const lab = createLab();            // names only; nothing exists yet
//   await lab.up();                     // office (default via wan1), isp1, isp2, inet, pbx
//   await lab.enableLinkProbes();       // per-link tables: `ping -I wan2` / bind(100.64.0.2) leave via wan2
//   await lab.cut("wan2"); await lab.heal("wan2");
//   await lab.impair("wan1", { lossPct: 20 }); await lab.clear("wan1");
//   await lab.setDefaultRoute("wan2");
//   const r = await lab.exec("office", ["ip", "route"]);
//   const p = lab.spawn("inet", ["named", "-g", ...]); await p.stop();
//   await lab.down();                   // always; also happens on exit/SIGINT/SIGTERM
export { ADDRESSES, LINK_PLAN, LINKS, SERVICES, type LabAddresses, type LinkId, type LinkPlan } from "./addresses.js";
export { labAvailability, type Availability } from "./availability.js";
export { askPublicAddress, askSource, ECHO_PORT, startEchoServer, type AskOptions, type EchoRequest, type EchoServer } from "./echo.js";
export { NetemUnavailableError, type Impairment, type LabCapabilities } from "./impair.js";
export {
  createLab,
  runScriptOnLab,
  type Lab,
  type LabDescription,
  type LabOptions,
  type LabProcess,
  type LabState,
  type SpawnOptions,
} from "./lab.js";
export { IFACES, type LabNames, type LabNode } from "./names.js";
export { listNamespaces } from "./netns.js";
export { LAB_RUN_DIR, sweepLabs, type SweepResult } from "./ownership.js";
export type { PingOptions, PingResult } from "./ping.js";
export { CommandError, type ExecOptions, type ExecResult } from "./proc.js";
