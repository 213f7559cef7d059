/**
 * `vmcs NAME nested { … }` (a vmcs12): parsed and lowered with its span, and checked as KVM's
 * nested VM entry checks it — against the capability MSRs L0 exposes to L1
 * (core/src/vmx/nestedCapabilities.ts), not the hardware's — each diagnostic naming the nested.c
 * function. Each case below fails as a vmcs12 and holds as a plain vmcs (or the other way round,
 * for what KVM emulates); and every failing case of the VM-entry units (test/rules/*) still fails
 * as a vmcs12, named after its nested.c function.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyze, type Diagnostic } from "../core/src/index";
import { hoverAt } from "../server/src/features/hover";
import { DocumentModel } from "../server/src/model";
import { ACTIVATION_CASES, CAPABILITY_CASES, PAIR_CASES } from "./rules/controls";
import { ENTRY_EVENT_CASES, FIELD_CASES } from "./rules/fields";
import { GUEST_STATE_CASES, HOST_STATE_CASES } from "./rules/state";
import { marked, type VmcsSpec, vmcs } from "./rules/support";

const nested = (text: string): string => text.replace("vmcs v {", "vmcs v nested {");

const errors = (text: string): Diagnostic[] =>
  analyze(text).diagnostics.filter((d) => d.severity === "error");

const show = (ds: readonly Diagnostic[]) => ds.map((d) => `${d.code} ${d.message}`).join("\n");

describe("vmcs NAME nested: the language", () => {
  test("parsed, lowered with the span of `nested`, and a plain vmcs has no flag", () => {
    const text = nested(vmcs());
    const analysis = analyze(text);
    assert.equal(show(analysis.diagnostics), "");
    const v = analysis.program.vmcs.get("v");
    assert.ok(v?.nested, "nested flag");
    assert.equal(text.slice(v.nested.span.start, v.nested.span.end), "nested");
    assert.equal(analyze(vmcs()).program.vmcs.get("v")?.nested, undefined);
  });

  test("hovers: the vmcs name and `nested` say vmcs12; a control says whether KVM offers it to L1", () => {
    const text = nested(vmcs({ proc2: "enable_ept vmcs_shadowing use_tsc_scaling" }));
    const model = new DocumentModel(analyze(text));
    const at = (word: string) => {
      const hover = hoverAt(model, text.indexOf(word) + 1);
      const contents = hover?.contents as { value: string } | undefined;
      return contents?.value ?? "";
    };
    assert.match(at("nested"), /vmcs12/);
    assert.match(
      at("use_tsc_scaling"),
      /may not set it under KVM — the host has it, but KVM does not offer it/,
    );
    assert.match(at("vmcs_shadowing"), /may set it under KVM — KVM emulates it for L1 on any host/);
    assert.match(at("enable_ept"), /may set it under KVM — KVM offers it where the host has it/);
    const plainText = vmcs({ proc2: "enable_ept use_tsc_scaling" });
    const plain = hoverAt(new DocumentModel(analyze(plainText)), plainText.indexOf("use_tsc_scaling") + 1);
    const plainValue = (plain?.contents as { value: string } | undefined)?.value ?? "";
    assert.match(plainValue, /Use TSC scaling/);
    assert.doesNotMatch(plainValue, /vmcs12/);
  });

  test("a misspelt `nested`: one located error with a did-you-mean fix, and the block still lowered", () => {
    const text = "target skylake_server\n\nvmcs v nestd {\n  proc hlt_exiting\n}\n";
    const analysis = analyze(text);
    const ds = analysis.diagnostics.filter((d) => d.severity === "error");
    assert.equal(ds.length, 1, show(ds));
    const d = ds[0]!;
    assert.equal(text.slice(d.span.start, d.span.end), "nestd");
    assert.match(d.message, /did you mean `nested`\?/);
    assert.equal(d.fixes?.[0]?.edits[0]?.newText, "nested");
    assert.equal(analysis.program.vmcs.get("v")?.settings.length, 1);
  });

  test("`nested` on the next line is not the modifier", () => {
    const analysis = analyze("target skylake_server\n\nvmcs v\nnested {\n}\n");
    assert.ok(
      analysis.diagnostics.some((d) => d.severity === "error"),
      "an error, not a silent modifier",
    );
    assert.equal(analysis.program.vmcs.get("v")?.nested, undefined);
  });
});

interface NestedCase {
  name: string;
  spec: VmcsSpec;
  code: string;
  /** The nested.c function the diagnostic names. */
  kvm: string;
  /** Whether the vmcs12 fails and the plain vmcs holds (true), or the reverse (KVM emulates it). */
  l1Stricter: boolean;
}

