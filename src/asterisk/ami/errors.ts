// Error types of the AMI client. Every message names what failed and where (host:port, action,
// byte offset) so that a log line is enough to act on. None of them ever carries a secret: the
// constructors take only the pieces they print (user name, action name, AMI message, output).

/** Base class: `instanceof AmiError` catches everything this module throws. */
export class AmiError extends Error {
  override name = "AmiError";
}

/** TCP connect failed, or the connection dropped while something was waiting on it. */
export class AmiConnectionError extends AmiError {
  override name = "AmiConnectionError";
  /** `host:port` of the AMI server. */
  readonly target: string;
  /** errno code of the underlying socket error (ECONNREFUSED, ...), when there was one. */
  readonly code: string | undefined;

  constructor(target: string, message: string, options?: { cause?: unknown; code?: string | undefined }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.target = target;
    this.code = options?.code;
  }
}

/** Something did not happen in time: connect + banner, or an action's response. */
export class AmiTimeoutError extends AmiError {
  override name = "AmiTimeoutError";
  readonly target: string;
  readonly timeoutMs: number;
  /** The action that timed out; undefined for the connect/banner timeout. */
  readonly action: string | undefined;
  readonly actionId: string | undefined;

  constructor(message: string, target: string, timeoutMs: number, action?: string, actionId?: string) {
    super(message);
    this.target = target;
    this.timeoutMs = timeoutMs;
    this.action = action;
    this.actionId = actionId;
  }
}

/** Asterisk answered `Response: Error`. `amiMessage` is Asterisk's `Message:` verbatim. */
export class AmiActionError extends AmiError {
  override name = "AmiActionError";
  readonly action: string;
  readonly actionId: string;
  readonly amiMessage: string | undefined;
  /** `Output:` lines of the error (Asterisk ≥ 14 puts a failed CLI command's text there). */
  readonly output: readonly string[];

  constructor(action: string, actionId: string, amiMessage: string | undefined, output: readonly string[]) {
    // For `Command`, Message is the useless "Command output follows"; the reason is in Output.
    const detail = output.some((l) => l.trim() !== "")
      ? output.map((l) => l.trim()).filter((l) => l !== "").join(" / ")
      : (amiMessage ?? "(no message)");
    super(`AMI action '${action}' failed: ${detail}`);
    this.action = action;
    this.actionId = actionId;
    this.amiMessage = amiMessage;
    this.output = output;
  }
}

/** Login was refused. The message names the user and Asterisk's reason, never the secret. */
export class AmiLoginError extends AmiError {
  override name = "AmiLoginError";
  readonly username: string;
  readonly amiMessage: string | undefined;

  constructor(username: string, amiMessage: string | undefined) {
    super(`AMI login failed for user '${username}': ${amiMessage ?? "(no message)"}`);
    this.username = username;
    this.amiMessage = amiMessage;
  }
}

/** The client is not in a state to do that (not connected, closed). */
export class AmiStateError extends AmiError {
  override name = "AmiStateError";
}

export type AmiParseErrorCode =
  /** a line that is not `Key: Value` (no colon, or a key with control/binary bytes) */
  | "garbage"
  /** a packet (or a single line) larger than maxPacketSize */
  | "overflow"
  /** the first line was not `Asterisk Call Manager/<version>` */
  | "banner"
  /** the stream ended in the middle of a packet */
  | "truncated"
  /** a well-formed packet that the client cannot use (neither Response nor Event, unknown Response) */
  | "unexpected";

/**
 * Bad bytes from the server. `offset` is the byte offset in the connection's stream where the
 * offending line or packet starts. `preview` shows at most a few bytes, escaped, and never the value
 * of a `Key: Value` line (values can hold secrets, e.g. a sip.conf `register =>` line).
 */
export class AmiParseError extends AmiError {
  override name = "AmiParseError";
  readonly code: AmiParseErrorCode;
  readonly offset: number;
  /** bytes affected (line length, or bytes of the packet seen before giving up) */
  readonly length: number;
  readonly preview: string;
  /** ActionID of the packet that was dropped, when it was seen before the problem. */
  readonly actionId: string | undefined;

  constructor(
    code: AmiParseErrorCode,
    message: string,
    details: { offset: number; length: number; preview: string; actionId?: string | undefined },
  ) {
    super(message);
    this.code = code;
    this.offset = details.offset;
    this.length = details.length;
    this.preview = details.preview;
    this.actionId = details.actionId;
  }
}
