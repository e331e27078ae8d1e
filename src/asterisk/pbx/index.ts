// The PBX adapter: import from here.
//
//   const pbx = createPbx(config.asterisk, { logger });
//   // once the route and the conntrack flush are done, to the backup link:
//   const moved = await pbx.moveTo("203.0.113.10", { shortExpirySeconds: 120, keepOriginals: saved,
//                                                     onSaved: (originals) => persist(originals) });
//   saved = moved.data?.trunks.saved;                                  // keep until failback
//   ...
//   const back = await pbx.moveTo(primaryPublicIp, { restore: saved }); // on failback
//   if (back.ok) saved = undefined;

import type { AsteriskConfig } from "../../config/schema/asterisk.js";
import { readSecret } from "../../config/secrets.js";
import type { PbxOptions } from "./base.js";
import { ChanSipPbx } from "./chan-sip.js";
import { PjsipPbx } from "./pjsip.js";
import type { Pbx } from "./types.js";

export type { PbxOptions } from "./base.js";
export { ariInfo, ariReloadModule, AriError, type AriInfo, type AriSettings } from "./ari.js";
export { ChanSipPbx, parseRegisterLine, redactRegisterLine, withExpiry } from "./chan-sip.js";
export { PjsipPbx } from "./pjsip.js";
export { PbxError, describeFailure } from "./errors.js";
export { findSection, planChanges, readConfigFile, updateConfigFields, verifyChanges, type ConfigSection } from "./config-file.js";
export type * from "./types.js";

/**
 * The adapter for the configured channel driver. Reads the AMI secret (and the ARI password) now:
 * a secret that cannot be read throws a SecretError naming the config path, at start-up rather
 * than in the middle of a failover. Nothing connects until the first operation.
 */
export function createPbx(config: AsteriskConfig, options: Partial<PbxOptions> & { env?: NodeJS.ProcessEnv } = {}): Pbx {
  const { env, ...rest } = options;
  const secret = rest.secret ?? readSecret(config.ami.secret, "asterisk.ami.secret", env);
  const ariPassword = rest.ariPassword ?? (config.ari ? readSecret(config.ari.password, "asterisk.ari.password", env) : undefined);
  const full: PbxOptions = { ...rest, secret, ...(ariPassword !== undefined ? { ariPassword } : {}) };
  return config.channelDriver === "chan_sip" ? new ChanSipPbx(config, full) : new PjsipPbx(config, full);
}
