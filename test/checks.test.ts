/**
 * VM-entry checks (checks.ts) through the whole pipeline: text → analyze → diagnostic code, span
 * on the right token, related information, and quick fixes that apply and leave the file clean.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Analysis, analyze, applyEdits, type Diagnostic } from "../core/src/index";
import { controlWordCapability } from "../core/src/vmx/capabilities";
import { profileByName } from "../core/src/vmx/profiles";

const BASE = {
  pin: "external_interrupt_exiting nmi_exiting",
  proc: "hlt_exiting use_tpr_shadow activate_secondary_controls",
  proc2: "enable_ept",
  exit: "host_address_space_size acknowledge_interrupt_on_exit",
  entry: "ia32e_mode_guest",
};
type Words = Partial<Record<keyof typeof BASE | "proc3", string>>;

/** A file with one vmcs block: the base controls with `words` replacing lines, plus `extra`. */
function vmcsFile(words: Words = {}, extra = "", target = "skylake_server"): string {
  const merged: Record<string, string> = { ...BASE, ...words };
  const lines = Object.entries(merged)
    .filter(([, names]) => names.trim() !== "")
    .map(([word, names]) => `  ${word.padEnd(5)} ${names}`);
  return `target ${target}\n\nvmcs v {\n${lines.join("\n")}\n${extra ? `  ${extra}\n` : ""}}\n`;
}

/** Diagnostics of the VM-entry checks and activation lints (not the TL0xx–TL2xx front end). */
function checkDiagnostics(analysis: Analysis): Diagnostic[] {
  return analysis.diagnostics.filter((d) => d.code.startsWith("VMX-") || d.code.startsWith("TL30"));
}

function frontEndErrors(analysis: Analysis): Diagnostic[] {
  return analysis.diagnostics.filter(
    (d) => d.severity === "error" && !d.code.startsWith("VMX-") && !d.code.startsWith("TL"),
  );
}

function assertNoInternalErrors(analysis: Analysis): void {
  const internal = analysis.diagnostics.filter(
    (d) => d.code === "TL999" || (d.severity === "error" && /^TL0|^TL1|^TL2/.test(d.code)),
  );
  assert.deepEqual(
    internal.map((d) => `${d.code} ${d.message}`),
    [],
  );
}

function clean(text: string): void {
  const analysis = analyze(text);
  assertNoInternalErrors(analysis);
  assert.deepEqual(
    checkDiagnostics(analysis).map((d) => `${d.code} ${d.message}`),
    [],
    `expected no check diagnostics in:\n${text}`,
  );
}

/** Finds the one diagnostic with `code`, asserts it sits on `token`, returns it with the analysis. */
function expectCode(text: string, code: string, token?: string): { d: Diagnostic; analysis: Analysis } {
  const analysis = analyze(text);
  assert.deepEqual(
    frontEndErrors(analysis).map((d) => `${d.code} ${d.message}`),
    [],
    `front end errors in:\n${text}`,
  );
  assertNoInternalErrors(analysis);
  const found = analysis.diagnostics.filter((d) => d.code === code);
  assert.ok(
    found.length > 0,
    `expected ${code} in:\n${text}\ngot: ${analysis.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n")}`,
  );
  const d = found[0]!;
  if (token !== undefined) assert.equal(text.slice(d.span.start, d.span.end), token);
  assert.ok(d.reference && d.reference.length > 10, "cites its source");
  return { d, analysis };
}

/** Applies preferred fixes of check diagnostics until none is left (bounded), asserts clean. */
function fixUntilClean(text: string): string {
  let current = text;
  for (let round = 0; round < 6; round++) {
    const remaining = checkDiagnostics(analyze(current));
    if (remaining.length === 0) return current;
    const withFix = remaining.find((d) => d.fixes?.some((f) => f.preferred));
    assert.ok(withFix, `no preferred fix for ${remaining.map((d) => d.code).join(", ")} in:\n${current}`);
    current = applyEdits(current, withFix.fixes!.find((f) => f.preferred)!.edits);
  }
  clean(current);
  return current;
}

describe("baseline", () => {
  test("the base vmcs is legal on skylake_server", () => clean(vmcsFile()));
});

