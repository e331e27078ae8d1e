// How a failed network call is named: the errno-style code behind an error, and words for the
// codes an operator meets most.

/** The errno-style code (ECONNREFUSED, ...) of an error or of its causes, if any. */
export function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The network reasons worth naming; anything else is reported by its code alone. */
const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "timed out",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed (temporary)",
  EADDRNOTAVAIL: "the local address is not available",
  EPIPE: "connection closed",
};

export function describeNetworkCode(code: string): string {
  return NETWORK_REASONS[code] ?? code;
}
