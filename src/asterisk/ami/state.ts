// The client's connection states and the change record subscribers receive.

export type AmiConnectionState =
  | "disconnected" // not connected, nothing scheduled (initial, or connect() failed)
  | "connecting" // TCP connect + waiting for the banner
  | "loggingIn"
  | "ready"
  | "reconnecting" // the connection dropped; a retry is scheduled
  | "closed"; // close()/logoff(): terminal

export interface AmiStateChange {
  readonly state: AmiConnectionState;
  readonly previous: AmiConnectionState;
  /** Why we left `ready` or why an attempt failed. */
  readonly error?: Error;
  /** For `reconnecting`: retry number (1-based) and the delay before it. */
  readonly attempt?: number;
  readonly delayMs?: number;
}
