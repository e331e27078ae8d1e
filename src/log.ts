// The process logger: JSON lines on stdout for journald, a readable form on a terminal, and
// secrets censored by path wherever they sit in a logged object.
import { createRequire } from "node:module";
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";
import type PinoPretty from "pino-pretty";
import { REDACTED, SECRET_KEYS } from "./config/secrets.js";

export type { Logger };

/** Redaction paths for every secret key at any depth up to `depth` (pino matches paths, not keys). */
export function secretRedactPaths(depth = 7): string[] {
  const paths: string[] = [];
  for (const key of SECRET_KEYS) {
    for (let level = 0; level < depth; level++) paths.push([...Array<string>(level).fill("*"), key].join("."));
  }
  return paths;
}

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Readable output instead of JSON; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go (tests pass a stream); defaults to stdout. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base = {
    name: "wanctl",
    level: options.level ?? "info",
    redact: { paths: secretRedactPaths(), censor: REDACTED },
  };
  const readable = options.pretty ?? process.stdout.isTTY === true;
  if (readable) {
    // Loaded only for a terminal: the daemon under systemd logs JSON and need not carry it.
    const pretty = createRequire(import.meta.url)("pino-pretty") as typeof PinoPretty;
    return pino(base, pretty({ sync: true, colorize: options.destination === undefined, destination: options.destination ?? 1, ignore: "pid,hostname,name" }));
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}
