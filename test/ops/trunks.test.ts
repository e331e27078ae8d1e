// The trunks' registrations as the page and the metrics show them: polled, refreshed after a
// switch, and not registered while Asterisk cannot be asked.
import { expect, test } from "vitest";
import type { PbxResult, TrunkSettingsData } from "../../src/asterisk/pbx/index.js";
import { TrunkPoller } from "../../src/ops/trunks.js";
import { recordingLogger } from "./fixtures.js";

test("polls, refreshes after a switch, and counts the trunks as not registered while Asterisk cannot be asked (said once)", async () => {
  const { lines, logger } = recordingLogger();
  const read = (status: "Registered" | "Rejected", expiration: string): PbxResult<TrunkSettingsData> => ({
    ok: true,
    durationMs: 1,
    detail: "",
    data: { settings: { driver: "pjsip", file: "pjsip.conf", registrations: {} }, live: [{ name: "itsp", status, expiration }] },
  });
  const answers: PbxResult<TrunkSettingsData>[] = [
    read("Registered", "3600"),
    read("Registered", "120"),
    { ok: false, durationMs: 1, detail: "cannot connect to AMI 192.168.50.10:5038 (ECONNREFUSED)" },
    { ok: false, durationMs: 1, detail: "cannot connect to AMI 192.168.50.10:5038 (ECONNREFUSED)" },
    read("Rejected", "120"),
  ];
  let reads = 0;
  const poller = new TrunkPoller(async () => answers[reads++]!, logger, 3_600_000);
  expect(poller.current()).toEqual([]);
  poller.start();
  await poller.poll();
  expect(poller.current()).toEqual([{ name: "itsp", registered: true, expirySeconds: 3600 }]);
  poller.switched();
  await poller.poll(); // the same read as the switch's: one at a time
  expect(reads).toBe(2);
  expect(poller.current()).toEqual([{ name: "itsp", registered: true, expirySeconds: 120 }]);
  await poller.poll();
  await poller.poll();
  expect(poller.current()).toEqual([{ name: "itsp", registered: false, expirySeconds: 120 }]);
  await poller.poll();
  expect(poller.current()).toEqual([{ name: "itsp", registered: false, expirySeconds: 120 }]);
  await poller.stopping();
  expect(lines).toEqual(["cannot read the trunks' registrations: cannot connect to AMI 192.168.50.10:5038 (ECONNREFUSED)", "the trunks' registrations can be read again"]);
});
