/** Calibration (core/src/trace/calibrate.ts) and `trapline calibrate`. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { unifiedDiff } from "../cli/src/calibrate";
import { analyze } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import {
  applyTextEdits,
  CalibrationError,
  calibrate,
  importTrace,
  timelineToTraceCmd,
} from "../core/src/trace/index";
import { runCliCaptured } from "./support/cliIO";

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8");
const TSC = read("./fixtures/measured/tsc-deadline.vmcs");
const COMPUTE_GO = read("./fixtures/measured/compute-go.vmcs");
const REPORT = read("./fixtures/traces/perf-kvm-stat-report-compute-go.txt");
const HLT = 12;

// MSR_WRITE exits of 2 µs and 4 µs, one HLT (not fitted).
const TRACE = `version = 6
 CPU 0/KVM-5001  [003]  1000.000000: kvm_entry:            vcpu 0 rip 0xffffffff81000000
 CPU 0/KVM-5001  [003]  1000.001000: kvm_exit:             vcpu 0 reason MSR_WRITE rip 0xffffffff81000030 info 0 0
 CPU 0/KVM-5001  [003]  1000.001002: kvm_entry:            vcpu 0 rip 0xffffffff81000034
 CPU 0/KVM-5001  [003]  1000.002000: kvm_exit:             vcpu 0 reason MSR_WRITE rip 0xffffffff81000030 info 0 0
 CPU 0/KVM-5001  [003]  1000.002004: kvm_entry:            vcpu 0 rip 0xffffffff81000034
 CPU 0/KVM-5001  [003]  1000.003000: kvm_exit:             vcpu 0 reason HLT rip 0xffffffff81000040 info 0 0
 CPU 0/KVM-5001  [003]  1000.004000: kvm_entry:            vcpu 0 rip 0xffffffff81000041
`;

function fit(text: string, traceText: string) {
  const analysis = analyze(text);
  return calibrate(analysis.program, text, importTrace(traceText));
}

/** Every fitted reason's estimated µs per exit against the trace's mean, after the edits. */
function assertReproduces(text: string, traceText: string, within: number) {
  const result = fit(text, traceText);
  const edited = applyTextEdits(text, result.edits);
  const analysis = analyze(edited);
  assert.deepEqual(
    analysis.diagnostics.filter((d) => d.severity === "error").map((d) => d.message),
    [],
  );
  const trace = importTrace(traceText);
  const estimate = analysis.estimates.get([...analysis.program.guests.keys()][0]!)!;
  const hz = estimate.target.hz;
  let checked = 0;
  for (const row of trace.exits.rows) {
    if (row.code === HLT || row.code === undefined) continue;
    const modelled = estimate.byReason.find((r) => r.code === row.code);
    assert.ok(modelled, `${row.key} not produced by the calibrated estimate`);
    const us = (modelled.cyclesPerExit / hz) * 1e6;
    const measured = row.meanNs / 1000;
    assert.ok(
      Math.abs(us - measured) / measured <= within,
      `${row.key}: ${us} µs vs measured ${measured} µs`,
    );
    checked++;
  }
  assert.ok(checked > 0);
  return { result, edited };
}

