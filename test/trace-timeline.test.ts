/**
 * An imported trace as the timeline panel's data (core/src/trace/timeline.ts): lanes per vCPU,
 * exit intervals by basic reason, guest time between consecutive exits, the statistics the
 * panel's tables read, and the bounded-sample note, from real fixtures and generated traces.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { importTrace, TRACE_NOMINAL_HZ, traceToRun, UNKNOWN_REASON_BASE, VcpuState } from "../core/src/index";
import { buildIndex } from "../webview/src/timelineIndex";

const FIXTURES = fileURLToPath(new URL("./fixtures/traces/", import.meta.url));
const read = (name: string): string => readFileSync(FIXTURES + name, "utf8");

function intervals(run: ReturnType<typeof traceToRun>) {
  const t = run.timeline;
  const out: { lane: number; state: number; reason: number; start: number; end: number }[] = [];
  for (let i = 0; i < t.count; i++) {
    out.push({
      lane: t.vcpu[i]!,
      state: t.state[i]!,
      reason: t.reason[i]!,
      start: t.start[i]!,
      end: t.start[i]! + t.duration[i]!,
    });
  }
  return out;
}

describe("trace → timeline", () => {
  test("trace-cmd pairing fixture: one lane per vCPU, exits by basic reason, guest between", () => {
    const result = importTrace(read("trace-cmd-generated-pairing.txt"));
    const run = traceToRun(result, "pairing.txt");
    assert.equal(run.timeline.vcpus, 2);
    assert.equal(run.timeline.hz, TRACE_NOMINAL_HZ);
    assert.equal(run.sampleStride, 1);
    assert.equal(run.timeline.decimated, false);
    // vCPU 0: exits at 20, 40, 90 µs (4, 6, 12 µs long); guest 24–40 and 46–90 between them.
    const lane0 = intervals(run).filter((x) => x.lane === 0);
    assert.deepEqual(
      lane0.map((x) => [x.state, x.reason, x.start, x.end]),
      [
        [VcpuState.Exit, 32, 20_000, 24_000],
        [VcpuState.Guest, -1, 24_000, 40_000],
        [VcpuState.Exit, 32, 40_000, 46_000],
        [VcpuState.Guest, -1, 46_000, 90_000],
        [VcpuState.Exit, 49, 90_000, 102_000],
      ],
    );
    const lane1 = intervals(run).filter((x) => x.lane === 1);
    assert.deepEqual(
      lane1.map((x) => [x.state, x.reason]),
      [
        [VcpuState.Exit, 49],
        [VcpuState.Guest, -1],
        [VcpuState.Exit, 30],
      ],
    );
    assert.deepEqual(run.reasonNames, { 30: "IO_INSTRUCTION", 32: "MSR_WRITE", 49: "EPT_MISCONFIG" });
    assert.equal(run.drawnExits, result.exits.totalCount);
  });

  test("statistics carry the measured counts and latency percentiles exactly", () => {
    const result = importTrace(read("trace-cmd-generated-pairing.txt"));
    const { stats } = traceToRun(result, "pairing.txt");
    assert.equal(stats.guest, "pairing.txt");
    assert.equal(stats.exits, 5);
    assert.equal(stats.duration, result.window!.durationSec);
    const msr = stats.byReason.find((r) => r.reason === "MSR_WRITE")!;
    const row = result.exits.rows.find((r) => r.key === "MSR_WRITE")!;
    assert.equal(msr.code, 32);
    assert.equal(msr.exits, 2);
    assert.equal(msr.duration.mean, row.meanNs / 1e9);
    assert.equal(msr.duration.p50, row.p50Ns! / 1e9);
    assert.equal(msr.duration.p99, row.p99Ns! / 1e9);
    assert.equal(msr.duration.min, 4e-6);
    assert.equal(msr.duration.max, 6e-6);
    // Cycles are nanoseconds on the nominal 1 GHz clock.
    assert.equal(msr.cyclesPerExit, 5000);
    assert.equal(msr.share, row.timeShare);
    assert.equal(stats.hostCpu, result.exits.totalNs / 1e9 / stats.duration);
    assert.deepEqual(stats.warnings, []);
  });

  test("the panel's index reads the converted timeline: every drawn exit is one exit", () => {
    const result = importTrace(read("trace-cmd-generated-pairing.txt"));
    const index = buildIndex(traceToRun(result, "x").timeline);
    assert.equal(index.totalExits, 5);
    assert.deepEqual(
      index.lanes.map((l) => l.exitCount),
      [3, 2],
    );
  });

  test("real ftrace text (a nested-virtualisation repro) converts with the row's basic reason", () => {
    const result = importTrace(read("ftrace-nested-repro.txt"));
    const run = traceToRun(result, "nested");
    const exits = intervals(run).filter((x) => x.state === VcpuState.Exit);
    assert.equal(exits.length, result.exits.totalCount);
    assert.equal(exits.length, 1);
    // EPT_VIOLATION is basic exit reason 48 (SDM Appendix C).
    assert.equal(exits[0]!.reason, 48);
    assert.equal(run.reasonNames[48], "EPT_VIOLATION");
  });

  test("flag bits keep the basic reason's colour; a bare number gets its own", () => {
    const result = importTrace(read("ftrace-generated-flags.txt"));
    const run = traceToRun(result, "flags");
    const byKey = new Map(run.stats.byReason.map((r) => [r.reason, r.code]));
    // INVALID_STATE is 33; with FAILED_VMENTRY (bit 31) set it is drawn as 33.
    assert.equal(byKey.get("INVALID_STATE FAILED_VMENTRY"), 33);
    assert.equal(run.reasonNames[33], "INVALID_STATE");
    assert.equal(byKey.get("EXTERNAL_INTERRUPT"), 1);
    // 0x20000 has no basic reason of its own: its low bits (0, EXCEPTION_NMI) must not colour it.
    const bare = byKey.get("0x20000")!;
    assert.ok(bare >= UNKNOWN_REASON_BASE, `0x20000 drawn as ${bare}`);
    assert.equal(run.reasonNames[bare], "0x20000");
    const drawn = new Set(
      intervals(run)
        .filter((x) => x.state === VcpuState.Exit)
        .map((x) => x.reason),
    );
    assert.deepEqual(
      [...drawn].sort((a, b) => a - b),
      [1, 33, bare],
    );
  });

  test("a bounded sample leaves gaps undrawn and says so", () => {
    const lines: string[] = [];
    let t = 1000;
    for (let i = 0; i < 40; i++) {
      lines.push(`  CPU 0/KVM-7  [001]  ${t.toFixed(6)}: kvm_exit: vcpu 0 reason HLT rip 0x1 info 0 0`);
      t += 0.000002;
      lines.push(`  CPU 0/KVM-7  [001]  ${t.toFixed(6)}: kvm_entry: vcpu 0 rip 0x2`);
      t += 0.000003;
    }
    const result = importTrace(`${lines.join("\n")}\n`, { format: "trace-cmd", timelineCapacity: 8 });
    const run = traceToRun(result, "sampled");
    assert.ok(run.sampleStride > 1, `stride ${run.sampleStride}`);
    assert.equal(run.timeline.decimated, true);
    const drawn = intervals(run);
    assert.ok(
      drawn.every((x) => x.state === VcpuState.Exit),
      "no guest intervals across unsampled exits",
    );
    assert.equal(run.drawnExits, drawn.length);
    assert.ok(run.drawnExits < result.exits.totalCount);
    assert.equal(run.stats.exits, result.exits.totalCount);
    assert.match(run.stats.warnings[0]!, /bounded sample: every \d+th exit/);
  });

  test("an aggregate report draws no lanes but keeps its table", () => {
    const result = importTrace(read("perf-kvm-stat-report-compute-go.txt"));
    const run = traceToRun(result, "report");
    assert.equal(run.timeline.count, 0);
    assert.equal(run.stats.byReason.length, result.exits.rows.length);
    assert.ok(run.stats.byReason.length > 0);
    assert.ok(run.stats.warnings.some((w) => /no events/.test(w)));
  });

  test("a reason no table knows gets a synthetic colour and keeps its name", () => {
    const text =
      "  CPU 0/KVM-7  [001]  1.000000: kvm_entry: vcpu 0 rip 0x1\n" +
      "  CPU 0/KVM-7  [001]  1.000010: kvm_exit: vcpu 0 reason NOT_A_REASON rip 0x1 info 0 0\n" +
      "  CPU 0/KVM-7  [001]  1.000012: kvm_entry: vcpu 0 rip 0x2\n";
    const result = importTrace(text, { format: "trace-cmd" });
    assert.equal(result.exits.rows[0]!.code, undefined);
    const run = traceToRun(result, "u");
    const exit = intervals(run).find((x) => x.state === VcpuState.Exit)!;
    assert.equal(exit.reason, UNKNOWN_REASON_BASE);
    assert.equal(run.reasonNames[UNKNOWN_REASON_BASE], "NOT_A_REASON");
    assert.equal(exit.end - exit.start, 2000);
  });
});
