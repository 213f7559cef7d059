/**
 * Lints for configurations KVM never ships (core/src/analysis/lintsKvm.ts, TL340–TL343): each
 * has a failing file (the code, on the statement concerned) and the same file corrected (by the
 * quick fix where there is one), where the code is gone.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyze, applyEdits, type Diagnostic } from "../core/src/index";

interface Words {
  pin?: string;
  proc?: string;
  proc2?: string;
  extra?: string;
}

function vmcs(words: Words = {}): string {
  const pin = words.pin ?? "external_interrupt_exiting nmi_exiting virtual_nmis";
  const proc =
    words.proc ?? "hlt_exiting use_tsc_offsetting use_tpr_shadow use_msr_bitmaps activate_secondary_controls";
  const proc2 = words.proc2 ?? "enable_ept enable_vpid unrestricted_guest";
  return `target skylake_server @ 2GHz

vmcs kvm {
  pin   ${pin}
  proc  ${proc}
  proc2 ${proc2}
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  field VIRTUAL_PROCESSOR_ID = 1
${words.extra ? `  ${words.extra}\n` : ""}}
`;
}

function guest(ops: string, apic = "x2apic"): string {
  return `
handler MSR_WRITE { work 500 }
handler MSR_READ { work 500 }
handler HLT { halt }

guest g on kvm {
  vcpus 1
  apic ${apic}
  path p rate 10k/s {
    ${ops}
  }
}
`;
}

function withCode(text: string, code: string): Diagnostic[] {
  const analysis = analyze(text);
  assert.ok(!analysis.diagnostics.some((d) => d.code === "TL999"), "no internal error");
  return analysis.diagnostics.filter((d) => d.code === code);
}

function errors(text: string): string[] {
  return analyze(text)
    .diagnostics.filter((d) => d.severity === "error")
    .map((d) => `${d.code} ${d.message}`);
}

function slice(text: string, d: Diagnostic): string {
  return text.slice(d.span.start, d.span.end);
}

/** The preferred fix of the one `code` diagnostic, applied. */
function fixed(text: string, code: string): string {
  const [d] = withCode(text, code);
  assert.ok(d, `${code} reported`);
  const fix = d.fixes?.find((f) => f.preferred);
  assert.ok(fix, `${code} has a preferred fix`);
  return applyEdits(text, fix.edits);
}

describe("TL340 no external-interrupt exiting", () => {
  const bad = vmcs({ pin: "nmi_exiting virtual_nmis" }) + guest("compute 1us");

  test("warns on the pin line of a vmcs without external_interrupt_exiting", () => {
    const found = withCode(bad, "TL340");
    assert.equal(found.length, 1);
    assert.equal(found[0]!.severity, "warning");
    assert.equal(slice(bad, found[0]!), "pin   nmi_exiting virtual_nmis");
    assert.match(found[0]!.message, /external_interrupt_exiting.*setup_vmcs_config/);
    assert.deepEqual(errors(bad), []);
  });

  test("the fix adds the control; then TL340 is gone and nothing new fails", () => {
    const good = fixed(bad, "TL340");
    assert.match(good, /pin {3}nmi_exiting virtual_nmis external_interrupt_exiting/);
    assert.deepEqual(withCode(good, "TL340"), []);
    assert.deepEqual(errors(good), []);
  });

  test("KVM's pin word is quiet, and so is a sketch that writes no pin word", () => {
    assert.deepEqual(withCode(vmcs() + guest("compute 1us"), "TL340"), []);
    const sketch = "target skylake_server\nvmcs a {\n  proc hlt_exiting\n}\n";
    assert.deepEqual(withCode(sketch, "TL340"), []);
    assert.deepEqual(withCode(sketch, "TL342"), []);
    // A raw pin word is a configuration too.
    const raw = sketch.replace("  proc", "  field PIN_BASED_VM_EXEC_CONTROL = 0x8\n  proc");
    assert.equal(withCode(raw, "TL340").length, 1);
  });
});