describe("control-pair rules", () => {
  const cases: { name: string; code: string; words: Words; token: string; other: string; good: Words }[] = [
    {
      name: "E11 virtualize_x2apic_mode needs use_tpr_shadow",
      code: "VMX-E11",
      words: { proc: "hlt_exiting activate_secondary_controls", proc2: "enable_ept virtualize_x2apic_mode" },
      token: "virtualize_x2apic_mode",
      other: "use_tpr_shadow",
      good: { proc2: "enable_ept virtualize_x2apic_mode" },
    },
    {
      name: "E13 x2APIC mode excludes APIC-access virtualization",
      code: "VMX-E13",
      words: { proc2: "enable_ept virtualize_x2apic_mode virtualize_apic_accesses" },
      token: "virtualize_x2apic_mode",
      other: "virtualize_apic_accesses",
      good: { proc2: "enable_ept virtualize_apic_accesses" },
    },
    {
      name: "E14 virtual-interrupt delivery needs external-interrupt exiting",
      code: "VMX-E14",
      words: { pin: "nmi_exiting", proc2: "enable_ept virtual_interrupt_delivery" },
      token: "virtual_interrupt_delivery",
      other: "external_interrupt_exiting",
      good: { proc2: "enable_ept virtual_interrupt_delivery" },
    },
    {
      name: "E15 posted interrupts need acknowledge_interrupt_on_exit",
      code: "VMX-E15",
      words: {
        pin: "external_interrupt_exiting nmi_exiting process_posted_interrupts",
        proc2: "enable_ept virtual_interrupt_delivery",
        exit: "host_address_space_size",
      },
      token: "process_posted_interrupts",
      other: "acknowledge_interrupt_on_exit",
      good: {
        pin: "external_interrupt_exiting nmi_exiting process_posted_interrupts",
        proc2: "enable_ept virtual_interrupt_delivery",
      },
    },
    {
      name: "E16 virtual NMIs need NMI exiting",
      code: "VMX-E16",
      words: { pin: "external_interrupt_exiting virtual_nmis" },
      token: "virtual_nmis",
      other: "nmi_exiting",
      good: { pin: "external_interrupt_exiting nmi_exiting virtual_nmis" },
    },
    {
      name: "E17 NMI-window exiting needs virtual NMIs",
      code: "VMX-E17",
      words: { proc: "hlt_exiting nmi_window_exiting use_tpr_shadow activate_secondary_controls" },
      token: "nmi_window_exiting",
      other: "virtual_nmis",
      good: {
        pin: "external_interrupt_exiting nmi_exiting virtual_nmis",
        proc: "hlt_exiting nmi_window_exiting use_tpr_shadow activate_secondary_controls",
      },
    },
    {
      name: "E18 PML needs EPT",
      code: "VMX-E18",
      words: { proc2: "enable_pml" },
      token: "enable_pml",
      other: "enable_ept",
      good: { proc2: "enable_ept enable_pml" },
    },
    {
      name: "E19 unrestricted guest needs EPT",
      code: "VMX-E19",
      words: { proc2: "unrestricted_guest" },
      token: "unrestricted_guest",
      other: "enable_ept",
      good: { proc2: "enable_ept unrestricted_guest" },
    },
    {
      name: "E23 saving the preemption timer needs the timer",
      code: "VMX-E23",
      words: {
        exit: "host_address_space_size acknowledge_interrupt_on_exit save_vmx_preemption_timer_value",
      },
      token: "save_vmx_preemption_timer_value",
      other: "activate_vmx_preemption_timer",
      good: {
        pin: "external_interrupt_exiting nmi_exiting activate_vmx_preemption_timer",
        exit: "host_address_space_size acknowledge_interrupt_on_exit save_vmx_preemption_timer_value",
      },
    },
    {
      name: "N10 a 64-bit guest needs a 64-bit host",
      code: "VMX-N10",
      words: { exit: "acknowledge_interrupt_on_exit" },
      token: "ia32e_mode_guest",
      other: "host_address_space_size",
      good: {},
    },
  ];
  for (const c of cases) {
    test(`${c.name}: fails, fix applies cleanly`, () => {
      const text = vmcsFile(c.words);
      const { d } = expectCode(text, c.code, c.token);
      assert.equal(d.severity, "error");
      assert.match(d.message, new RegExp(c.token));
      assert.match(d.message, new RegExp(c.other));
      assert.ok(d.related && d.related.length > 0, "has related information");
      const relatedText = text.slice(d.related[0]!.span.start, d.related[0]!.span.end);
      assert.ok(
        relatedText === c.other || relatedText === "v",
        `related points at ${c.other} or the vmcs name`,
      );
      const preferred = d.fixes?.filter((f) => f.preferred) ?? [];
      assert.equal(preferred.length, 1, "exactly one preferred fix");
      fixUntilClean(text);
    });
    test(`${c.name}: passes when legal`, () => clean(vmcsFile(c.good)));
  }

  test("E15 posted interrupts without virtual-interrupt delivery: the fix adds it", () => {
    const text = vmcsFile({ pin: "external_interrupt_exiting nmi_exiting process_posted_interrupts" });
    const { d } = expectCode(text, "VMX-E15", "process_posted_interrupts");
    assert.match(d.message, /virtual_interrupt_delivery/);
    const fixed = applyEdits(text, d.fixes!.find((f) => f.preferred)!.edits);
    assert.match(fixed, /proc2 enable_ept virtual_interrupt_delivery/);
    clean(fixed);
  });

  test("E11 fix for a missing proc line adds a new line inside the block, indented", () => {
    const text = vmcsFile({
      proc: "",
      proc2: "",
      pin: "external_interrupt_exiting nmi_exiting process_posted_interrupts",
    });
    const fixed = fixUntilClean(text);
    assert.match(fixed, /\n {2}proc activate_secondary_controls use_tpr_shadow|\n {2}proc use_tpr_shadow/);
    assert.match(fixed, /\n {2}proc2 virtual_interrupt_delivery/);
  });

  test("fix on a one-line vmcs block inserts before the closing brace", () => {
    const text =
      "target skylake_server\nvmcs v { pin virtual_nmis exit host_address_space_size acknowledge_interrupt_on_exit }\n";
    const { d } = expectCode(text, "VMX-E16", "virtual_nmis");
    const fixed = applyEdits(text, d.fixes!.find((f) => f.preferred)!.edits);
    assert.match(fixed, /pin virtual_nmis nmi_exiting/);
    clean(fixed);
  });

  test("the drop fix removes the control", () => {
    const text = vmcsFile({ pin: "external_interrupt_exiting virtual_nmis" });
    const { d } = expectCode(text, "VMX-E16", "virtual_nmis");
    const drop = d.fixes!.find((f) => !f.preferred)!;
    assert.match(drop.title, /Remove virtual_nmis/);
    const fixed = applyEdits(text, drop.edits);
    assert.doesNotMatch(fixed, /virtual_nmis/);
    clean(fixed);
  });
});

