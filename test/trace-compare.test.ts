/** The model beside a trace (core/src/trace/compare.ts) and `estimate/simulate --measured`. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseTolerance } from "../cli/src/measured";
import { analyze } from "../core/src/index";
import { compareWithTrace, estimateFigures, importTrace } from "../core/src/trace/index";
import { runCliCaptured } from "./support/cliIO";

const DIR = fileURLToPath(new URL("./fixtures/measured/", import.meta.url));
/** 2 GHz, round trip 2,000 cycles, MSR_WRITE handler work 2,000: 2 µs per exit, 1,000/s. */
const VMCS = readFileSync(`${DIR}tsc-deadline.vmcs`, "utf8");

// One vCPU, a 4 ms window: MSR_WRITE 2 µs and 4 µs (500/s, mean 3 µs), one HLT of 1 ms, one
// EPT_MISCONFIG of 10 µs (not in the model), one FAILED_VMENTRY exit (no model counterpart).
const TRACE = `# generated for trace-compare.test.ts
 CPU 0/KVM-5001  [003]  1000.000000: kvm_entry:            vcpu 0 rip 0xffffffff81000000
 CPU 0/KVM-5001  [003]  1000.001000: kvm_exit:             vcpu 0 reason MSR_WRITE rip 0xffffffff81000030 info 0 0
 CPU 0/KVM-5001  [003]  1000.001002: kvm_entry:            vcpu 0 rip 0xffffffff81000034
 CPU 0/KVM-5001  [003]  1000.002000: kvm_exit:             vcpu 0 reason MSR_WRITE rip 0xffffffff81000030 info 0 0
 CPU 0/KVM-5001  [003]  1000.002004: kvm_entry:            vcpu 0 rip 0xffffffff81000034
 CPU 0/KVM-5001  [003]  1000.002500: kvm_exit:             vcpu 0 reason EPT_MISCONFIG rip 0xffffffff81000050 info 0 0
 CPU 0/KVM-5001  [003]  1000.002510: kvm_entry:            vcpu 0 rip 0xffffffff81000054
 CPU 0/KVM-5001  [003]  1000.002600: kvm_exit:             vcpu 0 reason INVALID_STATE FAILED_VMENTRY rip 0x0 info 0 0
 CPU 0/KVM-5001  [003]  1000.002601: kvm_entry:            vcpu 0 rip 0x0
 CPU 0/KVM-5001  [003]  1000.003000: kvm_exit:             vcpu 0 reason HLT rip 0xffffffff81000040 info 0 0
 CPU 0/KVM-5001  [003]  1000.004000: kvm_entry:            vcpu 0 rip 0xffffffff81000041
`;

function compare(tolerance?: number) {
  const analysis = analyze(VMCS);
  assert.deepEqual(
    analysis.diagnostics.filter((d) => d.severity === "error"),
    [],
  );
  const estimate = analysis.estimates.get("g")!;
  return compareWithTrace(estimateFigures(estimate), importTrace(TRACE), tolerance);
}

const close = (actual: number | undefined, expected: number, digits = 9) => {
  assert.ok(actual !== undefined, `expected ${expected}, got undefined`);
  assert.ok(
    Math.abs(actual - expected) < 10 ** -digits * Math.max(1, Math.abs(expected)),
    `${actual} ≠ ${expected}`,
  );
};