describe("TL342 EPT off with neither CR3 loads nor #PF intercepted", () => {
  const noEpt = { proc2: "enable_vpid" };
  const bad = vmcs(noEpt) + guest("compute 1us");

  test("warns on the proc2 line", () => {
    const found = withCode(bad, "TL342");
    assert.equal(found.length, 1);
    assert.equal(slice(bad, found[0]!), "proc2 enable_vpid");
    assert.match(found[0]!.message, /without EPT.*cr3_load_exiting.*#PF/);
  });

  test("the fix adds cr3_load_exiting; #PF intercepted is enough too; EPT on is quiet", () => {
    const good = fixed(bad, "TL342");
    assert.match(good, /proc {2}.*cr3_load_exiting/);
    assert.deepEqual(withCode(good, "TL342"), []);
    assert.deepEqual(
      withCode(vmcs({ ...noEpt, extra: "exceptions #PF" }) + guest("compute 1us"), "TL342"),
      [],
    );
    assert.deepEqual(withCode(vmcs() + guest("compute 1us"), "TL342"), []);
  });

  test("without activate_secondary_controls EPT is off as well", () => {
    const text =
      vmcs({ proc: "hlt_exiting use_tsc_offsetting use_msr_bitmaps", proc2: "", extra: "" }).replace(
        "  proc2 \n",
        "",
      ) + guest("compute 1us");
    assert.equal(withCode(text, "TL342").length, 1);
  });
});

describe("TL341 x2APIC timer/EOI/ICR MSRs passed through", () => {
  test("a WRMSR of the timer's initial count with its bit clear warns on the operation; the fix traps it", () => {
    const bad = vmcs() + guest("wrmsr X2APIC_TIMER_ICR");
    const found = withCode(bad, "TL341");
    assert.equal(found.length, 1);
    assert.match(slice(bad, found[0]!), /^wrmsr X2APIC_TIMER_ICR/);
    assert.match(
      found[0]!.message,
      /physical local APIC.*never passes it through.*vmx_update_msr_bitmap_x2apic/,
    );
    const good = fixed(bad, "TL341");
    assert.match(good, /msr trap write X2APIC_TIMER_ICR\n}/);
    assert.deepEqual(withCode(good, "TL341"), []);
    assert.deepEqual(errors(good), []);
  });

  test("an x2APIC EOI passes only with virtualize_x2apic_mode + virtual_interrupt_delivery", () => {
    const bad = vmcs() + guest("eoi");
    const found = withCode(bad, "TL341");
    assert.equal(found.length, 1);
    assert.equal(slice(bad, found[0]!), "eoi");
    const apicv = vmcs({
      proc2:
        "enable_ept enable_vpid unrestricted_guest virtualize_x2apic_mode apic_register_virtualization virtual_interrupt_delivery",
    });
    assert.deepEqual(withCode(apicv + guest("eoi"), "TL341"), []);
    // In xAPIC mode the EOI is an MMIO write, not an MSR.
    assert.deepEqual(withCode(vmcs() + guest("eoi", "xapic"), "TL341"), []);
  });

  test("ICR writes pass through only with IPI virtualization; without MSR bitmaps every WRMSR exits", () => {
    assert.equal(withCode(vmcs() + guest("wrmsr X2APIC_ICR"), "TL341").length, 1);
    const noBitmaps = vmcs({
      proc: "hlt_exiting use_tsc_offsetting use_tpr_shadow activate_secondary_controls",
    });
    assert.deepEqual(withCode(noBitmaps + guest("wrmsr X2APIC_ICR"), "TL341"), []);
  });
});

describe("TL343 use_msr_bitmaps with an MSR KVM always intercepts left free", () => {
  test("a WRMSR of IA32_EFER with its bit clear warns on the operation; the fix traps it", () => {
    const bad = vmcs() + guest("wrmsr IA32_EFER");
    const found = withCode(bad, "TL343");
    assert.equal(found.length, 1);
    assert.match(slice(bad, found[0]!), /^wrmsr IA32_EFER/);
    assert.match(found[0]!.message, /KVM always intercepts IA32_EFER.*vmx_possible_passthrough_msrs/);
    const good = fixed(bad, "TL343");
    assert.deepEqual(withCode(good, "TL343"), []);
    assert.deepEqual(errors(good), []);
  });

  test("an MSR KVM may pass through (FS base) and a trapped read are quiet", () => {
    assert.deepEqual(withCode(vmcs() + guest("wrmsr IA32_FS_BASE"), "TL343"), []);
    assert.deepEqual(
      withCode(vmcs({ extra: "msr trap read IA32_MISC_ENABLE" }) + guest("rdmsr IA32_MISC_ENABLE"), "TL343"),
      [],
    );
    assert.equal(withCode(vmcs() + guest("rdmsr IA32_MISC_ENABLE"), "TL343").length, 1);
  });
});
