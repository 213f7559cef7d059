/** Inference (core/src/trace/infer.ts) and `trapline infer`: checks clean, rates within 5 %. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { inferredEstimate } from "../cli/src/infer";
import { runCli } from "../cli/src/main";
import { analyze } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import { importTrace, inferVmcs, type TraceResult, timelineToTraceCmd } from "../core/src/trace/index";
import { CapturedIO } from "./support/cliIO";

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8");

/** Infers, checks the file has no errors, and compares per-reason rates of the expressed reasons. */
function assertInfers(trace: TraceResult, within = 0.05) {
  const result = inferVmcs(trace, { estimate: inferredEstimate });
  const analysis = analyze(result.text);
  assert.deepEqual(
    analysis.diagnostics.filter((d) => d.severity === "error").map((d) => d.message),
    [],
    result.text,
  );
  const estimate = analysis.estimates.get("inferred")!;
  const windowSec = result.windowSec ?? 1;
  for (const row of trace.exits.rows) {
    if (!result.expressed.includes(row.reason ?? "")) continue;
    const measured = row.ratePerSecond ?? row.count / windowSec;
    const modelled = estimate.byReason.find((r) => r.code === row.code)?.exitsPerSecond ?? 0;
    assert.ok(
      Math.abs(modelled - measured) / measured <= within,
      `${row.key}: estimate ${modelled}/s vs measured ${measured}/s\n${result.text}`,
    );
  }
  return result;
}

