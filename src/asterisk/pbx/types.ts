// The PBX adapter's public types: one interface (`Pbx`) for PJSIP and chan_sip, results that never
// throw, and the saved settings the daemon keeps in its state file to put things back.
//
// Everything here is plain JSON (no Dates, no Maps) so that results go into the FailoverReport and
// saved settings into the state file as they are. Nothing here ever holds a secret: chan_sip's
// `register =>` lines (which carry the trunk password) are identified by `user@host:port/extension`.

export type PbxDriver = "pjsip" | "chan_sip";

/** Why a step failed, for the daemon's retry policy and for metrics. */
export type PbxFailureKind =
  /** TCP connect, banner or a dropped connection: Asterisk down or unreachable. Retry. */
  | "connect"
  /** The manager user/secret was refused (or its ACL denies us). Retrying helps once the config is fixed. */
  | "login"
  /** An AMI action got no answer in time. Retry. */
  | "timeout"
  /** Asterisk answered `Response: Error` (message in the detail), e.g. Permission denied. */
  | "refused"
  /** The config file lacks what wanctl's config names (a transport, a registration, [general]). */
  | "config"
  /** The change was written but Asterisk does not show it live, or the file changed more than asked. */
  | "verify"
  /** One or more trunks did not reach `Registered` in time (see the trunk reports). */
  | "register"
  /** The step exceeded its overall time limit. */
  | "deadline";

export interface PbxFailure {
  readonly kind: PbxFailureKind;
  readonly message: string;
}

/** The outcome of one adapter operation. Operations never throw; `detail` is one log/alert line. */
export interface PbxResult<D> {
  readonly ok: boolean;
  readonly durationMs: number;
  /** What was done, or what failed and where (AMI host:port, file, section). Never a secret. */
  readonly detail: string;
  /** Present on success and, where something was already done, on failure too (see each operation). */
  readonly data?: D;
  readonly error?: PbxFailure;
}

// --- external address -------------------------------------------------------------------------------

/** Values of the external-address variables before a change; null = the variable was absent. */
export type SavedExternalAddress =
  | {
      readonly driver: "pjsip";
      readonly file: string;
      /** Per transport section: external_media_address and external_signaling_address. */
      readonly transports: Readonly<Record<string, { readonly external_media_address: string | null; readonly external_signaling_address: string | null }>>;
    }
  | {
      readonly driver: "chan_sip";
      readonly file: string;
      /** [general] externip and externaddr (chan_sip accepts either). */
      readonly general: { readonly externip: string | null; readonly externaddr: string | null };
    };

export interface ExternalAddressTarget {
  /** Transport name (PJSIP) or `general` (chan_sip). */
  readonly name: string;
  /** Values in the file before the call (null = absent). */
  readonly before: Readonly<Record<string, string | null>>;
  /** Values Asterisk shows live after the call (`pjsip show transport`, `sip show settings`). */
  readonly live: Readonly<Record<string, string | null>>;
}

export interface ExternalAddressData {
  /** The address asked for ("" when restoring an absent value). */
  readonly address: string;
  /** The config file had to be changed (false: it already held the address). */
  readonly fileChanged: boolean;
  /** A reload was sent (res_pjsip.so, or `sip reload`). */
  readonly reloaded: boolean;
  readonly targets: readonly ExternalAddressTarget[];
  /** The previous values: what restoreExternalAddress() takes. */
  readonly saved: SavedExternalAddress;
}

// --- trunks ------------------------------------------------------------------------------------------

/** Registration settings before wanctl shortened them; null = the variable was absent (Asterisk's default). */
export type SavedTrunkSettings =
  | {
      readonly driver: "pjsip";
      readonly file: string;
      readonly registrations: Readonly<Record<string, { readonly expiration: string | null; readonly max_random_initial_delay: string | null }>>;
    }
  | {
      readonly driver: "chan_sip";
      readonly file: string;
      /** Per `register =>` line, by `user@host:port/extension` (no secret): its `~expiry`, or null if it had none. */
      readonly registers: ReadonlyArray<{ readonly key: string; readonly expiry: string | null }>;
    };

export type TrunkStatus = "Registered" | "Rejected" | "Unregistered" | "Timeout" | "Unknown";

export interface TrunkReport {
  /** Registration name (PJSIP) or `user@host:port/extension` (chan_sip). */
  readonly name: string;
  readonly ok: boolean;
  /** Last status seen: a Registry event, or the registration list at the end. */
  readonly status: TrunkStatus;
  /** From the start of the operation to the `Registered` event (or to giving up). */
  readonly durationMs: number;
  /** Expiry Asterisk lists afterwards (PJSIP Expiration; chan_sip: the line's ~expiry), if known. */
  readonly expirySeconds: number | null;
  readonly detail: string;
  /**
   * Still not Registered when the time ran out (whatever the last status: Asterisk shows a REGISTER
   * that got no answer as Rejected too), as opposed to a failure before any REGISTER could leave.
   */
  readonly timedOut?: boolean;
}

export interface TrunksData {
  readonly trunks: readonly TrunkReport[];
  /** The config file was changed (expiry shortened or put back). */
  readonly fileChanged: boolean;
  /** The settings the file had before this call changed them. */
  readonly saved: SavedTrunkSettings;
}

export interface RegisterTrunksOptions {
  /** Shorten every managed trunk's expiry to this (and its initial random delay to 0); omit to re-register as is. */
  readonly shortExpirySeconds?: number;
}

/** A trunk as Asterisk runs it now. */
export interface LiveTrunk {
  readonly name: string;
  readonly status: TrunkStatus;
  /** PJSIP: the Expiration it runs (null when not listed); chan_sip: the line's ~expiry. */
  readonly expiration: string | null;
  /** PJSIP only: the MaxRandomInitialDelay it runs. */
  readonly maxRandomInitialDelay?: string | null;
}