describe("activation (TL301/TL302)", () => {
  test("secondary controls without activate_secondary_controls are ignored", () => {
    const text = vmcsFile({ proc: "hlt_exiting use_tpr_shadow" });
    const { d } = expectCode(text, "TL301", "enable_ept");
    assert.equal(d.severity, "warning");
    assert.match(d.message, /activate_secondary_controls/);
    const fixed = applyEdits(text, d.fixes!.find((f) => f.preferred)!.edits);
    assert.match(fixed, /proc {2}hlt_exiting use_tpr_shadow activate_secondary_controls/);
    clean(fixed);
  });

  test("a raw secondary word without activate_secondary_controls is ignored too", () => {
    // Secondary bit 1 = enable_ept (SDM Table 26-7).
    const text = vmcsFile(
      { proc: "hlt_exiting use_tpr_shadow", proc2: "" },
      "field SECONDARY_VM_EXEC_CONTROL = 0x2",
    );
    const { d } = expectCode(text, "TL301", "field SECONDARY_VM_EXEC_CONTROL = 0x2");
    assert.match(d.message, /= 0x2 is ignored: activate_secondary_controls \(proc\) is 0/);
    const fixed = applyEdits(text, d.fixes!.find((f) => f.preferred)!.edits);
    clean(fixed);
    clean(
      vmcsFile({ proc: "hlt_exiting use_tpr_shadow", proc2: "" }, "field SECONDARY_VM_EXEC_CONTROL = 0x0"),
    );
  });

  test("an ignored secondary word is not checked further (E19 does not fire)", () => {
    const analysis = analyze(vmcsFile({ proc: "hlt_exiting", proc2: "unrestricted_guest" }));
    assert.ok(analysis.diagnostics.some((d) => d.code === "TL301"));
    assert.ok(!analysis.diagnostics.some((d) => d.code === "VMX-E19"));
  });

  test("tertiary controls without activate_tertiary_controls", () => {
    const text = vmcsFile({ proc3: "ipi_virtualization" }, "", "sapphire_rapids");
    expectCode(text, "TL302", "ipi_virtualization");
  });
});

