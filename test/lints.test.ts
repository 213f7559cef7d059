/** Program lints (lints.ts): unhandled exits, dead handlers, ignored settings, budgets, saturation. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyze, applyEdits, type Diagnostic } from "../core/src/index";

const VMCS = `target skylake_server @ 2GHz

vmcs kvm {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tsc_offsetting use_tpr_shadow use_io_bitmaps use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  io trap 0x3f8..0x3ff
  msr trap write IA32_TSC_DEADLINE
  field VIRTUAL_PROCESSOR_ID = 1
  ept { 0x0 .. 0x7fff_ffff rwx }
}
`;

function withCode(text: string, code: string): Diagnostic[] {
  const analysis = analyze(text);
  assert.ok(!analysis.diagnostics.some((d) => d.code === "TL999"), "no internal error");
  return analysis.diagnostics.filter((d) => d.code === code);
}

function slice(text: string, d: { span: { start: number; end: number } }): string {
  return text.slice(d.span.start, d.span.end);
}

describe("TL310 unhandled exits", () => {
  const guest = `
handler EXTERNAL_INTERRUPT { work 300 }
handler HLT { halt }

guest g on kvm {
  vcpus 1
  path p rate 10k/s {
    compute 2us
    cpuid
    out 0x3f8
  }
  idle halt
}
`;
  test("a CPUID and an OUT to a trapped port without handlers", () => {
    const text = VMCS + guest;
    const found = withCode(text, "TL310");
    const reasons = found.map((d) => d.message.match(/exits with (\w+)/)?.[1]).sort();
    assert.deepEqual(reasons, ["CPUID", "IO_INSTRUCTION"]);
    for (const d of found) assert.equal(d.severity, "error");
    const cpuid = found.find((d) => d.message.includes("CPUID"))!;
    assert.equal(slice(text, cpuid), "cpuid");
    const io = found.find((d) => d.message.includes("IO_INSTRUCTION"))!;
    assert.match(slice(text, io), /^out 0x3f8/);
    // Related: the control that makes OUT exit.
    assert.ok(
      io.related?.some((r) => slice(text, r) === "use_io_bitmaps"),
      JSON.stringify(io.related),
    );
  });

  test("the handler-skeleton fix appends a handler and clears the error", () => {
    let text = VMCS + guest;
    for (let i = 0; i < 3; i++) {
      const d = withCode(text, "TL310")[0];
      if (!d) break;
      const fix = d.fixes!.find((f) => f.preferred)!;
      text = applyEdits(text, fix.edits);
    }
    assert.deepEqual(withCode(text, "TL310"), []);
    assert.match(
      text,
      /handler CPUID \{\n {2}work 1000 {2}\/\/ placeholder estimate[^\n]*\n {2}advance_rip\n\}/,
    );
    const errors = analyze(text).diagnostics.filter((d) => d.severity === "error");
    assert.deepEqual(
      errors.map((d) => d.message),
      [],
    );
  });

  test("an OUT to an untrapped port does not exit and needs no handler", () => {
    const text = `${VMCS}
handler EXTERNAL_INTERRUPT { work 300 }
handler HLT { halt }
guest g on kvm { vcpus 1  path p rate 1k/s { out 0x80 }  idle halt }
`;
    assert.deepEqual(withCode(text, "TL310"), []);
  });
});

describe("TL311 handlers that never run", () => {
  test("RDTSC handler without rdtsc_exiting is dead; CPUID and EXTERNAL_INTERRUPT are not", () => {
    const text = `${VMCS}
handler RDTSC { work 100 advance_rip }
handler CPUID { work 100 advance_rip }
handler EXTERNAL_INTERRUPT { work 300 }
handler EPT_VIOLATION { work 300 }
handler IO_INSTRUCTION { work 300 advance_rip }
`;
    const found = withCode(text, "TL311");
    assert.deepEqual(
      found.map((d) => slice(text, d)),
      ["RDTSC"],
    );
    assert.equal(found[0]!.severity, "warning");
    assert.deepEqual(found[0]!.tags, ["unnecessary"]);
    const fixed = applyEdits(text, found[0]!.fixes![0]!.edits);
    assert.doesNotMatch(fixed, /RDTSC/);
    assert.deepEqual(withCode(fixed, "TL311"), []);
  });

  test("a handler is alive when any vmcs in the file enables the exit", () => {
    const text = `${VMCS}
vmcs other {
  proc rdtsc_exiting
  exit host_address_space_size
}
handler RDTSC { work 100 advance_rip }
`;
    assert.deepEqual(withCode(text, "TL311"), []);
  });
});

describe("TL32x settings without their control", () => {
  test("io trap without use_io_bitmaps, ple without pause_loop_exiting", () => {
    const text = VMCS.replace("use_io_bitmaps ", "").replace(
      "  field VIRTUAL",
      "  ple gap 128 window 4096\n  field VIRTUAL",
    );
    assert.equal(withCode(text, "TL320").length, 1);
    assert.equal(withCode(text, "TL322").length, 1);
    assert.equal(withCode(VMCS, "TL320").length, 0);
  });
});

describe("TL401 budgets and TL402 saturation", () => {
  const workload = (rate: string, budget: string) => `${VMCS}
handler IO_INSTRUCTION { work 2000 advance_rip }
handler EXTERNAL_INTERRUPT { work 300 }
handler HLT { halt }
guest g on kvm {
  vcpus 1
  path p rate ${rate} { compute 1us  out 0x3f8 }
  idle halt
}
expect g { ${budget} }
`;

  test("an exits budget the estimate exceeds is an error on the budget", () => {
    const text = workload("50k/s", "exits < 10k/s");
    const found = withCode(text, "TL401");
    assert.equal(found.length, 1);
    assert.equal(found[0]!.severity, "error");
    assert.match(slice(text, found[0]!), /exits/);
    assert.match(
      found[0]!.message,
      /exits [\d.]+k\/s \(static estimate\) violates the budget < 10(\.0)?k\/s/,
    );
  });

  test("budgets that hold are silent", () => {
    assert.deepEqual(withCode(workload("1k/s", "exits < 10k/s  overhead < 90%"), "TL401"), []);
  });

  test("overhead and per-reason budgets", () => {
    assert.equal(withCode(workload("50k/s", "overhead < 1%"), "TL401").length, 1);
    assert.equal(withCode(workload("50k/s", "exits IO_INSTRUCTION < 1k/s"), "TL401").length, 1);
    assert.equal(withCode(workload("50k/s", "exits CPUID < 1k/s"), "TL401").length, 0);
  });

  test("a saturated vCPU is TL402", () => {
    const text = workload("1M/s", "exits < 100M/s");
    const found = withCode(text, "TL402");
    assert.equal(found.length, 1);
    assert.equal(slice(text, found[0]!), "g");
    assert.deepEqual(withCode(workload("1k/s", "exits < 100M/s"), "TL402"), []);
  });
});

describe("robustness", () => {
  test("random mutations of the examples never produce an internal error", async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const dir = new URL("../examples/", import.meta.url);
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const names = readdirSync(dir).filter((n) => n.endsWith(".vmcs"));
    let runs = 0;
    for (const name of names) {
      const source = readFileSync(new URL(name, dir), "utf8");
      for (let i = 0; i < 25; i++) {
        const at = Math.floor(random() * source.length);
        const cut = Math.floor(random() * 40);
        const insert = ["", "{", "}", "0x", "proc2 ", "%", "\n", "enable_pml", "..", "@"][
          Math.floor(random() * 10)
        ]!;
        const text = source.slice(0, at) + insert + source.slice(at + cut);
        const analysis = analyze(text);
        runs++;
        const internal = analysis.diagnostics.filter((d) => d.code === "TL999");
        assert.deepEqual(
          internal.map((d) => d.message),
          [],
          `${name} mutated at ${at}`,
        );
      }
    }
    assert.ok(runs >= 100);
  });
});
