// `wanctl test --notify`: a test alert through every configured channel now, each outcome shown.
import type { Config } from "../../config/schema/index.js";
import { createTestAlert, notifiersFromConfig, sendTestAlert } from "../../notify/index.js";
import { readStatus } from "../../daemon/status-file.js";
import { CliError, ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";

export async function testNotify(config: Config, io: CliIo): Promise<ExitCodeValue> {
  const { notifiers } = notifiersFromConfig(config.alerts, { env: io.env });
  if (notifiers.length === 0) {
    throw new CliError("wanctl test --notify: no alert channel is configured (alerts.email, alerts.slack or alerts.webhook)", ExitCode.failure);
  }
  const status = readStatus(config.stateDir);
  const activeLink = status.ok ? (status.value.active ?? undefined) : undefined;
  // Straight to the channels, not through the daemon's outbox: the answer is wanted now.
  const outcomes = await sendTestAlert({ notifiers, timeoutMs: 30_000 }, createTestAlert(activeLink ? { activeLink } : {}));
  for (const outcome of outcomes) {
    io.out(`${outcome.ok ? "ok  " : "FAIL"} ${outcome.channel}${outcome.ok ? "" : `: ${outcome.error ?? "failed"}`}`);
  }
  return outcomes.every((o) => o.ok) ? ExitCode.ok : ExitCode.failure;
}