describe("field rules", () => {
  test("E5 more CR3 targets than IA32_VMX_MISC allows", () => {
    expectCode(vmcsFile({}, "cr3_targets 0x1000 0x2000 0x3000 0x4000 0x5000"), "VMX-E5");
    clean(
      vmcsFile(
        { proc: "hlt_exiting cr3_load_exiting use_tpr_shadow activate_secondary_controls" },
        "cr3_targets 0x1000 0x2000 0x3000 0x4000",
      ),
    );
  });

  test("E6/E7/E8 bitmap and virtual-APIC addresses must be page aligned", () => {
    const proc = "hlt_exiting use_tpr_shadow use_io_bitmaps use_msr_bitmaps activate_secondary_controls";
    expectCode(vmcsFile({ proc }, "field IO_BITMAP_A = 0x1_0008"), "VMX-E6");
    expectCode(vmcsFile({ proc }, "field MSR_BITMAP = 0x2_0800"), "VMX-E7");
    expectCode(vmcsFile({ proc }, "field VIRTUAL_APIC_PAGE_ADDR = 0x3_0010"), "VMX-E8");
    clean(vmcsFile({ proc }, "field IO_BITMAP_A = 0x1_0000"));
    clean(vmcsFile({ proc }, "field MSR_BITMAP = 0x2_0000"));
  });

  test("E6 address beyond MAXPHYADDR", () => {
    const { d } = expectCode(
      vmcsFile(
        { proc: "hlt_exiting use_tpr_shadow use_io_bitmaps activate_secondary_controls" },
        "field IO_BITMAP_B = 0x8000_0000_0000_0000",
      ),
      "VMX-E6",
    );
    assert.match(d.message, /MAXPHYADDR/);
  });

  test("E9 TPR threshold bits 31:4 without virtual-interrupt delivery", () => {
    expectCode(vmcsFile({}, "tpr_threshold 0x20"), "VMX-E9");
    clean(vmcsFile({}, "tpr_threshold 0x2"));
  });

  test("E10 TPR threshold bits 3:0 above VTPR bits 7:4 without VID or APIC-access virtualization", () => {
    // Threshold 5 > VTPR 0x40 >> 4 = 4: fails; VTPR 0x50 (5): passes; no vtpr: not checked.
    const { d } = expectCode(vmcsFile({}, "tpr_threshold 5\n  vtpr 0x40"), "VMX-E10", "tpr_threshold 5");
    assert.match(d.message, /bits 3:0 \(5\) exceed VTPR bits 7:4 \(4, VTPR 0x40\)/);
    assert.ok(d.related?.some((r) => r.message.startsWith("VTPR 0x40")));
    clean(vmcsFile({}, "tpr_threshold 5\n  vtpr 0x50"));
    clean(vmcsFile({}, "tpr_threshold 5"));
    // With APIC-access virtualization (or virtual-interrupt delivery) the rule does not apply.
    clean(
      vmcsFile(
        { proc2: "enable_ept virtualize_apic_accesses" },
        "tpr_threshold 5\n  vtpr 0x40\n  field APIC_ACCESS_ADDR = 0xfee0_0000",
      ),
    );
    // Without the TPR shadow there is no virtual-APIC page: TL327.
    const analysis = analyze(vmcsFile({ proc: "hlt_exiting activate_secondary_controls" }, "vtpr 0x40"));
    assert.deepEqual(
      analysis.diagnostics.filter((x) => x.code === "TL327").map((x) => x.severity),
      ["warning"],
    );
  });

  test("E12 APIC-access address", () => {
    expectCode(
      vmcsFile({ proc2: "enable_ept virtualize_apic_accesses" }, "field APIC_ACCESS_ADDR = 0xfee0_0001"),
      "VMX-E12",
    );
  });

  test("E15 notification vector and descriptor alignment", () => {
    const words = {
      pin: "external_interrupt_exiting nmi_exiting process_posted_interrupts",
      proc2: "enable_ept virtual_interrupt_delivery",
    };
    expectCode(vmcsFile(words, "field POSTED_INTR_NV = 0x1f2"), "VMX-E15");
    expectCode(vmcsFile(words, "field POSTED_INTR_DESC_ADDR = 0x1020"), "VMX-E15");
    clean(vmcsFile(words, "field POSTED_INTR_DESC_ADDR = 0x1040"));
    clean(vmcsFile(words, "posted_interrupt_vector 0xf2"));
  });

  test("E18 PML address", () => {
    expectCode(vmcsFile({ proc2: "enable_ept enable_pml" }, "field PML_ADDRESS = 0x1234"), "VMX-E18");
  });

  test("E22 enable_vpid needs a non-zero VPID", () => {
    const text = vmcsFile({ proc2: "enable_ept enable_vpid" });
    const { d } = expectCode(text, "VMX-E22", "enable_vpid");
    assert.match(
      applyEdits(text, d.fixes!.find((f) => f.preferred)!.edits),
      /field VIRTUAL_PROCESSOR_ID = 1/,
    );
    fixUntilClean(text);
    expectCode(vmcsFile({ proc2: "enable_ept enable_vpid" }, "field VIRTUAL_PROCESSOR_ID = 0"), "VMX-E22");
    clean(vmcsFile({ proc2: "enable_ept enable_vpid" }, "field VIRTUAL_PROCESSOR_ID = 7"));
  });

  test("E24 EPTP properties against IA32_VMX_EPT_VPID_CAP", () => {
    const { d } = expectCode(vmcsFile({}, "eptp memtype WB levels 5"), "VMX-E24");
    assert.match(d.message, /5-level/);
    clean(vmcsFile({}, "eptp memtype WB levels 4 accessed_dirty"));
    expectCode(vmcsFile({}, "field EPT_POINTER = 0x1000_0001"), "VMX-E24");
    clean(vmcsFile({}, "field EPT_POINTER = 0x1000_005e"));
  });

  test("E28 TSC scaling needs a multiplier", () => {
    const text = vmcsFile({ proc2: "enable_ept use_tsc_scaling" });
    expectCode(text, "VMX-E28", "use_tsc_scaling");
    fixUntilClean(text);
  });

  test("X3/X4 MSR-store list alignment and length; N8 MSR-load list", () => {
    expectCode(
      vmcsFile({}, "field VM_EXIT_MSR_STORE_COUNT = 2\n  field VM_EXIT_MSR_STORE_ADDR = 0x1008"),
      "VMX-X3",
    );
    expectCode(vmcsFile({}, "field VM_EXIT_MSR_LOAD_COUNT = 100000"), "VMX-X4");
    expectCode(
      vmcsFile({}, "field VM_ENTRY_MSR_LOAD_COUNT = 1\n  field VM_ENTRY_MSR_LOAD_ADDR = 0x1004"),
      "VMX-N8",
    );
    clean(vmcsFile({}, "field VM_ENTRY_MSR_LOAD_COUNT = 1\n  field VM_ENTRY_MSR_LOAD_ADDR = 0x1010"));
  });

  test("N2–N7 the VM-entry interruption-information field", () => {
    const inject = (value: string, more = "") =>
      vmcsFile({}, `field VM_ENTRY_INTR_INFO_FIELD = ${value}${more}`);
    expectCode(inject("0x8000_0100"), "VMX-N2"); // type 1 reserved
    expectCode(inject("0x8000_0205"), "VMX-N3"); // NMI with vector 5
    expectCode(inject("0x8000_0320"), "VMX-N3"); // hardware exception vector 32
    expectCode(inject("0x8000_030e"), "VMX-N4"); // #PF without its error code
    expectCode(inject("0x8000_0b06"), "VMX-N4"); // #UD with an error code
    expectCode(inject("0x8000_0b0e", "\n  field VM_ENTRY_EXCEPTION_ERROR_CODE = 0x1_0000"), "VMX-N5");
    expectCode(inject("0x8001_0b0e"), "VMX-N6");
    expectCode(inject("0x8000_0403"), "VMX-N7"); // INT3 as a software interrupt, no instruction length
    clean(inject("0x8000_0403", "\n  field VM_ENTRY_INSTRUCTION_LEN = 1"));
    clean(inject("0x8000_0b0e")); // #PF with error code
    clean(inject("0x8000_0202")); // NMI
    clean(inject("0x0000_0100")); // not valid: nothing is checked
  });

  test("N9 entry to SMM outside SMM", () => {
    const text = vmcsFile({ entry: "ia32e_mode_guest entry_to_smm" });
    expectCode(text, "VMX-N9", "entry_to_smm");
    fixUntilClean(text);
  });
});