/** The external address each managed transport (PJSIP) or chan_sip's [general] runs now. */
export interface LiveAddressData {
  readonly targets: readonly { readonly name: string; readonly media: string | null; readonly signaling: string | null }[];
}

export interface TrunkSettingsData {
  /** The managed trunks' settings as the config file has them (what a restore would put back). */
  readonly settings: SavedTrunkSettings;
  /** Each managed trunk as Asterisk runs it. */
  readonly live: readonly LiveTrunk[];
}

// --- the whole move -------------------------------------------------------------------------------------

export interface MoveOptions {
  /** On a backup link: every managed trunk's expiry becomes this (and its initial random delay 0). */
  readonly shortExpirySeconds?: number;
  /** Back on the primary link: the trunks' own settings are put back. */
  readonly restore?: SavedTrunkSettings;
  /**
   * The route moved on a router that wanctl only follows, whose NAT may still map the trunks' flow
   * to the link it left: each trunk's endpoint sends one OPTIONS first (PJSIP), so that the packet
   * that meets that mapping is not the un-REGISTER.
   */
  readonly primeFirst?: boolean;
}

/** One half of a move, for a report that shows the address and the trunks apart. */
export interface MovePart {
  readonly ok: boolean;
  readonly detail: string;
}

export interface MoveData {
  readonly address: ExternalAddressData;
  readonly trunks: TrunksData;
  /** The address is live (when not, the trunks were not registered again). */
  readonly addressPart: MovePart;
  readonly trunksPart: MovePart;
  /**
   * Trunks whose binding at the old address was removed first (PJSIP: an un-REGISTER with the old
   * Contact, sent through the new link before the address changed). chan_sip cannot: its old
   * binding stays until it expires at the ITSP.
   */
  readonly unregistered: readonly string[];
}

// --- which drivers -------------------------------------------------------------------------------------

/** What a driver's `inUse()` found: whether Asterisk runs it, and whether wanctl has anything to manage in it. */
export interface DriverUse {
  /** AMI `ModuleCheck` of its module (res_pjsip.so, chan_sip.so) answered Success. */
  readonly loaded: boolean;
  /** Loaded, with trunks or an external address wanctl manages. */
  readonly manage: boolean;
}

// --- calls and health ----------------------------------------------------------------------------------

export interface ActiveCallsData {
  /**
   * Calls: channels grouped by Linkedid. A call is one group however many legs it has: a bridged
   * inbound + outbound PJSIP pair, or a Local channel's two halves (`;1` and `;2`), count once.
   */
  readonly calls: number;
  /** Every channel (leg) CoreShowChannels listed. */
  readonly channels: number;
  /** Of which Local/ channels (each Local channel shows as two). */
  readonly localChannels: number;
}

export interface HealthData {
  readonly amiVersion: string | undefined;
  readonly asteriskVersion: string | undefined;
  /** When ARI is configured: its answer to GET /asterisk/info, or why it failed. */
  readonly ari?: { readonly ok: boolean; readonly version?: string; readonly detail: string };
}

/** The PBX as wanctl drives it. Every operation has a time limit and returns a result; none throws. */
export interface Pbx {
  readonly driver: PbxDriver;
  /** AMI `host:port`. */
  readonly target: string;
  /** Point the configured transports (PJSIP) or externip (chan_sip) at `address`, reload, read back. */
  setExternalAddress(address: string): Promise<PbxResult<ExternalAddressData>>;
  /** Put saved external-address values back (absent ones are deleted), reload, read back. */
  restoreExternalAddress(saved: SavedExternalAddress): Promise<PbxResult<ExternalAddressData>>;
  /** Re-register every managed trunk now, optionally with a short expiry, and wait until each is Registered. */
  registerTrunks(options?: RegisterTrunksOptions): Promise<PbxResult<TrunksData>>;
  /** Put the saved expiry settings back and re-register, waiting until each trunk is Registered. */
  restoreTrunks(saved: SavedTrunkSettings): Promise<PbxResult<TrunksData>>;
  /** The managed trunks' settings in the file and as Asterisk runs them; changes nothing. */
  readTrunks(): Promise<PbxResult<TrunkSettingsData>>;
  /** The external address Asterisk runs now; changes nothing. */
  readAddress(): Promise<PbxResult<LiveAddressData>>;
  /**
   * The whole move to a new link's public address in one go, once the route and the connection
   * tracking point at the new link: remove the trunks' bindings at the old address (PJSIP), then ONE
   * config change (external address and, with `shortExpirySeconds` or `restore`, the trunks' expiry),
   * ONE reload, read back, and wait until every trunk is Registered with the new Contact. What
   * setExternalAddress() followed by registerTrunks()/restoreTrunks() do in two reloads.
   */
  moveTo(address: string, options?: MoveOptions): Promise<PbxResult<MoveData>>;
  /**
   * Whether Asterisk has this driver loaded (AMI ModuleCheck) and it has something to manage (PJSIP:
   * the configured transports; chan_sip: register lines or an externip). Fails when the driver has
   * trunks that the config gives wanctl no way to move (PJSIP registrations without asterisk.pjsip).
   */
  inUse(): Promise<PbxResult<DriverUse>>;
  activeCalls(): Promise<PbxResult<ActiveCallsData>>;
  /** AMI Ping + versions, and ARI's /asterisk/info when configured. */
  health(): Promise<PbxResult<HealthData>>;
  /** Log off and close the AMI connection. */
  close(): Promise<void>;
}
