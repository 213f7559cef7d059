/**
 * Audit of the nested reflection against KVM (issue #13): for every exit reason an L2 operation
 * of the language can produce, a vmcs12 that asks for the exit (→ L1) and one that does not
 * (→ L0, or no exit when vmcs02 does not exit either), each row citing the nested.c function and
 * the line of logic it checks (torvalds/linux arch/x86/kvm/vmx/nested.c, 2025: nested_vmx_l0_wants_exit,
 * nested_vmx_l1_wants_exit, prepare_vmcs02_early / _rare, nested_vmx_prepare_msr_bitmap).
 * Each row asserts the exit reasons and the level of each, so a wrong level or a missing or extra
 * exit fails it. Reasons no L2 operation of the language produces are checked on the static
 * tables at the end.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decideNested,
  interruptGoesToL1,
  nestedSetup,
  vmcs02Controls,
} from "../core/src/analysis/nested/reflect";
import type { GuestOp, HypervisorIR, Program } from "../core/src/model/ir";
import { X2APIC_MSR } from "../core/src/vmx/apic";
import { CONTROL, isControlSet } from "../core/src/vmx/controls";
import { EXIT } from "../core/src/vmx/exitReasons";
import { L0_ALWAYS, L1_NEVER, L1_WANTS_CASE, NESTED_EXIT_ON_INTR } from "../core/src/vmx/nested";
import { guest, RO, RWX, S, program as single, span, type VmcsSpec, vmcs } from "./exitFixtures";

/** KVM-like vmcs01 (EPT, so #PF is not intercepted; #UD, #AC and #MC are, as vmx_update_exception_bitmap does). */
const VMCS01: VmcsSpec = {
  pin: ["external_interrupt_exiting", "nmi_exiting"],
  proc: ["hlt_exiting", "use_msr_bitmaps", "use_io_bitmaps", "mwait_exiting", "monitor_exiting"],
  proc2: ["enable_ept", "pause_loop_exiting", "enable_rdtscp", "enable_invpcid"],
  exceptions: [6, 17, 18],
  ept: [[0n, 0x7fff_ffffn, RWX]],
};

function nested(spec12: VmcsSpec, vmcs01: VmcsSpec = VMCS01, apic: "x2apic" | "xapic" = "x2apic"): Program {
  const v12 = vmcs(spec12, "vmcs12");
  v12.nested = { span: S };
  const l2 = guest({ sources: [], vcpus: 1, apic }, "vmcs12", "l2");
  const p = single(v12, l2);
  p.vmcs.set("vmcs01", vmcs(vmcs01, "vmcs01"));
  const hv: HypervisorIR = {
    name: "l1",
    span: S,
    nameSpan: S,
    vmcs: "vmcs01",
    vmcsSpan: S,
    handlers: new Map(),
  };
  p.hypervisors.set("l1", hv);
  return p;
}

function levels(p: Program, o: GuestOp): string[] {
  const setup = nestedSetup(p, p.guests.get("l2")!);
  assert.ok(setup, "the guest is an L2");
  return decideNested(setup, o).exits.map((x) => `${x.reason.name}@${x.level}`);
}

const op = (o: Record<string, unknown>): GuestOp => ({ span: span(), ...o }) as GuestOp;
const with01 = (extra: Partial<VmcsSpec>): VmcsSpec => ({ ...VMCS01, ...extra });
const SPEC_CTRL = 0x48;
const PRED_CMD = 0x49;
const FS_BASE = 0xc000_0100;
const TSC = 0x10;

interface Row {
  /** The nested.c function and the line of logic the row checks. */
  kvm: string;
  op: GuestOp;
  /** vmcs12 asks for the exit. */
  wants: VmcsSpec;
  wantsExpect: string[];
  /** vmcs12 does not ask. */
  notWants: VmcsSpec;
  notWantsExpect: string[];
  vmcs01?: VmcsSpec;
  /** L2's APIC mode (default x2APIC). */
  apic?: "x2apic" | "xapic";
}

const msrBitmap12 = (m: number, read: boolean, write: boolean): VmcsSpec => ({
  proc: ["use_msr_bitmaps"],
  msr: [{ msr: m, read, write }],
});