describe("calibrate", () => {
  test("the least-change split, by hand", () => {
    // m = 3 µs × 2 GHz = 6,000 cycles over n = 2 exits; F = 0 (the handler is only `work 2000`);
    // T' = (n(m − F − W) + N·T) / 2N = (2·4,000 + 2·2,000) / 4 = 3,000; W' = m − F − T' = 3,000.
    const r = fit(TSC, TRACE);
    assert.equal(r.roundTripBefore, 2000);
    assert.equal(r.roundTripAfter, 3000);
    assert.equal(r.reasons.length, 1);
    const msr = r.reasons[0]!;
    assert.equal(msr.reason, "MSR_WRITE");
    assert.equal(msr.workBefore, 2000);
    assert.equal(msr.workAfter, 3000);
    assert.equal(msr.residual, 0);
    assert.deepEqual(
      r.skipped.map((s) => s.reason),
      ["HLT"],
    );
    const edited = applyTextEdits(TSC, r.edits);
    assert.match(edited, /cost round_trip = 3000\n/);
    assert.match(edited, /handler MSR_WRITE \{ work 3000 \}/);
  });

  test("the real perf report (compute-go): the calibrated estimate within 10 % per reason", () => {
    const { result, edited } = assertReproduces(COMPUTE_GO, REPORT, 0.1);
    // MSR_WRITE 0.78 µs is the fastest exit: it bounds the round trip from above.
    assert.ok(result.roundTripAfter <= Math.round(0.78e-6 * 2.1e9));
    // The target line had no block: one is added.
    assert.match(edited, /target skylake_server @ 2\.1GHz \{\n {2}cost round_trip = \d+\n\}/);
  });

  test("round trip: a simulation with other costs → trace-cmd text → calibrate the original within 10 %", () => {
    const truth = read("../examples/kvm-default.vmcs")
      .replace("target skylake_server @ 2.1GHz", "target skylake_server @ 2.1GHz { cost round_trip = 2600 }")
      .replace(
        "handler MSR_WRITE          { work 250  advance_rip }",
        "handler MSR_WRITE          { work 900  advance_rip }",
      )
      .replace("handler EXTERNAL_INTERRUPT { work 350 }", "handler EXTERNAL_INTERRUPT { work 1200 }");
    const analysis = analyze(truth);
    const sim = simulate(analysis.program, "netperf", { durationSec: 0.01, seed: 2 });
    const traceText = timelineToTraceCmd(sim.timeline);
    assertReproduces(read("../examples/kvm-default.vmcs"), traceText, 0.1);
  });

  test("a handler without work gets one; a file without a target line gets one", () => {
    const text =
      "vmcs v {\n  pin external_interrupt_exiting nmi_exiting\n  proc use_msr_bitmaps\n  exit host_address_space_size acknowledge_interrupt_on_exit\n  entry ia32e_mode_guest\n  msr trap write IA32_TSC_DEADLINE\n}\nhandler MSR_WRITE {\n  advance_rip\n}\nhandler EXTERNAL_INTERRUPT { work 300 }\nguest g on v {\n  timer periodic 1kHz { wrmsr IA32_TSC_DEADLINE }\n}\n";
    const r = fit(text, TRACE);
    const edited = applyTextEdits(text, r.edits);
    assert.match(edited, /^target skylake_server \{\n {2}cost round_trip = \d+\n\}\n/);
    assert.match(edited, /handler MSR_WRITE \{\n {2}work \d+\n {2}advance_rip/);
    assertReproduces(text, TRACE, 0.1);
  });

  test("kvm_stat counters have no latency to fit", () => {
    const stat = read("./fixtures/traces/kvm-stat-batch-generated.txt");
    assert.throws(() => fit(TSC, stat), CalibrationError);
  });
});

describe("trapline calibrate", () => {
  async function run(argv: string[], files: Record<string, string>) {
    return runCliCaptured(argv, files, { writeThrough: true });
  }

  test("prints the fit and a unified diff; --write applies it", async () => {
    const files = { "a.vmcs": TSC, "t.txt": TRACE };
    const r = await run(["calibrate", "a.vmcs", "t.txt"], files);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /round trip 2,000 → 3,000 cycles/);
    assert.match(r.stdout, /MSR_WRITE \(32\) +2 +3\.00 +2\.00 +3\.00 +0% +2,000 → 3,000 +work edited/);
    assert.match(r.stdout, /^-handler MSR_WRITE \{ work 2000 \}$/m);
    assert.match(r.stdout, /^\+handler MSR_WRITE \{ work 3000 \}$/m);
    assert.equal(files["a.vmcs"], TSC);
    const w = await run(["calibrate", "a.vmcs", "t.txt", "--write"], files);
    assert.equal(w.status, 0);
    assert.match(files["a.vmcs"]!, /work 3000/);
    // Calibrated once, the file fits: nothing more to change.
    const again = await run(["calibrate", "a.vmcs", "t.txt"], files);
    assert.match(again.stdout, /no edits/);
  });

  test("statuses: a file with errors 1, an unknown trace 2", async () => {
    assert.equal(
      (await run(["calibrate", "a.vmcs", "t.txt"], { "a.vmcs": "guest g on nowhere {}\n", "t.txt": TRACE }))
        .status,
      1,
    );
    assert.equal(
      (await run(["calibrate", "a.vmcs", "t.txt"], { "a.vmcs": TSC, "t.txt": "nothing here\n" })).status,
      2,
    );
  });

  test("unifiedDiff: hunk header counts", () => {
    const text = "a\nb\nc\n";
    assert.equal(
      unifiedDiff("f", text, [{ span: { start: 2, end: 3 }, newText: "B\nB2" }]),
      "--- f\n+++ f (calibrated)\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n+B2\n c\n",
    );
  });
});