describe("inferVmcs", () => {
  test("the real compute-go perf report: MSR_WRITE, EPT_MISCONFIG, HLT expressed; the rest commented", () => {
    const r = assertInfers(importTrace(read("./fixtures/traces/perf-kvm-stat-report-compute-go.txt")));
    assert.deepEqual([...r.expressed].sort(), ["EPT_MISCONFIG", "HLT", "MSR_WRITE"]);
    assert.deepEqual(r.notExpressed.map((n) => n.reason).sort(), ["EXTERNAL_INTERRUPT", "PREEMPTION_TIMER"]);
    assert.match(r.text, /^\/\/ not expressed: EXTERNAL_INTERRUPT: /m);
    assert.match(r.text, /proc .*use_msr_bitmaps/);
    assert.match(r.text, /proc .*hlt_exiting/);
    assert.match(r.text, /msr trap write IA32_TSC_DEADLINE\n/);
    // The fastest mean (MSR_WRITE 0.78 µs = 1,638 cycles at 2.1 GHz) is above the profile's
    // round trip (1,419), which stays; EPT_MISCONFIG 2.58 µs = 5,418 cycles: work 5,418 − 1,419.
    assert.doesNotMatch(r.text, /cost round_trip/);
    assert.match(r.text, /handler MSR_WRITE \{ work 219 \}/);
    assert.match(r.text, /handler EPT_MISCONFIG \{ work 3999 \}/);
    assert.match(r.text, /handler EXTERNAL_INTERRUPT \{ work 3306 \}/);
    assert.match(r.text, /idle halt/);
  });

  test("the real nested-repro ftrace lines: the EPT_VIOLATION read at gpa 0x1050 is a page without access", () => {
    const r = assertInfers(importTrace(read("./fixtures/traces/ftrace-nested-repro.txt")));
    assert.deepEqual(r.expressed, ["EPT_VIOLATION"]);
    assert.deepEqual(r.notExpressed, []);
    assert.match(r.text, /^ {4}0x1000 \.\. 0x1fff none {3}\/\/ EPT_VIOLATION: read$/m);
    assert.match(r.text, /^ {4}0x0 \.\. 0xfff rwx$/m);
    assert.match(r.text, /^ {4}0x2000 \.\. 0x7fffffff rwx$/m);
    assert.match(r.text, /read 0x1050/);
  });

  test("the generated pairing trace: msr, mmio at the gpa seen, io at the port seen", () => {
    const r = assertInfers(importTrace(read("./fixtures/traces/trace-cmd-generated-pairing.txt")));
    assert.match(r.text, /msr trap write IA32_TSC_DEADLINE/); // msr_write 6e0
    assert.match(r.text, /0xfebf0000 \.\. 0xfebf0fff misconfig/);
    assert.match(r.text, /io trap 0xcf8/);
    assert.match(r.text, /use_io_bitmaps/);
  });

  test("round trip: EXTERNAL_INTERRUPT (two vectors), PREEMPTION_TIMER, EPT_VIOLATION reads and writes, HLT", () => {
    const source = `target skylake_server @ 2.1GHz
vmcs v {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis activate_vmx_preemption_timer
  proc  use_tsc_offsetting activate_secondary_controls hlt_exiting
  proc2 enable_ept enable_vpid unrestricted_guest
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  preemption_timer 100000
  field VIRTUAL_PROCESSOR_ID = 1
  ept {
    0x0 .. 0xfff rwx
    0x1000 .. 0x1fff none
    0x2000 .. 0x2fff rx
    0x3000 .. 0x7fff_ffff rwx
  }
}
handler HLT { halt }
handler EXTERNAL_INTERRUPT { work 2000 }
handler PREEMPTION_TIMER { work 800 }
handler EPT_VIOLATION { work 5000 }
guest g on v {
  vcpus 2
  irq nic vector 0x41 rate 3k/s { compute 20us }
  irq disk vector 0x52 rate 1k/s { compute 40us }
  timer periodic 1000Hz { compute 5us }
  path touch rate 2k/s { compute 10us  read 0x1050  write 0x2008 }
  idle halt
}
`;
    const analysis = analyze(source);
    assert.deepEqual(
      analysis.diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    const sim = simulate(analysis.program, "g", { durationSec: 0.2, seed: 11 });
    const trace = importTrace(timelineToTraceCmd(sim.timeline));
    // The export carries what inference reads: the vectors and the faulting accesses.
    const ext = trace.exits.rows.find((x) => x.reason === "EXTERNAL_INTERRUPT")!;
    assert.deepEqual(ext.details?.map((d) => d.key).sort(), ["vector 0x41", "vector 0x52"]);
    const ept = trace.exits.rows.find((x) => x.reason === "EPT_VIOLATION")!;
    assert.deepEqual(ept.details?.map((d) => d.key).sort(), [
      "page_fault 0x1050 read",
      "page_fault 0x2008 write",
    ]);
    const r = assertInfers(trace);
    assert.deepEqual([...r.expressed].sort(), [
      "EPT_VIOLATION",
      "EXTERNAL_INTERRUPT",
      "HLT",
      "PREEMPTION_TIMER",
    ]);
    assert.deepEqual(r.notExpressed, []);
    assert.match(r.text, /irq irq_41 vector 0x41 rate /);
    assert.match(r.text, /irq irq_52 vector 0x52 rate /);
    assert.match(r.text, /timer periodic [\d.]+Hz/);
    assert.match(r.text, /pin .*activate_vmx_preemption_timer/);
    assert.match(r.text, /preemption_timer \d+/);
    assert.match(r.text, /0x1000 \.\. 0x1fff none/);
    assert.match(r.text, /0x2000 \.\. 0x2fff rx/);
  });

  for (const example of ["kvm-default", "cpuid-masking", "hypercall-unbatched", "e1000-vs-virtio"]) {
    test(`round trip: ${example} simulated → trace-cmd text → inferred, rates within 5 %`, () => {
      const analysis = analyze(read(`../examples/${example}.vmcs`));
      const guest = [...analysis.program.guests.keys()][0]!;
      const sim = simulate(analysis.program, guest, { durationSec: 0.05, seed: 5 });
      assertInfers(importTrace(timelineToTraceCmd(sim.timeline)));
    });
  }
});

describe("trapline infer", () => {
  test("-o writes the file, stdout without it; unknown trace is 2", async () => {
    const files: Record<string, string> = {
      "t.txt": read("./fixtures/traces/trace-cmd-generated-pairing.txt"),
      "junk.txt": "nothing\n",
    };
    const captured = new CapturedIO(files, { writeThrough: true });
    const io = captured.io;
    assert.equal(await runCli(["infer", "t.txt", "-o", "out.vmcs"], io), 0);
    assert.match(files["out.vmcs"]!, /^\/\/ Inferred by trapline infer from t\.txt/);
    assert.equal(await runCli(["check", "out.vmcs"], io), 0);
    assert.equal(await runCli(["infer", "t.txt"], io), 0);
    assert.match(captured.stdout, /guest inferred on inferred/);
    assert.equal(await runCli(["infer", "junk.txt"], io), 2);
  });
});