const CASES: readonly NestedCase[] = [
  {
    name: "TSC scaling: the host has it, KVM does not offer it to L1",
    spec: { proc2: "enable_ept use_tsc_scaling", extra: ["field TSC_MULTIPLIER = 0x1_0000_0000_0000"] },
    code: "VMX-CAP1",
    kvm: "nested_check_vm_execution_controls",
    l1Stricter: true,
  },
  {
    name: "PAUSE-loop exiting is not exposed",
    spec: { proc2: "enable_ept pause_loop_exiting" },
    code: "VMX-CAP1",
    kvm: "nested_check_vm_execution_controls",
    l1Stricter: true,
  },
  {
    name: "tertiary controls (Sapphire Rapids) are not exposed",
    spec: {
      target: "sapphire_rapids",
      proc: "hlt_exiting use_tpr_shadow activate_secondary_controls activate_tertiary_controls",
      proc3: "ipi_virtualization",
      extra: ["field PID_POINTER_TABLE = 0x1000", "field LAST_PID_POINTER_INDEX = 0"],
    },
    code: "VMX-CAP1",
    kvm: "nested_check_vm_execution_controls",
    l1Stricter: true,
  },
  {
    name: "load IA32_RTIT_CTL (entry) is not exposed",
    spec: { entry: "ia32e_mode_guest load_ia32_rtit_ctl" },
    code: "VMX-CAP1",
    kvm: "nested_check_vm_entry_controls",
    l1Stricter: true,
  },
  {
    name: "UC EPT pointers: KVM offers L1 only WB",
    spec: { extra: ["eptp memtype UC levels 4"] },
    code: "VMX-E24",
    kvm: "nested_vmx_check_eptp",
    l1Stricter: true,
  },
  {
    name: "no CR3-target values for L1",
    spec: {
      proc: "hlt_exiting use_tpr_shadow activate_secondary_controls cr3_load_exiting",
      extra: ["cr3_targets 0x1000"],
    },
    code: "VMX-E5",
    kvm: "nested_cpu_vmx_misc_cr3_count",
    l1Stricter: true,
  },
  {
    name: "activity state shutdown: L1 may use only active and HLT",
    spec: { extra: ["field GUEST_ACTIVITY_STATE = 2"] },
    code: "VMX-G8",
    kvm: "nested_check_guest_non_reg_state",
    l1Stricter: true,
  },
  {
    name: "CR4.CET in vmcs12's guest CR4 (Sapphire Rapids): not in L1's CR4_FIXED1",
    spec: { target: "sapphire_rapids", extra: ["field GUEST_CR4 = 0x80_2020"] },
    code: "VMX-G1",
    kvm: "nested_guest_cr4_valid",
    l1Stricter: true,
  },
  {
    name: "CR4.PKS in vmcs12's host CR4 (Sapphire Rapids)",
    spec: { target: "sapphire_rapids", extra: ["field HOST_CR4 = 0x100_2020"] },
    code: "VMX-H1",
    kvm: "nested_host_cr4_valid",
    l1Stricter: true,
  },
  {
    name: "fixed counter 3 (Ice Lake): KVM's guest PMU has 3 fixed counters",
    spec: {
      target: "icelake_server",
      exit: "host_address_space_size acknowledge_interrupt_on_exit load_ia32_perf_global_ctrl",
      extra: ["field HOST_IA32_PERF_GLOBAL_CTRL = 0xf_0000_00ff"],
    },
    code: "VMX-H7",
    kvm: "kvm_valid_perf_global_ctrl",
    l1Stricter: true,
  },
  {
    name: "VMCS shadowing on Nehalem: emulated for L1",
    spec: {
      target: "nehalem",
      proc2: "enable_ept vmcs_shadowing",
      extra: ["field VMREAD_BITMAP = 0x1000", "field VMWRITE_BITMAP = 0x2000"],
    },
    code: "VMX-CAP1",
    kvm: "nested_check_vm_execution_controls",
    l1Stricter: false,
  },
  {
    name: "PML on Haswell: emulated for L1 with EPT A/D bits",
    spec: { target: "haswell", proc2: "enable_ept enable_pml", extra: ["field PML_ADDRESS = 0x3000"] },
    code: "VMX-CAP1",
    kvm: "nested_check_vm_execution_controls",
    l1Stricter: false,
  },
];

