/**
 * kvm_stat --log lines of deltas are read in place (reports.ts KvmStatLogReader.values) and,
 * for anything that reader declines, by the general reader: the totals are the sums worked out
 * by hand, whichever reader took each line, with a repeated and a changed banner, a line with
 * the wrong count of values (bad), a 16-digit value and a non-breaking space (general reader).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { importTrace } from "../core/src/index";

test("kvm_stat --log: in-place and general reading give the hand-computed totals", () => {
  const text = [
    "kvm_entry kvm_exit kvm_exit(HLT) kvm_exit(MSR_WRITE)",
    "      1000       1000        600        400",
    "\t1200 1200 700\t500",
    "      800        800        500", // three values under four names: bad
    "kvm_entry kvm_exit kvm_exit(HLT) kvm_exit(MSR_WRITE)", // the banner repeated
    "      1000000000000000       5        1        4", // 16 digits: the general reader
    "      10\u00a0       10        6        4", // a non-breaking space: the general reader
    "kvm_exit(HLT) kvm_exit(MSR_READ)", // another banner: columns follow it
    "        7        3",
    "",
  ].join("\n");
  const r = importTrace(text);
  assert.equal(r.format, "kvm-stat-log");
  assert.equal(r.badLineCount, 1);
  assert.equal(r.badLines[0]!.line, 4);
  const counter = (name: string) => r.counters.find((c) => c.name === name)?.total;
  assert.equal(counter("kvm_entry"), 1000 + 1200 + 1e15 + 10);
  assert.equal(counter("kvm_exit"), 1000 + 1200 + 5 + 10);
  assert.equal(counter("kvm_exit(HLT)"), 600 + 700 + 1 + 6 + 7);
  assert.equal(counter("kvm_exit(MSR_WRITE)"), 400 + 500 + 4 + 4);
  assert.equal(counter("kvm_exit(MSR_READ)"), 3);
  // Five intervals (lines of deltas): the rates are totals over five seconds.
  assert.equal(r.window?.durationSec, 5);
  assert.deepEqual(
    r.exits.rows.map((x) => [x.key, x.count, x.ratePerSecond]),
    [
      ["HLT", 1314, 1314 / 5],
      ["MSR_WRITE", 908, 908 / 5],
      ["MSR_READ", 3, 3 / 5],
    ],
  );
});
