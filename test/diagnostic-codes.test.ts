/**
 * One failing and one passing file for each diagnostic code that had no test of its own (issue
 * 14): the parser's syntax codes (TL000–TL017), lowering's name, value and range codes
 * (TL113–TL114, TL208–TL210), the program lints on statements whose control is off
 * (TL321, TL324–TL326) and VMX-E25 (VM functions). Each failing case asserts the code and the
 * text it sits on; each passing case is the same file with the mistake corrected, and asserts the
 * code is gone (so a check that cannot fail, or one that always fires, is caught).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyze, type Diagnostic } from "../core/src/index";

interface CodeCase {
  code: string;
  what: string;
  /** A file that must report `code` on `token` (the first diagnostic with that code). */
  failing: string;
  token: string;
  /** The same file corrected: `code` must not be reported. */
  passing: string;
}

/** A legal vmcs block (skylake_server) with `extra` statements appended. */
function vmcs(extra: string, controls: { proc?: string; proc2?: string; pin?: string } = {}): string {
  const pin = controls.pin ?? "external_interrupt_exiting nmi_exiting";
  const proc = controls.proc ?? "hlt_exiting use_tpr_shadow activate_secondary_controls";
  const proc2 = controls.proc2 ?? "enable_ept";
  return (
    "target skylake_server\n\nvmcs v {\n" +
    `  pin   ${pin}\n  proc  ${proc}\n  proc2 ${proc2}\n` +
    "  exit  host_address_space_size acknowledge_interrupt_on_exit\n  entry ia32e_mode_guest\n" +
    `${extra ? `  ${extra}\n` : ""}}\n`
  );
}

const GUEST = "handler HLT { halt }\nguest g on v {\n  idle halt\n}\n";

const CASES: readonly CodeCase[] = [
  {
    code: "TL000",
    what: "more syntax errors than the parser reports",
    // One syntax error per block (a vmcs without a name): the 101st is replaced by TL000.
    failing: "vmcs {\n}\n".repeat(101),
    token: "{",
    passing: "vmcs {\n}\n".repeat(100),
  },
  {
    code: "TL010",
    what: "a top-level line that is no declaration",
    failing: "target skylake_server\nvmsc v {\n}\n",
    token: "vmsc",
    passing: "target skylake_server\nvmcs v {\n}\n",
  },
  {
    code: "TL011",
    what: "text after a declaration on its line",
    failing: `${vmcs("")}simulate g for 10ms seed x\n`,
    token: "x",
    passing: `${vmcs("")}simulate g for 10ms seed 1\n`,
  },
  {
    code: "TL012",
    what: "a block never closed",
    failing: "target skylake_server\nvmcs v {\n  pin nmi_exiting\n",
    token: "{",
    passing: "target skylake_server\nvmcs v {\n  pin nmi_exiting\n}\n",
  },
  {
    code: "TL015",
    what: "a branch arm without a percentage",
    failing: "fn f {\n  branch {\n    50 work 10\n  }\n}\n",
    token: "50",
    passing: "fn f {\n  branch {\n    50% work 10\n  }\n}\n",
  },
  {
    code: "TL016",
    what: "an EPT entry without permissions",
    failing: vmcs("ept { 0x0 .. 0xfff }"),
    token: "}",
    passing: vmcs("ept { 0x0 .. 0xfff rwx }"),
  },
  {
    code: "TL017",
    what: "a budget without a comparator",
    failing: `${vmcs("")}${GUEST}expect g { overhead 20% }\n`,
    token: "20%",
    passing: `${vmcs("")}${GUEST}expect g { overhead < 20% }\n`,
  },
  {
    code: "TL113",
    what: "an unknown capability MSR in a target block",
    failing: "target skylake_server {\n  msr IA32_VMX_MISK = 0x0\n}\n",
    token: "IA32_VMX_MISK",
    passing: "target skylake_server {\n  msr IA32_VMX_MISC = 0x0\n}\n",
  },
  {
    code: "TL114",
    what: "an unknown word of a statement (EPT memory type)",
    failing: vmcs("eptp memtype WT"),
    token: "WT",
    passing: vmcs("eptp memtype WB"),
  },
  {
    code: "TL208",
    what: "a budget that is a lower limit",
    failing: `${vmcs("")}${GUEST}expect g { overhead > 20% }\n`,
    token: ">",
    passing: `${vmcs("")}${GUEST}expect g { overhead <= 20% }\n`,
  },
  {
    code: "TL209",
    what: "overlapping EPT regions",
    failing: vmcs("ept { 0x0 .. 0x1fff rwx\n    0x1000 .. 0x2fff r }"),
    token: "0x1000 .. 0x2fff r",
    passing: vmcs("ept { 0x0 .. 0x1fff rwx\n    0x2000 .. 0x2fff r }"),
  },
  {
    code: "TL210",
    what: "an MSR trap outside the ranges the MSR bitmap covers",
    failing: vmcs("msr trap read 0x4000_0000", {
      proc: "hlt_exiting use_tpr_shadow use_msr_bitmaps activate_secondary_controls",
    }),
    token: "0x4000_0000",
    passing: vmcs("msr trap read 0xc000_0080", {
      proc: "hlt_exiting use_tpr_shadow use_msr_bitmaps activate_secondary_controls",
    }),
  },
  {
    code: "TL321",
    what: "msr trap without use_msr_bitmaps",
    failing: vmcs("msr trap write IA32_TSC_DEADLINE"),
    token: "IA32_TSC_DEADLINE",
    passing: vmcs("msr trap write IA32_TSC_DEADLINE", {
      proc: "hlt_exiting use_tpr_shadow use_msr_bitmaps activate_secondary_controls",
    }),
  },
  {
    code: "TL324",
    what: "an EPT map without enable_ept",
    failing: vmcs("ept { 0x0 .. 0xfff rwx }", { proc2: "enable_rdtscp" }),
    token: "ept { 0x0 .. 0xfff rwx }",
    passing: vmcs("ept { 0x0 .. 0xfff rwx }"),
  },
  {
    code: "TL325",
    what: "cr3_targets without cr3_load_exiting",
    // With TRUE controls (skylake_server) cr3_load_exiting is not a default1 bit that must stay 1.
    failing: vmcs("cr3_targets 0x1000"),
    token: "0x1000",
    passing: vmcs("cr3_targets 0x1000", {
      proc: "hlt_exiting cr3_load_exiting use_tpr_shadow activate_secondary_controls",
    }),
  },
  {
    code: "TL326",
    what: "posted_interrupt_vector without process_posted_interrupts",
    failing: vmcs("posted_interrupt_vector 0xf2"),
    token: "posted_interrupt_vector 0xf2",
    passing: vmcs("posted_interrupt_vector 0xf2", {
      pin: "external_interrupt_exiting nmi_exiting process_posted_interrupts",
      proc2: "enable_ept virtual_interrupt_delivery",
    }),
  },
  {
    code: "VMX-E25",
    what: "VM functions the target does not support",
    failing: vmcs("field VM_FUNCTION_CONTROL = 0x2", { proc2: "enable_ept enable_vm_functions" }),
    token: "field VM_FUNCTION_CONTROL = 0x2",
    passing: vmcs("field VM_FUNCTION_CONTROL = 0x1", { proc2: "enable_ept enable_vm_functions" }),
  },
  {
    code: "VMX-E25",
    what: "EPTP switching without enable_ept",
    failing: vmcs("field VM_FUNCTION_CONTROL = 0x1", {
      proc2: "enable_vm_functions",
      proc: "hlt_exiting use_tpr_shadow activate_secondary_controls",
    }),
    token: "field VM_FUNCTION_CONTROL = 0x1",
    passing: vmcs("field VM_FUNCTION_CONTROL = 0x1", { proc2: "enable_ept enable_vm_functions" }),
  },
  {
    code: "VMX-E25",
    what: "an EPTP-list address that is not page aligned",
    failing: vmcs("field VM_FUNCTION_CONTROL = 0x1\n  field EPTP_LIST_ADDRESS = 0x1008", {
      proc2: "enable_ept enable_vm_functions",
    }),
    token: "field EPTP_LIST_ADDRESS = 0x1008",
    passing: vmcs("field VM_FUNCTION_CONTROL = 0x1\n  field EPTP_LIST_ADDRESS = 0x1000", {
      proc2: "enable_ept enable_vm_functions",
    }),
  },
];

