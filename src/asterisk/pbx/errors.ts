// Turning what went wrong into one plain line that names what and where, never a secret.

import { AmiActionError, AmiConnectionError, AmiLoginError, AmiParseError, AmiStateError, AmiTimeoutError } from "../ami/errors.js";
import type { PbxFailure, PbxFailureKind } from "./types.js";

/** A failure the adapter raises itself (config file content, read-back, registration). */
export class PbxError extends Error {
  override name = "PbxError";
  readonly kind: PbxFailureKind;
  constructor(kind: PbxFailureKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** Hints for Asterisk's terse refusals. */
function hint(action: string, amiMessage: string | undefined): string {
  if (amiMessage === "Permission denied") {
    const needs: Record<string, string> = {
      UpdateConfig: "write=config",
      GetConfig: "write=config (or system)",
      Reload: "write=config (or system)",
      Command: "write=command",
      PJSIPRegister: "write=system",
      PJSIPUnregister: "write=system",
      PJSIPShowRegistrationsOutbound: "write=system",
      SIPshowregistry: "write=system",
      CoreShowChannels: "write=system (or reporting)",
      CoreSettings: "write=system (or reporting)",
    };
    return needs[action] ? ` (the manager user lacks ${needs[action]} in manager.conf)` : " (the manager user lacks the privilege in manager.conf)";
  }
  if (amiMessage === "File requires escalated privileges") return " (the file is outside Asterisk's config directory or does not exist)";
  return "";
}

/**
 * One line for an error thrown while talking to Asterisk. `what` says what wanctl was doing
 * ("setting external_media_address of [transport-udp] in pjsip.conf"), `target` is AMI's host:port.
 */
export function describeFailure(error: unknown, target: string, what: string): PbxFailure {
  if (error instanceof PbxError) return { kind: error.kind, message: error.message };
  if (error instanceof AmiLoginError) {
    return { kind: "login", message: `AMI at ${target} refused the login of manager user '${error.username}' (${error.amiMessage ?? "no reason given"}): check asterisk.ami.username/secret and the user's permit/deny in manager.conf` };
  }
  if (error instanceof AmiConnectionError) {
    return { kind: "connect", message: `AMI at ${target} unreachable while ${what}: ${error.message}` };
  }
  if (error instanceof AmiTimeoutError) {
    const action = error.action ? `no answer to '${error.action}'` : "no connection or banner";
    return { kind: "timeout", message: `AMI at ${target}: ${action} within ${error.timeoutMs} ms while ${what}` };
  }
  if (error instanceof AmiActionError) {
    const reason = error.output.some((l) => l.trim() !== "")
      ? error.output.map((l) => l.trim()).filter((l) => l !== "").join(" / ")
      : (error.amiMessage ?? "(no message)").trim();
    return { kind: "refused", message: `Asterisk (AMI ${target}) refused ${error.action} while ${what}: ${reason}${hint(error.action, error.amiMessage)}` };
  }
  if (error instanceof AmiParseError) return { kind: "refused", message: `AMI at ${target} sent something unreadable while ${what}: ${error.message}` };
  if (error instanceof AmiStateError) return { kind: "connect", message: `AMI at ${target} not connected while ${what}: ${error.message}` };
  const message = error instanceof Error ? error.message : String(error);
  return { kind: "refused", message: `${what}: ${message}` };
}
