// `wanctl check-config`: validate the config and say in one line what it will manage.
import { configuredDrivers } from "../../config/schema/asterisk.js";
import { sipHosts } from "../../config/schema/dns.js";
import type { Config } from "../../config/schema/index.js";
import { commandRunner, type CommandRunner } from "../../system/command.js";
import { hostProblems } from "../../system/host-checks.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadConfigForCommand } from "./load.js";

function summary(config: Config): string {
  const parts = [
    `${config.links.length} links (${[...config.links].sort((a, b) => a.priority - b.priority).map((l) => l.name).join(" > ")})`,
    ...(config.route.backend === "none" ? [] : [`${config.monitor.targets.length} probe target${config.monitor.targets.length === 1 ? "" : "s"}`]),
    config.route.backend === "routeros"
      ? `routes on the MikroTik ${config.route.router.host}:${config.route.router.port} (${config.route.router.transport}, routes marked ${config.route.markPrefix}<link>)`
      : config.route.backend === "none"
        ? `following a router that switches by itself (its egress seen by ${config.route.egress.method === "stun" ? "STUN" : "HTTP echo"} every ${config.route.egress.intervalMs} ms${config.monitor.targets.length ? `, its way out probed with ${config.monitor.targets.length} target${config.monitor.targets.length === 1 ? "" : "s"}` : ""})`
        : "routes on this host",
    `${config.dns.records.length} DNS record${config.dns.records.length === 1 ? "" : "s"}`,
  ];
  const sip = config.dns.sip;
  if (sip) {
    const hosts = sipHosts(sip, config.links);
    const srv = sip.services.length ? ` and SRV ${sip.services.map((s) => s.service).join(", ")}` : "";
    parts.push(`SIP domain ${sip.domain}: a name for ${hosts.map((h) => h.link).join(", ")}${srv}`);
  }
  const pbx = config.asterisk;
  const drivers = pbx ? configuredDrivers(pbx) : "auto";
  parts.push(pbx ? `Asterisk (${drivers === "auto" ? "the SIP drivers it has loaded" : drivers.join(" and ")}) via AMI ${pbx.ami.host}:${pbx.ami.port}` : "no Asterisk");
  const channels = (["email", "slack", "webhook"] as const).filter((c) => config.alerts[c]);
  parts.push(channels.length ? `alerts by ${channels.join(", ")}` : "no alerts");
  parts.push(config.http.enabled ? `metrics and status page on http://${config.http.listen}/${config.http.auth ? " (with auth)" : ""}` : "no metrics or status page");
  return parts.join(", ");
}

/** Valid is exit 0; what this host lacks for it (an interface, a binary) is said as warnings. */
export async function checkConfig(file: string, io: CliIo, run: CommandRunner = commandRunner()): Promise<ExitCodeValue> {
  const { config } = loadConfigForCommand(file, io);
  io.out(`${file}: OK: ${summary(config)}`);
  for (const problem of await hostProblems(config, { run, ...(io.env.PATH ? { path: io.env.PATH } : {}) })) io.err(`warning: on this host: ${problem}`);
  return ExitCode.ok;
}