describe("capabilities", () => {
  test("enable_pml is VMX-CAP1 on haswell and fine on broadwell", () => {
    const words = { proc2: "enable_ept enable_pml" };
    const { d } = expectCode(vmcsFile(words, "", "haswell"), "VMX-CAP1", "enable_pml");
    assert.match(d.message, /haswell/);
    assert.match(d.message, /IA32_VMX_PROCBASED_CTLS2/);
    assert.ok(d.fixes?.[0]?.preferred);
    clean(vmcsFile(words, "", "broadwell"));
  });

  test("ipi_virtualization only on sapphire_rapids", () => {
    const words = {
      proc: "hlt_exiting use_tpr_shadow activate_secondary_controls activate_tertiary_controls",
      proc3: "ipi_virtualization",
    };
    clean(vmcsFile(words, "", "sapphire_rapids"));
    const analysis = analyze(vmcsFile(words, "", "icelake_server"));
    assert.ok(
      analysis.diagnostics.some(
        (d) => d.code === "VMX-CAP1" && /activate_tertiary_controls|ipi_virtualization/.test(d.message),
      ),
    );
  });

  test("a capability MSR override in the target block changes the verdict", () => {
    const text = `target broadwell {\n  msr IA32_VMX_PROCBASED_CTLS2 = 0\n}\nvmcs v {\n  pin external_interrupt_exiting nmi_exiting\n  proc hlt_exiting activate_secondary_controls\n  proc2 enable_ept\n  exit host_address_space_size acknowledge_interrupt_on_exit\n  entry ia32e_mode_guest\n}\n`;
    const { d } = expectCode(text, "VMX-CAP1", "enable_ept");
    assert.match(d.message, /override/);
  });

  test("VMX-CAP0: a raw control word that clears must-be-one bits", () => {
    const text = vmcsFile({}, "field PIN_BASED_VM_EXEC_CONTROL = 0x1");
    const analysis = analyze(text);
    assertNoInternalErrors(analysis);
    assert.ok(
      analysis.diagnostics.some((d) => d.code === "VMX-CAP0"),
      analysis.diagnostics.map((d) => d.code).join(),
    );
  });
});

/** The base file with `msr NAME = VALUE` overriding the target's capability MSR. */
function withMsr(msr: string, words: Words = {}, extra = ""): string {
  return vmcsFile(words, extra).replace(
    "target skylake_server\n",
    `target skylake_server {\n  msr ${msr}\n}\n`,
  );
}