describe("vmcs12 checked against what L0 exposes, not the hardware", () => {
  for (const c of CASES) {
    test(c.name, () => {
      const plain = vmcs(c.spec);
      const twelve = nested(plain);
      const [strict, lax] = c.l1Stricter ? [twelve, plain] : [plain, twelve];
      const failing = errors(strict).filter((d) => d.code === c.code);
      assert.ok(failing.length > 0, `${c.code} expected in:\n${strict}\ngot:\n${show(errors(strict))}`);
      assert.equal(show(errors(lax)), "", `the other holds:\n${lax}`);
      if (c.l1Stricter) {
        const d = failing[0]!;
        assert.match(d.message, /\[vmcs12, /);
        assert.ok(d.message.includes(c.kvm), `names ${c.kvm}: ${d.message}`);
        assert.match(d.reference ?? "", /nested_vmx_setup_ctls_msrs/);
        assert.match(d.message, /under KVM, as L1/);
      }
    });
  }

  test("a CAP1 on a vmcs12 says when the host has the control and KVM hides it", () => {
    const hidden = errors(
      nested(vmcs({ proc2: "enable_ept use_tsc_scaling", extra: ["field TSC_MULTIPLIER = 1"] })),
    );
    assert.ok(hidden.some((d) => d.code === "VMX-CAP1" && /host CPU has use_tsc_scaling/.test(d.message)));
    // Sub-page write permissions exist only from Ice Lake: on Skylake neither has it.
    const missing = errors(nested(vmcs({ proc2: "enable_ept sub_page_write_permissions" })));
    const cap = missing.find((d) => d.code === "VMX-CAP1");
    assert.ok(cap, show(missing));
    assert.doesNotMatch(cap.message, /host CPU has/);
  });

  test("VM-instruction error by area: controls 7, host state 8, guest state an exit with reason 33", () => {
    const control = errors(nested(vmcs({ extra: ["eptp memtype UC levels 4"] })))[0]!;
    assert.match(control.reference ?? "", /VM-instruction error 7/);
    const host = errors(nested(vmcs({ extra: ["field HOST_CR4 = 0x20"] })))[0]!;
    assert.match(host.reference ?? "", /VM-instruction error 8/);
    const guest = errors(nested(vmcs({ extra: ["field GUEST_ACTIVITY_STATE = 2"] })))[0]!;
    assert.match(guest.reference ?? "", /exit reason 33/);
  });

  test("a rule KVM leaves to the processor says so", () => {
    const d = errors(nested(vmcs({ extra: ["field GUEST_RFLAGS = 0"] }))).find((x) => x.code === "VMX-G7");
    assert.ok(d);
    assert.match(d.message, /left to the processor's checks of vmcs02/);
  });
});

/** Controls a CAP1 case finds missing on a host that KVM offers L1 anyway. */
const EMULATED_FOR_L1 = new Set([
  "enable_pml",
  "vmcs_shadowing",
  "activate_vmx_preemption_timer",
  "use_msr_bitmaps",
]);

describe("every failing case of the VM-entry units fails as a vmcs12 too", () => {
  const all = [
    ...ACTIVATION_CASES,
    ...CAPABILITY_CASES,
    ...PAIR_CASES,
    ...FIELD_CASES,
    ...ENTRY_EVENT_CASES,
    ...HOST_STATE_CASES,
    ...GUEST_STATE_CASES,
  ];
  for (const [i, c] of all.entries()) {
    if (!c.code.startsWith("VMX-")) continue;
    test(`${c.rule} #${i}: ${c.code}`, () => {
      const failing = marked(nested(c.failing));
      const ds = analyze(failing.text).diagnostics.filter((d) => d.code === c.code);
      const word = failing.text.slice(failing.start, failing.end);
      if (c.code === "VMX-CAP1" && EMULATED_FOR_L1.has(word)) {
        // KVM emulates it for L1 on any host (nested_vmx_setup_ctls_msrs): no CAP1 there.
        assert.equal(show(ds.filter((d) => d.span.start === failing.start)), "");
        return;
      }
      const at = ds.find((d) => d.span.start === failing.start && d.span.end === failing.end);
      assert.ok(
        at,
        `${c.code} on «${failing.text.slice(failing.start, failing.end)}»:\n${failing.text}\n${show(ds)}`,
      );
      assert.match(at.message, /\[vmcs12, /);
      assert.match(at.reference ?? "", /arch\/x86\/kvm\/vmx\/nested\.c/);
    });
  }
});
