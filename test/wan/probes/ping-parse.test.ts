import { describe, expect, it } from "vitest";
import { parsePingLine } from "../../../src/wan/probes/ping-parse.js";

// Lines as iputils 20221126 prints them with -n -O -D (copied from real runs on lo and in a netns).
describe("ping line parser", () => {
  it("reads replies with and without the -D timestamp", () => {
    expect(parsePingLine("[1795640866.280299] 64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.776 ms")).toEqual({
      kind: "reply",
      from: "127.0.0.1",
      seq: 1,
      rttMs: 0.776,
      dup: false,
      wallMs: 1795640866280,
    });
    expect(parsePingLine("64 bytes from 192.0.2.1: icmp_seq=65535 ttl=52 time=123 ms")).toMatchObject({ kind: "reply", seq: 65535, rttMs: 123 });
    expect(parsePingLine("64 bytes from host.example (192.0.2.1): icmp_seq=4 ttl=52 time=17.6 ms")).toMatchObject({ kind: "reply", seq: 4, rttMs: 17.6 });
    expect(parsePingLine("[1.5] 64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.037 ms (DUP!)")).toMatchObject({ kind: "reply", seq: 2, dup: true });
  });

  it("reads losses and ICMP errors", () => {
    expect(parsePingLine("[1795640979.413972] no answer yet for icmp_seq=1")).toEqual({ kind: "no-answer", seq: 1, wallMs: 1795640979414 });
    expect(parsePingLine("no answer yet for icmp_seq=77\n")).toEqual({ kind: "no-answer", seq: 77 });
    expect(parsePingLine("[2.0] From 192.0.2.9 icmp_seq=3 Destination Host Unreachable")).toMatchObject({
      kind: "icmp-error",
      from: "192.0.2.9",
      seq: 3,
      message: "Destination Host Unreachable",
    });
    expect(parsePingLine("From 172.17.0.1 (172.17.0.1) icmp_seq=1 Time to live exceeded")).toMatchObject({
      kind: "icmp-error",
      seq: 1,
      message: "Time to live exceeded",
    });
  });

  it("leaves everything else alone", () => {
    for (const l of [
      "PING 127.0.0.1 (127.0.0.1) from 127.0.0.1 lo: 56(84) bytes of data.",
      "--- 127.0.0.1 ping statistics ---",
      "3 packets transmitted, 3 received, 0% packet loss, time 4ms",
      "",
      "64 bytes from 127.0.0.1: icmp_seq=x ttl=64 time=0.1 ms",
    ]) {
      expect(parsePingLine(l).kind).toBe("other");
    }
  });
});
