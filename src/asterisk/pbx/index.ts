// The PBX adapter: import from here.
//
//   const office = createOfficePbx(config.asterisk, { logger }); // every driver wanctl manages (office.ts)
//   const { drivers } = (await office.managed()).data!;          // each a Pbx, as below
//
//   const pbx = createPbx(config.asterisk, { logger });          // one driver
//   // once the route and the conntrack flush are done, to the backup link:
//   const moved = await pbx.moveTo("203.0.113.10", { shortExpirySeconds: 120, keepOriginals: saved,
//                                                     onSaved: (originals) => persist(originals) });
//   saved = moved.data?.trunks.saved;                                  // keep until failback
//   ...
//   const back = await pbx.moveTo(primaryPublicIp, { restore: saved }); // on failback
//   if (back.ok) saved = undefined;

import { type AsteriskConfig, configuredDrivers } from "../../config/schema/asterisk.js";
import { readSecret } from "../../config/secrets.js";
import type { PbxOptions } from "./base.js";
import { ChanSipPbx } from "./chan-sip.js";
import { OfficePbx } from "./office.js";
import { PbxError } from "./errors.js";
import { PjsipPbx } from "./pjsip.js";
import type { Pbx, PbxDriver } from "./types.js";

export type { PbxOptions } from "./base.js";
export { ariInfo, ariReloadModule, AriError, type AriInfo, type AriSettings } from "./ari.js";
export { ChanSipPbx, parseRegisterLine, redactRegisterLine, withExpiry } from "./chan-sip.js";
export { PjsipPbx } from "./pjsip.js";
export { OfficePbx, type ManagedDrivers } from "./office.js";
export { PbxError, describeFailure } from "./errors.js";
export { findSection, planChanges, readConfigFile, updateConfigFields, verifyChanges, type ConfigSection } from "./config-file.js";
export type * from "./types.js";

type CreateOptions = Partial<PbxOptions> & { env?: NodeJS.ProcessEnv };

/**
 * The adapter of one channel driver: `driver`, or the one the config names. Reads the AMI secret
 * (and the ARI password) now: a secret that cannot be read throws a SecretError naming the config
 * path, at start-up rather than in the middle of a failover. Nothing connects until the first operation.
 */
export function createPbx(config: AsteriskConfig, options: CreateOptions = {}, driver?: PbxDriver): Pbx {
  const named = configuredDrivers(config);
  const chosen = driver ?? (named !== "auto" && named.length === 1 ? named[0]! : undefined);
  if (!chosen) throw new PbxError("config", `createPbx: channelDriver ${JSON.stringify(config.channelDriver)} is not one driver; use createOfficePbx`);
  const full = pbxOptions(config, options);
  return chosen === "chan_sip" ? new ChanSipPbx(config, full) : new PjsipPbx(config, full);
}

/** Every driver wanctl manages on the PBX: those the config names, or with "auto" both, to be found in use at run time. */
export function createOfficePbx(config: AsteriskConfig, options: CreateOptions = {}): OfficePbx {
  const named = configuredDrivers(config);
  const full = pbxOptions(config, options);
  const drivers: readonly PbxDriver[] = named === "auto" ? ["pjsip", "chan_sip"] : named;
  return new OfficePbx(
    drivers.map((d) => createPbx(config, full, d)),
    named === "auto",
  );
}

function pbxOptions(config: AsteriskConfig, options: CreateOptions): PbxOptions {
  const { env, ...rest } = options;
  const secret = rest.secret ?? readSecret(config.ami.secret, "asterisk.ami.secret", env);
  const ariPassword = rest.ariPassword ?? (config.ari ? readSecret(config.ari.password, "asterisk.ari.password", env) : undefined);
  return { ...rest, secret, ...(ariPassword !== undefined ? { ariPassword } : {}) };
}