const ROWS: Row[] = [
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_CPUID: return true",
    op: op({ op: "cpuid" }),
    wants: {},
    wantsExpect: ["CPUID@L1"],
    notWants: { proc: ["hlt_exiting"] },
    notWantsExpect: ["CPUID@L1"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_HLT: nested_cpu_has(vmcs12, CPU_BASED_HLT_EXITING)",
    op: op({ op: "hlt" }),
    wants: { proc: ["hlt_exiting"] },
    wantsExpect: ["HLT@L1"],
    notWants: {},
    notWantsExpect: ["HLT@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_RDTSC: nested_cpu_has(vmcs12, CPU_BASED_RDTSC_EXITING)",
    op: op({ op: "rdtsc" }),
    wants: { proc: ["rdtsc_exiting"] },
    wantsExpect: ["RDTSC@L1"],
    notWants: {},
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_RDTSC: (vmcs01's RDTSC exiting ORed into vmcs02 by prepare_vmcs02_early) → L0",
    op: op({ op: "rdtsc" }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "rdtsc_exiting"] }),
    wants: { proc: ["rdtsc_exiting"] },
    wantsExpect: ["RDTSC@L1"],
    notWants: {},
    notWantsExpect: ["RDTSC@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_RDTSCP: nested_cpu_has(vmcs12, CPU_BASED_RDTSC_EXITING); prepare_vmcs02_early: SECONDARY_EXEC_ENABLE_RDTSCP only from vmcs12",
    op: op({ op: "rdtscp" }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "rdtsc_exiting"] }),
    wants: { proc: ["rdtsc_exiting"], proc2: ["enable_rdtscp"] },
    wantsExpect: ["RDTSCP@L1"],
    notWants: { proc2: ["enable_rdtscp"] },
    notWantsExpect: ["RDTSCP@L0"],
  },
  {
    kvm: "prepare_vmcs02_early: enable RDTSCP only from vmcs12 → RDTSCP of L2 #UDs; nested_vmx_l1_wants_exit EXCEPTION_NMI: vmcs12->exception_bitmap & (1u << UD_VECTOR)",
    op: op({ op: "rdtscp" }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "rdtsc_exiting"] }),
    wants: { exceptions: [6] },
    wantsExpect: ["EXCEPTION_NMI@L1"],
    notWants: {},
    notWantsExpect: ["EXCEPTION_NMI@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_RDPMC: nested_cpu_has(vmcs12, CPU_BASED_RDPMC_EXITING)",
    op: op({ op: "rdpmc" }),
    wants: { proc: ["rdpmc_exiting"] },
    wantsExpect: ["RDPMC@L1"],
    notWants: {},
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_RDRAND: nested_cpu_has2(vmcs12, SECONDARY_EXEC_RDRAND_EXITING)",
    op: op({ op: "rdrand" }),
    vmcs01: with01({ proc2: [...VMCS01.proc2!, "rdrand_exiting"] }),
    wants: { proc2: ["rdrand_exiting"] },
    wantsExpect: ["RDRAND@L1"],
    notWants: {},
    notWantsExpect: ["RDRAND@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_RDSEED: nested_cpu_has2(vmcs12, SECONDARY_EXEC_RDSEED_EXITING)",
    op: op({ op: "rdseed" }),
    wants: { proc2: ["rdseed_exiting"] },
    wantsExpect: ["RDSEED@L1"],
    notWants: {},
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_INVLPG: nested_cpu_has(vmcs12, CPU_BASED_INVLPG_EXITING)",
    op: op({ op: "invlpg" }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "invlpg_exiting"] }),
    wants: { proc: ["invlpg_exiting"] },
    wantsExpect: ["INVLPG@L1"],
    notWants: {},
    notWantsExpect: ["INVLPG@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_INVPCID: nested_cpu_has2(vmcs12, SECONDARY_EXEC_ENABLE_INVPCID) && nested_cpu_has(vmcs12, CPU_BASED_INVLPG_EXITING)",
    op: op({ op: "invpcid" }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "invlpg_exiting"] }),
    wants: { proc: ["invlpg_exiting"], proc2: ["enable_invpcid"] },
    wantsExpect: ["INVPCID@L1"],
    // vmcs12 enables INVPCID without INVLPG exiting; vmcs01's INVLPG exiting is ORed in.
    notWants: { proc2: ["enable_invpcid"] },
    notWantsExpect: ["INVPCID@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_WBINVD: nested_cpu_has2(vmcs12, SECONDARY_EXEC_WBINVD_EXITING)",
    op: op({ op: "wbinvd" }),
    vmcs01: with01({ proc2: [...VMCS01.proc2!, "wbinvd_exiting"] }),
    wants: { proc2: ["wbinvd_exiting"] },
    wantsExpect: ["WBINVD@L1"],
    notWants: {},
    notWantsExpect: ["WBINVD@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_XSETBV: return true",
    op: op({ op: "xsetbv" }),
    wants: {},
    wantsExpect: ["XSETBV@L1"],
    notWants: { proc: ["hlt_exiting"] },
    notWantsExpect: ["XSETBV@L1"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_DR_ACCESS: nested_cpu_has(vmcs12, CPU_BASED_MOV_DR_EXITING)",
    op: op({ op: "mov_dr" }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "mov_dr_exiting"] }),
    wants: { proc: ["mov_dr_exiting"] },
    wantsExpect: ["DR_ACCESS@L1"],
    notWants: {},
    notWantsExpect: ["DR_ACCESS@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_VMCALL: return true (VMX instructions trap unconditionally)",
    op: op({ op: "vmcall" }),
    wants: {},
    wantsExpect: ["VMCALL@L1"],
    notWants: { proc: ["hlt_exiting"] },
    notWantsExpect: ["VMCALL@L1"],
  },
  {
    kvm: "nested_vmx_exit_handled_msr: bit of vmcs12's MSR bitmap; nested_vmx_prepare_msr_bitmap leaves every other MSR intercepted in vmcs02 (alloc_loaded_vmcs: 0xff)",
    op: op({ op: "rdmsr", msr: TSC }),
    wants: msrBitmap12(TSC, true, false),
    wantsExpect: ["MSR_READ@L1"],
    // Both bitmaps pass IA32_TSC, vmcs02's still intercepts it: L0 handles the read.
    notWants: msrBitmap12(TSC, false, true),
    notWantsExpect: ["MSR_READ@L0"],
  },
  {
    kvm: "nested_vmx_exit_handled_msr: !nested_cpu_has(vmcs12, CPU_BASED_USE_MSR_BITMAPS) → true",
    op: op({ op: "wrmsr", msr: TSC }),
    wants: {},
    wantsExpect: ["MSR_WRITE@L1"],
    notWants: msrBitmap12(TSC, true, false),
    notWantsExpect: ["MSR_WRITE@L0"],
  },
  {
    kvm: "nested_vmx_prepare_msr_bitmap: nested_vmx_set_intercept_for_msr(MSR_FS_BASE, MSR_TYPE_RW): passes only when vmcs01 and vmcs12 both pass",
    op: op({ op: "rdmsr", msr: FS_BASE }),
    wants: msrBitmap12(FS_BASE, true, false),
    wantsExpect: ["MSR_READ@L1"],
    notWants: msrBitmap12(FS_BASE, false, true),
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_prepare_msr_bitmap: vmcs01's bitmap honoured for MSR_IA32_SPEC_CTRL (vmcs01 intercepts → vmcs02 intercepts → L0)",
    op: op({ op: "wrmsr", msr: SPEC_CTRL }),
    vmcs01: with01({ msr: [{ msr: SPEC_CTRL, read: false, write: true }] }),
    wants: msrBitmap12(SPEC_CTRL, false, true),
    wantsExpect: ["MSR_WRITE@L1"],
    notWants: msrBitmap12(SPEC_CTRL, true, false),
    notWantsExpect: ["MSR_WRITE@L0"],
  },
  {
    kvm: "nested_vmx_prepare_msr_bitmap: MSR_IA32_PRED_CMD merged for MSR_TYPE_W only (reads stay intercepted → L0)",
    op: op({ op: "rdmsr", msr: PRED_CMD }),
    wants: msrBitmap12(PRED_CMD, true, false),
    wantsExpect: ["MSR_READ@L1"],
    notWants: msrBitmap12(PRED_CMD, false, false),
    notWantsExpect: ["MSR_READ@L0"],
  },
  {
    kvm: "nested_vmx_prepare_msr_bitmap: enable_x2apic_msr_intercepts, then X2APIC_MSR(APIC_EOI) passed only with vmcs12's virtualize x2APIC mode and VID",
    op: op({ op: "wrmsr", msr: X2APIC_MSR.EOI }),
    wants: msrBitmap12(X2APIC_MSR.EOI, false, true),
    wantsExpect: ["MSR_WRITE@L1"],
    notWants: {
      ...msrBitmap12(X2APIC_MSR.EOI, false, false),
      pin: ["external_interrupt_exiting"],
      proc: ["use_msr_bitmaps", "use_tpr_shadow"],
      proc2: ["virtualize_x2apic_mode", "virtual_interrupt_delivery"],
    },
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_prepare_msr_bitmap: x2APIC MSRs ignore vmcs01's bitmap; without vmcs12's virtualize x2APIC mode they stay intercepted → L0",
    op: op({ op: "rdmsr", msr: X2APIC_MSR.TPR }),
    vmcs01: with01({
      proc2: [...VMCS01.proc2!, "virtualize_x2apic_mode"],
      proc: [...VMCS01.proc!, "use_tpr_shadow"],
    }),
    wants: msrBitmap12(X2APIC_MSR.TPR, true, false),
    wantsExpect: ["MSR_READ@L1"],
    notWants: msrBitmap12(X2APIC_MSR.TPR, false, false),
    notWantsExpect: ["MSR_READ@L0"],
  },
  {
    kvm: "nested_vmx_exit_handled_io: nested_vmx_check_io_bitmaps (vmcs12's I/O bitmap); prepare_vmcs02_early: CPU_BASED_UNCOND_IO_EXITING always",
    op: op({ op: "out", port: 0x3f8 }),
    wants: { proc: ["use_io_bitmaps"], io: [[0x3f8, 0x3ff]] },
    wantsExpect: ["IO_INSTRUCTION@L1"],
    notWants: { proc: ["use_io_bitmaps"], io: [[0x60, 0x60]] },
    notWantsExpect: ["IO_INSTRUCTION@L0"],
  },
  {
    kvm: "nested_vmx_exit_handled_io: !USE_IO_BITMAPS → nested_cpu_has(vmcs12, CPU_BASED_UNCOND_IO_EXITING)",
    op: op({ op: "in", port: 0x60 }),
    wants: { proc: ["unconditional_io_exiting"] },
    wantsExpect: ["IO_INSTRUCTION@L1"],
    notWants: {},
    notWantsExpect: ["IO_INSTRUCTION@L0"],
  },
  {
    kvm: "nested_vmx_exit_handled_cr: mov to cr3: nested_cpu_has(vmcs12, CPU_BASED_CR3_LOAD_EXITING)",
    op: op({ op: "mov_cr", cr: 3, value: 0x1000n }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "cr3_load_exiting"] }),
    wants: { proc: ["cr3_load_exiting"] },
    wantsExpect: ["CR_ACCESS@L1"],
    notWants: {},
    notWantsExpect: ["CR_ACCESS@L0"],
  },
  {
    kvm: "nested_vmx_exit_handled_cr: mov to cr0: vmcs12->cr0_guest_host_mask & (val ^ vmcs12->cr0_read_shadow)",
    op: op({ op: "mov_cr", cr: 0, value: 0x8000_0031n }),
    wants: { cr0: { mask: 0x8000_0000n, shadow: 0n } },
    wantsExpect: ["CR_ACCESS@L1"],
    notWants: { cr0: { mask: 0x8000_0000n, shadow: 0x8000_0000n } },
    notWantsExpect: [],
  },
  {
    kvm: "prepare_vmcs02: CR0_GUEST_HOST_MASK = vmcs01's | vmcs12's, CR0_READ_SHADOW = nested_read_cr0(vmcs12): a bit only L0 masks (TS) is compared with L2's CR0, not L1's",
    op: op({ op: "mov_cr", cr: 0, value: 0x8000_0031n }),
    // L1's own CR0 has TS set (vmcs01's shadow); L2's does not.
    vmcs01: with01({ cr0: { mask: 0x8n, shadow: 0x8n } }),
    wants: { cr0: { mask: 0x8000_0000n, shadow: 0n }, fields: { GUEST_CR0: 0x8000_0031n } },
    wantsExpect: ["CR_ACCESS@L1"],
    notWants: { cr0: { mask: 0x8000_0000n, shadow: 0x8000_0000n }, fields: { GUEST_CR0: 0x8000_0031n } },
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_exit_handled_cr: vmcs12's mask does not cover TS → L0; prepare_vmcs02: vmcs01's CR0 mask in vmcs02",
    op: op({ op: "mov_cr", cr: 0, value: 0x8000_0039n }),
    vmcs01: with01({ cr0: { mask: 0x8n, shadow: 0x8n } }),
    wants: { cr0: { mask: 0x8n, shadow: 0n }, fields: { GUEST_CR0: 0x8000_0031n } },
    wantsExpect: ["CR_ACCESS@L1"],
    notWants: { cr0: { mask: 0x8000_0000n, shadow: 0x8000_0000n }, fields: { GUEST_CR0: 0x8000_0031n } },
    notWantsExpect: ["CR_ACCESS@L0"],
  },
  {
    kvm: "nested_vmx_exit_handled_cr: mov to cr8: CPU_BASED_CR8_LOAD_EXITING; prepare_vmcs02_early: no TPR shadow in vmcs12 → CR8_LOAD/STORE_EXITING in vmcs02 → L0",
    op: op({ op: "mov_cr", cr: 8, value: 0n }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "use_tpr_shadow"] }),
    wants: { proc: ["cr8_load_exiting"] },
    wantsExpect: ["CR_ACCESS@L1"],
    notWants: {},
    notWantsExpect: ["CR_ACCESS@L0"],
  },
  {
    kvm: "nested_vmx_exit_handled_cr: mov from cr8: CPU_BASED_CR8_STORE_EXITING; prepare_vmcs02_early: CR8 exiting without vmcs12's TPR shadow",
    op: op({ op: "read_cr", cr: 8 }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "use_tpr_shadow"] }),
    wants: { proc: ["cr8_store_exiting"] },
    wantsExpect: ["CR_ACCESS@L1"],
    notWants: { proc: ["use_tpr_shadow"] },
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_TPR_BELOW_THRESHOLD: nested_cpu_has(vmcs12, CPU_BASED_TPR_SHADOW); prepare_vmcs02_early: TPR_THRESHOLD = vmcs12->tpr_threshold",
    op: op({ op: "mov_cr", cr: 8, value: 0n }),
    // vmcs01's own threshold does not reach vmcs02.
    vmcs01: with01({ proc: [...VMCS01.proc!, "use_tpr_shadow"], tprThreshold: 4 }),
    wants: { proc: ["use_tpr_shadow"], tprThreshold: 4 },
    wantsExpect: ["TPR_BELOW_THRESHOLD@L1"],
    notWants: { proc: ["use_tpr_shadow"], tprThreshold: 0 },
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_PAUSE_INSTRUCTION: CPU_BASED_PAUSE_EXITING || SECONDARY_EXEC_PAUSE_LOOP_EXITING",
    op: op({ op: "pause_loop", cycles: 2_000_000 }),
    wants: { proc2: ["pause_loop_exiting"], ple: { gap: 128, window: 4096 } },
    wantsExpect: ["PAUSE_INSTRUCTION@L1"],
    notWants: {},
    notWantsExpect: ["PAUSE_INSTRUCTION@L0"],
    vmcs01: with01({ ple: { gap: 128, window: 4096 } }),
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_EXCEPTION_NMI: vmcs12->exception_bitmap & (1u << vector) (#UD, which vmcs01 always intercepts)",
    op: op({ op: "exception", vector: 6 }),
    wants: { exceptions: [6] },
    wantsExpect: ["EXCEPTION_NMI@L1"],
    notWants: {},
    notWantsExpect: ["EXCEPTION_NMI@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: EXCEPTION_NMI bitmap; an exception neither bitmap has (#GP) does not exit",
    op: op({ op: "exception", vector: 13, errorCode: 0 }),
    wants: { exceptions: [13] },
    wantsExpect: ["EXCEPTION_NMI@L1"],
    notWants: { exceptions: [6] },
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: EXCEPTION_NMI bitmap (#MC: vmcs01 always intercepts MC_VECTOR)",
    op: op({ op: "exception", vector: 18 }),
    wants: { exceptions: [18] },
    wantsExpect: ["EXCEPTION_NMI@L1"],
    notWants: {},
    notWantsExpect: ["EXCEPTION_NMI@L0"],
  },
  {
    kvm: "nested_vmx_l0_wants_exit: is_nmi → true",
    op: op({ op: "exception", vector: 2 }),
    wants: { pin: ["nmi_exiting"] },
    wantsExpect: ["EXCEPTION_NMI@L0"],
    notWants: {},
    notWantsExpect: ["EXCEPTION_NMI@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: is_page_fault → true; prepare_vmcs02_rare: vmcs12's PFEC mask/match when !vmx_need_pf_intercept (EPT)",
    op: op({ op: "exception", vector: 14, errorCode: 1 }),
    wants: { exceptions: [14], pfErrorCode: { mask: 1, match: 1 } },
    wantsExpect: ["EXCEPTION_NMI@L1"],
    // vmcs12 wants only not-present faults (match 0); this one is present.
    notWants: { exceptions: [14], pfErrorCode: { mask: 1, match: 0 } },
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_l0_wants_exit: is_page_fault → vmx_need_pf_intercept; prepare_vmcs02_rare: PFEC_MASK = PFEC_MATCH = 0 → every #PF exits, to L0",
    op: op({ op: "exception", vector: 14, errorCode: 0 }),
    // Shadow paging: no EPT, #PF intercepted with a mask/match that alone would let this one through.
    vmcs01: {
      ...VMCS01,
      proc2: [],
      ept: [],
      exceptions: [6, 14, 17, 18],
      pfErrorCode: { mask: 1, match: 1 },
    },
    wants: { exceptions: [14] },
    wantsExpect: ["EXCEPTION_NMI@L0"],
    notWants: {},
    notWantsExpect: ["EXCEPTION_NMI@L0"],
  },
  {
    kvm: "nested_vmx_l0_wants_exit: is_ve_fault → true",
    op: op({ op: "exception", vector: 20 }),
    wants: { exceptions: [20] },
    wantsExpect: ["EXCEPTION_NMI@L0"],
    notWants: {},
    notWantsExpect: [],
  },
  {
    kvm: "nested_vmx_l0_wants_exit: is_alignment_check && !vmx_guest_inject_ac (not modelled: a legacy #AC) → nested_vmx_l1_wants_exit bitmap",
    op: op({ op: "exception", vector: 17, errorCode: 0 }),
    wants: { exceptions: [17] },
    wantsExpect: ["EXCEPTION_NMI@L1"],
    notWants: {},
    notWantsExpect: ["EXCEPTION_NMI@L0"],
  },
  {
    kvm: "nested_vmx_l0_wants_exit: case EXIT_REASON_EPT_VIOLATION: return true; nested_ept_inject_page_fault reflects a fault of EPT12",
    op: op({ op: "mem", access: "write", gpa: 0x1000n }),
    wants: { proc2: ["enable_ept"], ept: [[0n, 0x7fff_ffffn, RO]] },
    wantsExpect: ["EPT_VIOLATION@L1"],
    notWants: { proc2: ["enable_ept"], ept: [[0n, 0x7fff_ffffn, RWX]] },
    notWantsExpect: ["EPT_VIOLATION@L0"],
    vmcs01: with01({ ept: [[0n, 0x7fff_ffffn, RO]] }),
  },
  {
    kvm: "nested_vmx_l0_wants_exit: case EXIT_REASON_EPT_MISCONFIG: return true; nested_ept_inject_page_fault: PFERR_RSVD_MASK → EXIT_REASON_EPT_MISCONFIG to L1",
    op: op({ op: "mmio", access: "read", gpa: 0x1000n }),
    wants: { proc2: ["enable_ept"], ept: [[0n, 0x7fff_ffffn, { kind: "misconfig" }]] },
    wantsExpect: ["EPT_MISCONFIG@L1"],
    notWants: { proc2: ["enable_ept"], ept: [[0n, 0x7fff_ffffn, RWX]] },
    notWantsExpect: ["EPT_MISCONFIG@L0"],
    vmcs01: with01({ ept: [[0n, 0x7fff_ffffn, { kind: "misconfig" }]] }),
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_APIC_ACCESS: return true (virtualize APIC accesses only from vmcs12)",
    op: op({ op: "mmio", access: "read", gpa: 0xfee0_0030n }),
    // L1 runs with APICv: vmcs01 maps L1's APIC-access page.
    vmcs01: with01({
      proc: [...VMCS01.proc!, "use_tpr_shadow"],
      proc2: [...VMCS01.proc2!, "virtualize_apic_accesses"],
      ept: [
        [0n, 0x7fff_ffffn, RWX],
        [0xfee0_0000n, 0xfee0_0fffn, { kind: "apic" }],
      ],
    }),
    wants: {
      proc: ["use_tpr_shadow"],
      proc2: ["enable_ept", "virtualize_apic_accesses"],
      ept: [
        [0n, 0x7fff_ffffn, RWX],
        [0xfee0_0000n, 0xfee0_0fffn, { kind: "apic" }],
      ],
    },
    wantsExpect: ["APIC_ACCESS@L1"],
    // Without it in vmcs12 the access reaches L1's APIC page, which L0 never maps into L2
    // (mmu.c __kvm_faultin_pfn: an MMIO SPTE): L0 emulates it on an EPT misconfiguration.
    notWants: { proc2: ["enable_ept"], ept: [[0n, 0xffff_ffffn, RWX]] },
    notWantsExpect: ["EPT_MISCONFIG@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_APIC_WRITE: return true (APIC-register virtualization only from vmcs12); mmu.c __kvm_faultin_pfn: L1's APIC page unmapped in L2",
    op: op({ op: "eoi" }),
    apic: "xapic",
    vmcs01: with01({
      pin: [...VMCS01.pin!],
      proc: [...VMCS01.proc!, "use_tpr_shadow"],
      proc2: [
        ...VMCS01.proc2!,
        "virtualize_apic_accesses",
        "apic_register_virtualization",
        "virtual_interrupt_delivery",
      ],
      ept: [
        [0n, 0x7fff_ffffn, RWX],
        [0xfee0_0000n, 0xfee0_0fffn, { kind: "apic" }],
      ],
    }),
    // vmcs12 virtualizes the xAPIC page without VID: the EOI write is an APIC-write exit, L1's.
    wants: {
      proc: ["use_tpr_shadow"],
      proc2: ["enable_ept", "virtualize_apic_accesses", "apic_register_virtualization"],
      ept: [
        [0n, 0x7fff_ffffn, RWX],
        [0xfee0_0000n, 0xfee0_0fffn, { kind: "apic" }],
      ],
    },
    wantsExpect: ["APIC_WRITE@L1"],
    // vmcs01's own APICv does not virtualize L2's EOI: L0 emulates it.
    notWants: { proc2: ["enable_ept"], ept: [[0n, 0xffff_ffffn, RWX]] },
    notWantsExpect: ["EPT_MISCONFIG@L0"],
  },
  {
    kvm: "nested_vmx_l0_wants_exit: case EXIT_REASON_PML_FULL (PML never in vmcs02: L0 write-protects EPT02); nested_ept_inject_page_fault: vmx->nested.pml_full → PML_FULL to L1",
    op: op({ op: "dirty", pages: 1024 }),
    vmcs01: with01({
      proc2: [...VMCS01.proc2!, "enable_pml"],
      fields: { EPT_POINTER: 0x1000n | (1n << 6n) },
    }),
    wants: {
      proc2: ["enable_ept", "enable_pml"],
      ept: [[0n, 0x7fff_ffffn, RWX]],
      fields: { EPT_POINTER: 0x1000n | (1n << 6n) },
    },
    wantsExpect: ["PML_FULL@L1", "EPT_VIOLATION@L0"],
    // vmcs12 without EPT (and so without PML): L0's own dirty tracking, write protection.
    notWants: {},
    notWantsExpect: ["EPT_VIOLATION@L0"],
  },
  {
    kvm: "nested_vmx_l1_wants_exit: case EXIT_REASON_MONITOR_TRAP_FLAG: nested_vmx_exit_handled_mtf (nested_cpu_has_mtf(vmcs12))",
    op: op({ op: "rdpmc" }),
    vmcs01: with01({ proc: [...VMCS01.proc!, "monitor_trap_flag"] }),
    wants: { proc: ["monitor_trap_flag"] },
    wantsExpect: ["MONITOR_TRAP_FLAG@L1"],
    notWants: {},
    notWantsExpect: ["MONITOR_TRAP_FLAG@L0"],
  },
];

describe("nested reflection audit against KVM nested.c (one row per exit reason an L2 operation produces)", () => {
  for (const row of ROWS) {
    it(`${row.kvm}`, () => {
      assert.deepEqual(
        levels(nested(row.wants, row.vmcs01, row.apic), row.op).sort(),
        [...row.wantsExpect].sort(),
        `vmcs12 asks: ${row.kvm}`,
      );
      assert.deepEqual(
        levels(nested(row.notWants, row.vmcs01, row.apic), row.op).sort(),
        [...row.notWantsExpect].sort(),
        `vmcs12 does not ask: ${row.kvm}`,
      );
    });
  }

  it("nested_vmx_l0_wants_exit: case EXIT_REASON_EXTERNAL_INTERRUPT: return true; L1 gets it only through nested_exit_on_intr (vmx_check_nested_events)", () => {
    const goes = (spec: VmcsSpec) => {
      const p = nested(spec);
      return interruptGoesToL1(nestedSetup(p, p.guests.get("l2")!)!, NESTED_EXIT_ON_INTR);
    };
    assert.equal(goes({ pin: ["external_interrupt_exiting"] }), true);
    assert.equal(goes({}), false);
    assert.equal(L0_ALWAYS.has(EXIT.EXTERNAL_INTERRUPT), true);
  });
});

describe("vmcs02's controls (prepare_vmcs02_early)", () => {
  const words = (spec12: VmcsSpec, spec01: VmcsSpec) => {
    const p = nested(spec12, spec01);
    return nestedSetup(p, p.guests.get("l2")!)!.ctx02.controls;
  };

  it("ORs vmcs01's and vmcs12's exiting controls, drops vmcs01's window exits and TPR shadow, sets CR8 exiting without a TPR shadow", () => {
    const w = words(
      { proc: ["rdtsc_exiting"] },
      with01({ proc: ["hlt_exiting", "use_tpr_shadow", "interrupt_window_exiting"] }),
    );
    assert.equal(isControlSet(w, CONTROL.proc.rdtsc_exiting), true);
    assert.equal(isControlSet(w, CONTROL.proc.hlt_exiting), true);
    assert.equal(isControlSet(w, CONTROL.proc.use_tpr_shadow), false);
    assert.equal(isControlSet(w, CONTROL.proc.interrupt_window_exiting), false);
    assert.equal(isControlSet(w, CONTROL.proc.cr8_load_exiting), true);
    assert.equal(isControlSet(w, CONTROL.proc.cr8_store_exiting), true);
    const shadowed = words({ proc: ["use_tpr_shadow"] }, VMCS01);
    assert.equal(isControlSet(shadowed, CONTROL.proc.cr8_load_exiting), false);
  });

  it("always exits on I/O, uses an MSR bitmap only when vmcs12 does", () => {
    const w = words({}, VMCS01);
    assert.equal(isControlSet(w, CONTROL.proc.unconditional_io_exiting), true);
    assert.equal(isControlSet(w, CONTROL.proc.use_io_bitmaps), false);
    assert.equal(isControlSet(w, CONTROL.proc.use_msr_bitmaps), false);
    assert.equal(
      isControlSet(words({ proc: ["use_msr_bitmaps"] }, VMCS01), CONTROL.proc.use_msr_bitmaps),
      true,
    );
  });

  it("takes the APIC-virtualization and enable-instruction controls from vmcs12 only; never PML or VMCS shadowing", () => {
    const w = words(
      { proc2: ["enable_ept"] },
      with01({
        proc2: [
          "enable_ept",
          "enable_rdtscp",
          "enable_invpcid",
          "virtualize_apic_accesses",
          "enable_pml",
          "vmcs_shadowing",
          "wbinvd_exiting",
        ],
      }),
    );
    assert.equal(isControlSet(w, CONTROL.proc2.enable_rdtscp), false);
    assert.equal(isControlSet(w, CONTROL.proc2.enable_invpcid), false);
    assert.equal(isControlSet(w, CONTROL.proc2.virtualize_apic_accesses), false);
    assert.equal(isControlSet(w, CONTROL.proc2.enable_pml), false);
    assert.equal(isControlSet(w, CONTROL.proc2.vmcs_shadowing), false);
    assert.equal(isControlSet(w, CONTROL.proc2.wbinvd_exiting), true);
    const pml12 = words({ proc2: ["enable_ept", "enable_pml"] }, VMCS01);
    assert.equal(isControlSet(pml12, CONTROL.proc2.enable_pml), false);
  });

  it("takes the VMX-preemption timer from vmcs01 only and posted interrupts from vmcs12 only", () => {
    const w = vmcs02Controls(
      {
        pin: CONTROL.pin.activate_vmx_preemption_timer.mask,
        proc: 0n,
        proc2: 0n,
        proc3: 0n,
        exit: 0n,
        entry: 0n,
      },
      {
        pin: CONTROL.pin.process_posted_interrupts.mask,
        proc: 0n,
        proc2: 0n,
        proc3: 0n,
        exit: 0n,
        entry: 0n,
      },
    );
    assert.equal(isControlSet(w, CONTROL.pin.activate_vmx_preemption_timer), false);
    assert.equal(isControlSet(w, CONTROL.pin.process_posted_interrupts), false);
  });
});

describe("the reflection tables for reasons no L2 operation of the language produces", () => {
  it("nested_vmx_l0_wants_exit returns true for exactly these reasons (besides the EXCEPTION_NMI vectors and Hyper-V's L2 TLB-flush VMCALL)", () => {
    const names = [...L0_ALWAYS.keys()].map((c) => c).sort((a, b) => a - b);
    assert.deepEqual(
      names,
      [
        EXIT.EXTERNAL_INTERRUPT,
        EXIT.EPT_VIOLATION,
        EXIT.EPT_MISCONFIG,
        EXIT.MCE_DURING_VMENTRY,
        EXIT.PREEMPTION_TIMER,
        EXIT.PML_FULL,
        EXIT.VMFUNC,
        EXIT.BUS_LOCK,
      ].sort((a, b) => a - b),
    );
  });

  it("nested_vmx_l1_wants_exit: case EXIT_REASON_NOTIFY: return false is the only reason L1 never gets", () => {
    assert.deepEqual([...L1_NEVER.keys()], [EXIT.NOTIFY]);
  });

  it("every case of nested_vmx_l1_wants_exit has its condition in L1_WANTS_CASE", () => {
    const cases: [number, RegExp][] = [
      [EXIT.TRIPLE_FAULT, /return true/],
      [EXIT.TASK_SWITCH, /return true/],
      [EXIT.INVD, /return true/],
      [EXIT.INVALID_STATE, /return true/],
      [EXIT.VMREAD, /nested_vmx_exit_handled_vmcs_access/],
      [EXIT.VMWRITE, /nested_vmx_exit_handled_vmcs_access/],
      [EXIT.VMCLEAR, /return true/],
      [EXIT.VMLAUNCH, /return true/],
      [EXIT.VMPTRLD, /return true/],
      [EXIT.VMPTRST, /return true/],
      [EXIT.VMRESUME, /return true/],
      [EXIT.VMOFF, /return true/],
      [EXIT.VMON, /return true/],
      [EXIT.INVEPT, /return true/],
      [EXIT.INVVPID, /return true/],
      [EXIT.GDTR_IDTR, /SECONDARY_EXEC_DESC/],
      [EXIT.LDTR_TR, /SECONDARY_EXEC_DESC/],
      [EXIT.MWAIT_INSTRUCTION, /CPU_BASED_MWAIT_EXITING/],
      [EXIT.MONITOR_INSTRUCTION, /CPU_BASED_MONITOR_EXITING/],
      [EXIT.MONITOR_TRAP_FLAG, /nested_vmx_exit_handled_mtf/],
      [EXIT.INTERRUPT_WINDOW, /CPU_BASED_INTR_WINDOW_EXITING/],
      [EXIT.NMI_WINDOW, /CPU_BASED_NMI_WINDOW_EXITING/],
      [EXIT.XSAVES, /SECONDARY_EXEC_ENABLE_XSAVES/],
      [EXIT.XRSTORS, /SECONDARY_EXEC_ENABLE_XSAVES/],
      [EXIT.UMWAIT, /SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE/],
      [EXIT.TPAUSE, /SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE/],
      [EXIT.ENCLS, /nested_vmx_exit_handled_encls/],
      [EXIT.APIC_WRITE, /return true/],
      [EXIT.EOI_INDUCED, /return true/],
      [EXIT.MCE_DURING_VMENTRY, /return true/],
    ];
    for (const [code, re] of cases)
      assert.match(L1_WANTS_CASE.get(code) ?? "(missing)", re, `reason ${code}`);
    // INIT, SIPI, GETSEC and the rest take `default: return true`: absent from the table.
    for (const code of [EXIT.INIT_SIGNAL, EXIT.SIPI_SIGNAL, EXIT.GETSEC])
      assert.equal(L1_WANTS_CASE.has(code), false);
  });
});