describe("compareWithTrace", () => {
  test("per reason: rates over the window, µs per exit, host CPU, ratios and flags", () => {
    const c = compare();
    assert.equal(c.trace.windowSec !== undefined, true);
    close(c.trace.windowSec, 0.004);
    const msr = c.reasons.find((r) => r.reason === "MSR_WRITE")!;
    assert.equal(msr.presence, "both");
    assert.equal(msr.measuredCount, 2);
    close(msr.exitsPerSecond.model, 1000);
    close(msr.exitsPerSecond.measured, 500); // 2 exits / 4 ms
    close(msr.exitsPerSecond.ratio, 0.5);
    assert.equal(msr.exitsPerSecond.flagged, true);
    close(msr.usPerExit.model, 2); // (2,000 + 2,000) cycles at 2 GHz
    close(msr.usPerExit.measured, 3); // (2 + 4) / 2
    assert.equal(msr.usPerExit.flagged, true);
    close(msr.hostCpu.model, 0.002); // 1,000/s × 2 µs
    close(msr.hostCpu.measured, 0.0015); // 500/s × 3 µs
    close(msr.hostCpu.ratio, 0.75);
  });

  test("HLT: rate compared, idle latency shown but not flagged and kept out of host CPU", () => {
    const c = compare();
    const hlt = c.reasons.find((r) => r.code === 12)!;
    assert.equal(hlt.idle, true);
    close(hlt.usPerExit.measured, 1000);
    assert.equal(hlt.usPerExit.flagged, false);
    assert.equal(hlt.hostCpu.measured, undefined);
    close(hlt.exitsPerSecond.measured, 250);
    assert.equal(hlt.exitsPerSecond.flagged, true); // the model says ~997/s
  });

  test("reasons on one side only are listed as such", () => {
    const c = compare();
    const ept = c.reasons.find((r) => r.reason === "EPT_MISCONFIG")!;
    assert.equal(ept.presence, "trace-only");
    assert.equal(ept.code, 49);
    close(ept.usPerExit.measured, 10);
    const failed = c.reasons.find((r) => r.reason.includes("FAILED_VMENTRY"))!;
    assert.equal(failed.presence, "trace-only");
    assert.match(failed.note ?? "", /FAILED_VMENTRY/);
  });

  test("totals and the vCPU row: HLT out of µs and CPU, every reason in the rate", () => {
    const c = compare();
    // Rate: the exits of basic reasons (MSR_WRITE ×2, EPT_MISCONFIG, HLT) = 4 in 4 ms; the
    // FAILED_VMENTRY exit has no basic reason. µs: (2 + 4 + 10) / 3 without HLT. CPU: Σ rate·µs.
    close(c.total.exitsPerSecond.measured, 1000);
    close(c.total.usPerExit.measured, 16 / 3);
    close(c.total.hostCpu.measured, 0.0015 + 250 * 10e-6);
    assert.equal(c.vcpus.length, 1);
    assert.equal(c.vcpus[0]!.vcpu, 0);
    close(c.vcpus[0]!.exitsPerSecond.measured, 1000);
    close(c.vcpus[0]!.usPerExit.measured, 16 / 3);
  });

  test("the tolerance decides the flags", () => {
    assert.equal(compare(0.6).reasons.find((r) => r.reason === "MSR_WRITE")!.usPerExit.flagged, false);
    assert.equal(compare(0.1).reasons.find((r) => r.reason === "MSR_WRITE")!.hostCpu.flagged, true);
    assert.equal(parseTolerance("25"), 0.25);
    assert.equal(parseTolerance("10%"), 0.1);
    assert.equal(parseTolerance("0.3"), 0.3);
  });

  test("a perf report: latencies only, HLT noted as idle", () => {
    const report = readFileSync(
      fileURLToPath(new URL("./fixtures/traces/perf-kvm-stat-report-compute-go.txt", import.meta.url)),
      "utf8",
    );
    const estimate = analyze(VMCS).estimates.get("g")!;
    const c = compareWithTrace(estimateFigures(estimate), importTrace(report));
    const msr = c.reasons.find((r) => r.reason === "MSR_WRITE")!;
    assert.equal(msr.exitsPerSecond.measured, undefined);
    close(msr.usPerExit.measured, 0.78);
    assert.ok(c.notes.some((n) => n.includes("no timestamps")));
    assert.equal(c.reasons.find((r) => r.code === 12)!.usPerExit.flagged, false);
  });
});

async function run(argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return runCliCaptured(argv, { "a.vmcs": VMCS, "t.txt": TRACE, "junk.txt": "hello\nworld\n" });
}

describe("estimate/simulate --measured", () => {
  test("text: the side-by-side table after the estimate; flags do not change the status", async () => {
    const r = await run(["estimate", "a.vmcs", "--measured", "t.txt"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /measured: t\.txt \(trace-cmd, 0\.004 s window, 5 exits, 1 vCPU\)/);
    assert.match(r.stdout, /MSR_WRITE \(32\) +1k\/s +500\/s +0\.50× ! +2\.00 +3\.00 +1\.50× !/);
    assert.match(r.stdout, /EPT_MISCONFIG \(49\) \[trace only\]/);
  });

  test("JSON: the contract's fields unchanged, a measured object added", async () => {
    const plain = JSON.parse((await run(["estimate", "a.vmcs", "--json"])).stdout);
    const measured = JSON.parse((await run(["estimate", "a.vmcs", "--json", "--measured", "t.txt"])).stdout);
    const { measured: m, ...rest } = measured;
    assert.deepEqual(rest, plain);
    assert.equal(m.file, "t.txt");
    assert.equal(m.model, "estimate");
    assert.equal(m.tolerance, 0.25);
    assert.ok(m.flaggedCount > 0);
  });

  test("simulate --measured compares the simulation", async () => {
    const r = await run(["simulate", "a.vmcs", "--duration", "50ms", "--json", "--measured", "t.txt"]);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout).measured;
    assert.equal(m.model, "simulation");
    const msr = m.reasons.find((x: { reason: string }) => x.reason === "MSR_WRITE");
    assert.ok(Math.abs(msr.usPerExit.model - 2) < 1e-9);
  });

  test("usage errors: unknown trace format, --tolerance alone, a bad percentage", async () => {
    assert.equal((await run(["estimate", "a.vmcs", "--measured", "junk.txt"])).status, 2);
    assert.equal((await run(["estimate", "a.vmcs", "--measured", "missing.txt"])).status, 2);
    assert.equal((await run(["estimate", "a.vmcs", "--tolerance", "10"])).status, 2);
    const bad = await run(["estimate", "a.vmcs", "--measured", "t.txt", "--tolerance", "ten"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--tolerance: 'ten'/);
  });
});