function describeAll(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map((d) => `${d.code} ${d.message}`).join("\n");
}

describe("every emitted code has a failing and a passing test", () => {
  for (const c of CASES) {
    test(`${c.code}: ${c.what}`, () => {
      const failing = analyze(c.failing);
      const found = failing.diagnostics.filter((d) => d.code === c.code);
      assert.ok(
        found.length > 0,
        `expected ${c.code} in:\n${c.failing}\ngot:\n${describeAll(failing.diagnostics)}`,
      );
      // The first report of the code (TL000 is reported once).
      const at = found[0]!;
      assert.equal(c.failing.slice(at.span.start, at.span.end), c.token, `${c.code} sits on its token`);
      assert.ok(at.message.length > 10, "says what is wrong");
      assert.ok(
        !failing.diagnostics.some((x) => x.code === "TL999"),
        `no internal error:\n${describeAll(failing.diagnostics)}`,
      );

      const passing = analyze(c.passing);
      assert.deepEqual(
        passing.diagnostics.filter((x) => x.code === c.code).map((x) => x.message),
        [],
        `the corrected file has no ${c.code}:\n${c.passing}`,
      );
      assert.ok(!passing.diagnostics.some((x) => x.code === "TL999"));
    });
  }

  test("TL000 is reported once, after exactly 100 syntax errors", () => {
    const text = "vmcs {\n}\n".repeat(150);
    const analysis = analyze(text);
    const syntax = analysis.diagnostics.filter((d) => /^TL0/.test(d.code));
    assert.equal(syntax.filter((d) => d.code === "TL000").length, 1);
    assert.equal(syntax.filter((d) => d.code !== "TL000").length, 100);
    // It sits on the first error it stands for: the `{` of the 101st block.
    const tl000 = syntax.find((d) => d.code === "TL000")!;
    assert.equal(tl000.span.start, "vmcs {\n}\n".length * 100 + "vmcs ".length);
  });
});