const errors = (analysis: Analysis) =>
  analysis.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code} ${d.message}`);

/** Applies the preferred fix of `d`: its code is gone and no error appeared that was not there. */
function applyPreferred(text: string, d: Diagnostic): string {
  const fix = d.fixes?.find((f) => f.preferred);
  assert.ok(fix, `no preferred fix: ${JSON.stringify(d.fixes)}`);
  const before = new Set(errors(analyze(text)));
  const fixed = applyEdits(text, fix.edits);
  const after = analyze(fixed);
  assertNoInternalErrors(after);
  assert.ok(!after.diagnostics.some((x) => x.code === d.code), `${d.code} left in:\n${fixed}`);
  assert.deepEqual(
    errors(after).filter((e) => !before.has(e)),
    [],
    `new errors in:\n${fixed}`,
  );
  return fixed;
}

describe("VMX-CAP0 quick fix", () => {
  test("a raw control word: the fix sets the required bits in the field, as adjust_vmx_controls does", () => {
    const text = vmcsFile({}, "field PIN_BASED_VM_EXEC_CONTROL = 0x1");
    const { d } = expectCode(text, "VMX-CAP0", "field PIN_BASED_VM_EXEC_CONTROL = 0x1");
    assert.match(d.message, /clears bits 0x16 that target skylake_server requires to be 1/);
    const fixed = applyPreferred(text, d);
    assert.match(fixed, /\n {2}field PIN_BASED_VM_EXEC_CONTROL = 0x17\n/);
    clean(fixed);
  });

  test("a raw primary word on a CPU without TRUE controls keeps its other bits", () => {
    const text = vmcsFile({}, "field CPU_BASED_VM_EXEC_CONTROL = 0x8020_0080", "nehalem");
    const { d } = expectCode(text, "VMX-CAP0");
    const fixed = applyPreferred(text, d);
    // 0x8020_0080 | default1 bits 0x0400_6172 (IA32_VMX_TRUE_PROCBASED_CTLS allowed-0 of nehalem).
    assert.match(fixed, /field CPU_BASED_VM_EXEC_CONTROL = 0x842061f2/);
  });

  test("a must-be-one control the block does not list is appended to its word's line", () => {
    // An override requiring unrestricted_guest (PROCBASED_CTLS2 allowed-0 bit 7).
    const text = withMsr("IA32_VMX_PROCBASED_CTLS2 = 0x35f7fff_00000080");
    const { d } = expectCode(text, "VMX-CAP0", "v");
    assert.match(
      d.message,
      /unrestricted_guest \(proc2\) must be 1 on target skylake_server \(with the file's/,
    );
    assert.ok(d.related?.some((r) => text.slice(r.span.start, r.span.end).startsWith("proc2")));
    const fix = d.fixes!.find((f) => f.preferred)!;
    assert.equal(fix.title, "Add unrestricted_guest (proc2)");
    const fixed = applyPreferred(text, d);
    assert.match(fixed, /\n {2}proc2 enable_ept unrestricted_guest\n/);
    clean(fixed);
  });

  test("the word has no line yet: a new line with the block's indentation, with what the control requires", () => {
    // virtual_nmis (pin bit 5) required; it needs nmi_exiting (E16), added in the same fix.
    const text = withMsr("IA32_VMX_TRUE_PINBASED_CTLS = 0xff_0000_0036", { pin: "" });
    assert.doesNotMatch(text, /\bpin\b/);
    const { d } = expectCode(text, "VMX-CAP0", "v");
    const fix = d.fixes!.find((f) => f.preferred)!;
    assert.match(fix.title, /^Add virtual_nmis \(pin\) with what it requires: nmi_exiting \(pin\)$/);
    const fixed = applyPreferred(text, d);
    assert.match(fixed, /\n {2}entry ia32e_mode_guest\n {2}pin virtual_nmis nmi_exiting\n}/);
    clean(fixed);
  });

  test("a control that would fail another rule is offered, not preferred, and the title says why", () => {
    // enable_vpid required: adding it alone fails E22 (VIRTUAL_PROCESSOR_ID is 0).
    const text = withMsr("IA32_VMX_PROCBASED_CTLS2 = 0x35f7fff_00000020");
    const { d } = expectCode(text, "VMX-CAP0", "v");
    assert.equal(d.fixes?.length, 1);
    const fix = d.fixes![0]!;
    assert.ok(!fix.preferred);
    assert.match(fix.title, /^Add enable_vpid \(proc2\) — not preferred: VM entry would then fail VMX-E22/);
    const fixed = applyEdits(text, fix.edits);
    assert.ok(!analyze(fixed).diagnostics.some((x) => x.code === "VMX-CAP0"));
    expectCode(fixed, "VMX-E22", "enable_vpid");
    // With the field set, the same fix is preferred.
    const withVpid = withMsr(
      "IA32_VMX_PROCBASED_CTLS2 = 0x35f7fff_00000020",
      {},
      "field VIRTUAL_PROCESSOR_ID = 1",
    );
    const { d: d2 } = expectCode(withVpid, "VMX-CAP0", "v");
    assert.equal(d2.fixes?.find((f) => f.preferred)?.title, "Add enable_vpid (proc2)");
    clean(applyPreferred(withVpid, d2));
  });

  test("a must-be-one bit without a language name gets no fix, and the message says why", () => {
    // Secondary bit 21 is named by neither Linux nor Bochs (vmx-facts §1).
    const text = withMsr("IA32_VMX_PROCBASED_CTLS2 = 0x37f7fff_00200000");
    const { d } = expectCode(text, "VMX-CAP0", "v");
    assert.match(d.message, /leaves proc2 bits 0x200000 0/);
    assert.match(d.message, /no control name/);
    assert.equal(d.fixes, undefined);
  });

  test("an inactive secondary word is not checked (E3)", () => {
    const text = withMsr("IA32_VMX_PROCBASED_CTLS2 = 0x35f7fff_00000080", {
      proc: "hlt_exiting use_tpr_shadow",
      proc2: "",
    });
    assert.ok(!analyze(text).diagnostics.some((d) => d.code === "VMX-CAP0"));
  });
});

describe("VMX-CAP1 quick fix", () => {
  test("a raw control word: the fix clears the disallowed bits in the field, as adjust_vmx_controls does", () => {
    // Pin bits 8 and 15 are reserved (allowed-1 = 0 on every profile); 0x16 are the default1 bits.
    const text = vmcsFile({}, "field PIN_BASED_VM_EXEC_CONTROL = 0x8117");
    const { d } = expectCode(text, "VMX-CAP1", "field PIN_BASED_VM_EXEC_CONTROL = 0x8117");
    assert.match(d.message, /sets bits 0x8100 that target skylake_server does not allow to be 1/);
    assert.equal(
      d.fixes?.find((f) => f.preferred)?.title,
      "Clear the disallowed bits: PIN_BASED_VM_EXEC_CONTROL = 0x17",
    );
    const fixed = applyPreferred(text, d);
    assert.match(fixed, /\n {2}field PIN_BASED_VM_EXEC_CONTROL = 0x17\n/);
    clean(fixed);
  });

  test("a raw word with required bits missing and disallowed bits set: one adjust_vmx_controls fix for both", () => {
    // 0x16 (default1) missing, reserved bits 8 and 15 set.
    const text = vmcsFile({}, "field PIN_BASED_VM_EXEC_CONTROL = 0x8101");
    const cap0 = expectCode(text, "VMX-CAP0", "field PIN_BASED_VM_EXEC_CONTROL = 0x8101").d;
    const cap1 = expectCode(text, "VMX-CAP1", "field PIN_BASED_VM_EXEC_CONTROL = 0x8101").d;
    for (const d of [cap0, cap1]) {
      const preferred = d.fixes?.filter((f) => f.preferred) ?? [];
      assert.deepEqual(
        preferred.map((f) => f.title),
        ["Set the required and clear the disallowed bits: PIN_BASED_VM_EXEC_CONTROL = 0x17"],
      );
      // The single-step fix is still offered, no longer preferred.
      assert.equal(d.fixes?.length, 2);
      const fixed = applyPreferred(text, d);
      assert.match(fixed, /\n {2}field PIN_BASED_VM_EXEC_CONTROL = 0x17\n/);
      clean(fixed);
    }
  });

  test("a raw bit the MSR override both forbids and requires: offered, not preferred, the title says why", () => {
    // Allowed-0 bit 8 set, allowed-1 bit 8 clear: clearing it fails VMX-CAP0 instead.
    const text = withMsr(
      "IA32_VMX_TRUE_PINBASED_CTLS = 0xff_0000_0116",
      {},
      "field PIN_BASED_VM_EXEC_CONTROL = 0x117",
    );
    const { d } = expectCode(text, "VMX-CAP1", "field PIN_BASED_VM_EXEC_CONTROL = 0x117");
    assert.equal(d.fixes?.length, 1);
    const fix = d.fixes![0]!;
    assert.ok(!fix.preferred);
    assert.match(
      fix.title,
      /= 0x17 \(bits 0x100 then fail VMX-CAP0: IA32_VMX_TRUE_PINBASED_CTLS requires and forbids them\)$/,
    );
    const after = analyze(applyEdits(text, fix.edits));
    assert.ok(!after.diagnostics.some((x) => x.code === "VMX-CAP1"));
    assert.ok(after.diagnostics.some((x) => x.code === "VMX-CAP0"));
  });

  test("an unsupported control on its word's line is removed with its blank", () => {
    const text = vmcsFile({ proc2: "enable_ept enable_pml" }, "", "haswell");
    const { d } = expectCode(text, "VMX-CAP1", "enable_pml");
    assert.equal(d.fixes?.length, 1);
    assert.equal(d.fixes![0]!.title, "Remove enable_pml (proc2)");
    const fixed = applyPreferred(text, d);
    assert.match(fixed, /\n {2}proc2 enable_ept\n/);
    clean(fixed);
  });

  test("the controls that require it go in the same fix (removing enable_ept alone fails E19)", () => {
    // An override without enable_ept (PROCBASED_CTLS2 allowed-1 bit 1) that keeps unrestricted_guest.
    const msr = "IA32_VMX_PROCBASED_CTLS2 = 0x35f7ffd_00000000";
    const text = withMsr(msr, { proc2: "wbinvd_exiting, enable_ept, unrestricted_guest" });
    const { d } = expectCode(text, "VMX-CAP1", "enable_ept");
    assert.ok(!analyze(text).diagnostics.some((x) => x.code === "VMX-E19"));
    expectCode(text.replace(", enable_ept", ""), "VMX-E19", "unrestricted_guest");
    assert.equal(d.fixes?.length, 1);
    assert.equal(
      d.fixes![0]!.title,
      "Remove enable_ept (proc2) with what depends on it: unrestricted_guest (proc2)",
    );
    const fixed = applyPreferred(text, d);
    assert.match(fixed, /\n {2}proc2 wbinvd_exiting\n {2}exit/);
    clean(fixed);
    // Every name of the statement goes: so does the statement's line.
    const whole = withMsr(msr, { proc2: "enable_ept unrestricted_guest" });
    const fixedWhole = applyPreferred(whole, expectCode(whole, "VMX-CAP1", "enable_ept").d);
    assert.doesNotMatch(fixedWhole, /proc2/);
    assert.match(fixedWhole, /activate_secondary_controls\n {2}exit /);
    clean(fixedWhole);
  });

  test("an unsupported activation control goes with the controls of the word it activates", () => {
    const text = vmcsFile(
      {
        proc: "hlt_exiting use_tpr_shadow activate_secondary_controls activate_tertiary_controls",
        proc3: "ipi_virtualization",
      },
      "",
      "icelake_server",
    );
    const { d } = expectCode(text, "VMX-CAP1", "activate_tertiary_controls");
    assert.equal(
      d.fixes?.find((f) => f.preferred)?.title,
      "Remove activate_tertiary_controls (proc) with what depends on it: ipi_virtualization (proc3)",
    );
    const fixed = applyPreferred(text, d);
    assert.doesNotMatch(fixed, /proc3|tertiary/);
    clean(fixed);
  });

  test("removal that would fail a field rule is offered, not preferred, and the title says why", () => {
    // sandy_bridge has no virtual_interrupt_delivery; without it a TPR threshold above 15 fails E9.
    const words = { proc2: "enable_ept virtual_interrupt_delivery" };
    const text = vmcsFile(words, "tpr_threshold 0x20", "sandy_bridge");
    const { d } = expectCode(text, "VMX-CAP1", "virtual_interrupt_delivery");
    assert.equal(d.fixes?.length, 1);
    const fix = d.fixes![0]!;
    assert.ok(!fix.preferred);
    assert.match(
      fix.title,
      /^Remove virtual_interrupt_delivery \(proc2\) — not preferred: VM entry would then fail VMX-E9 \(TPR threshold 0x20/,
    );
    const fixed = applyEdits(text, fix.edits);
    assert.ok(!analyze(fixed).diagnostics.some((x) => x.code === "VMX-CAP1"));
    expectCode(fixed, "VMX-E9", "tpr_threshold 0x20");
    // With a threshold in bits 3:0 the same removal is preferred.
    const low = vmcsFile(words, "tpr_threshold 0x2", "sandy_bridge");
    const { d: d2 } = expectCode(low, "VMX-CAP1", "virtual_interrupt_delivery");
    assert.equal(d2.fixes?.find((f) => f.preferred)?.title, "Remove virtual_interrupt_delivery (proc2)");
    clean(applyPreferred(low, d2));
  });
});

describe("examples", () => {
  test("every example analyses without internal errors", async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const dir = new URL("../examples/", import.meta.url);
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".vmcs"))) {
      const analysis = analyze(readFileSync(new URL(name, dir), "utf8"));
      assert.ok(
        !analysis.diagnostics.some((d) => d.code === "TL999"),
        `${name}: ${analysis.diagnostics.map((d) => d.message).join("; ")}`,
      );
    }
  });
});

describe("VMX-CAP1 quick fix on a word written twice", () => {
  test("every name of the word's second statement removed: the statement goes too, no bare keyword", () => {
    const text = vmcsFile({}, "proc2 enable_pml", "haswell");
    assert.match(text, /entry ia32e_mode_guest\n {2}proc2 enable_pml\n\}/);
    const { d } = expectCode(text, "VMX-CAP1", "enable_pml");
    const fixed = applyPreferred(text, d);
    assert.doesNotMatch(fixed, /enable_pml/);
    assert.match(fixed, /entry ia32e_mode_guest\n\}/);
    clean(fixed);
  });
});

describe("raw control words (`field …_CONTROL = V`) are in force", () => {
  const procMustBeOne = controlWordCapability(profileByName("skylake_server")!.msrs, "proc").mustBeOne;
  const HLT_EXITING = 1n << 7n; // primary processor-based bit 7 (SDM Table 26-6)

  function guestWithRawProc(procWord: bigint): string {
    return `target skylake_server
