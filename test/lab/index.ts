// The lab's public API (the demo and lab tests import from here; vitest helpers are in ./vitest.js).
export { ADDRESSES, LINK_PLAN, LINKS, SERVICES, type LabAddresses, type LinkId, type LinkPlan } from "./addresses.js";
export { labAvailability, type Availability } from "./availability.js";
export { askPublicAddress, askSource, ECHO_PORT, startEchoServer, type AskOptions, type EchoRequest, type EchoServer } from "./echo.js";
export { NetemUnavailableError, type Impairment, type LabCapabilities } from "./impair.js";
export {
  createLab,
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
