// Public surface of the AMI client: import from here.

export {
  type AmiActionOptions,
  AmiClient,
  type AmiClientOptions,
  type AmiConnectionState,
  type AmiEventMask,
  type AmiLogger,
  type AmiReconnectOptions,
  type AmiStateChange,
  type AmiTimers,
} from "./client.js";
export {
  AmiActionError,
  AmiConnectionError,
  AmiError,
  AmiLoginError,
  AmiParseError,
  type AmiParseErrorCode,
  AmiStateError,
  AmiTimeoutError,
} from "./errors.js";
export {
  type AmiActionFields,
  type AmiEvent,
  type AmiFieldValue,
  AmiFields,
  type AmiListResult,
  type AmiPacket,
  type AmiResponse,
  type AmiResponseStatus,
  redactFields,
  serializeAction,
} from "./packet.js";
export { AmiParser, type AmiParserOptions, type AmiParserOutput, DEFAULT_MAX_PACKET_SIZE } from "./parser.js";