vmcs v {
  field CPU_BASED_VM_EXEC_CONTROL = 0x${procWord.toString(16)}
}
handler HLT { work 100 }
handler EXTERNAL_INTERRUPT { work 100 }
guest g on v {
  irq nic vector 0x41 rate 1k/s { compute 1us }
  idle halt
}
`;
  }

  test("a raw primary word with HLT exiting makes the idle loop exit, one without does not", () => {
    const hltOf = (text: string) =>
      analyze(text)
        .estimates.get("g")!
        .byReason.find((r) => r.reason === "HLT")?.exitsPerSecond ?? 0;
    const withHlt = analyze(guestWithRawProc(procMustBeOne | HLT_EXITING));
    assert.deepEqual(
      checkDiagnostics(withHlt).map((d) => d.code),
      [],
    );
    assert.ok(hltOf(guestWithRawProc(procMustBeOne | HLT_EXITING)) > 0);
    assert.equal(hltOf(guestWithRawProc(procMustBeOne)), 0);
    const decision = withHlt.estimates.get("g")!.operations.at(-1)!.decision;
    assert.deepEqual(
      decision.exits.map((e) => e.reason.name),
      ["HLT"],
    );
  });

  test("a pair rule broken by raw bits sits on the field statement", () => {
    // Pin: default1 0x16 with virtual NMIs (bit 5) but not NMI exiting (bit 3): E16.
    const text = vmcsFile({ pin: "" }, "field PIN_BASED_VM_EXEC_CONTROL = 0x36");
    const { d } = expectCode(text, "VMX-E16", "field PIN_BASED_VM_EXEC_CONTROL = 0x36");
    assert.match(d.message, /virtual_nmis/);
    clean(vmcsFile({ pin: "" }, "field PIN_BASED_VM_EXEC_CONTROL = 0x3e"));
  });

  test("clearing a disallowed raw bit that a pair rule needs: offered, not preferred, the title says why", () => {
    // Allowed-1 without bit 3 (NMI exiting); the word also sets virtual NMIs, which needs it (E16).
    const text = withMsr(
      "IA32_VMX_TRUE_PINBASED_CTLS = 0xf7_0000_0016",
      { pin: "" },
      "field PIN_BASED_VM_EXEC_CONTROL = 0x3e",
    );
    const { d } = expectCode(text, "VMX-CAP1", "field PIN_BASED_VM_EXEC_CONTROL = 0x3e");
    assert.equal(d.fixes?.length, 1);
    const fix = d.fixes![0]!;
    assert.ok(!fix.preferred);
    assert.match(
      fix.title,
      /^Clear the disallowed bits: PIN_BASED_VM_EXEC_CONTROL = 0x36 — not preferred: VM entry would then fail VMX-E16/,
    );
  });

  test("removing a named control leaves the bits its raw word sets: the fix says what then fails", () => {
    // nmi_exiting cannot be 1 (allowed-1 without bit 3); removing it takes the named
    // virtual_nmis along, but the raw word still sets virtual NMIs (0x20), which then lack NMI
    // exiting (E16): the fix is offered, not preferred.
    const text = withMsr(
      "IA32_VMX_TRUE_PINBASED_CTLS = 0xf7_0000_0016",
      { pin: "nmi_exiting virtual_nmis" },
      "field PIN_BASED_VM_EXEC_CONTROL = 0x36",
    );
    const { d } = expectCode(text, "VMX-CAP1", "nmi_exiting");
    const fix = d.fixes![0]!;
    assert.ok(!fix.preferred);
    assert.match(
      fix.title,
      /^Remove nmi_exiting \(pin\) with what depends on it: virtual_nmis \(pin\) — not preferred: VM entry would then fail VMX-E16/,
    );
  });
});
