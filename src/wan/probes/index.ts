// Probes that leave through a given link. See types.ts for the contract, icmp.ts for the ping
// design, and factory.ts for building a link's probes from the config.
export { createProbe, createProbes, runRound, type ProbeFactoryOptions } from "./factory.js";
export { targetLabel, type LinkBinding, type Probe, type ProbeResult, type ProbeTargetConfig, type ProbeTiming, type ProbeType } from "./types.js";
export { EchoSessionProbe, IcmpProbe, PingSession, type EchoOutcome, type EchoSession, type IcmpProbeOptions, type PingSessionOptions, type PingSessionState } from "./icmp.js";
export { TcpProbe, type TcpProbeOptions } from "./tcp.js";
export { DnsProbe, type DnsProbeOptions } from "./dns.js";
export { HttpProbe, type HttpProbeOptions } from "./http.js";
export { SipProbe, type SipProbeOptions } from "./sip.js";
export { parsePingLine, type PingLine } from "./ping-parse.js";
