/**
 * The facts a VM transition's cost depends on beyond the measured null round trip: what the VMCS
 * asks the CPU to load, store and flush on each VM exit and VM entry, and what KVM itself runs
 * around VMLAUNCH/VMRESUME. The cycles of each term are target cost parameters (profiles.ts,
 * each an estimate unless stated, every one overridable with `target { cost NAME = N }`); this
 * file says *which* terms a configuration incurs and why, with its source.
 * The model that adds them up is core/src/analysis/transitionCost.ts (docs/estimator.md,
 * "Transition cost").
 */

import { EXIT } from "./exitReasons";
import type { ControlWord, CostName } from "./types";

/**
 * The VM-exit/VM-entry MSR areas: each entry of a list is one MSR the CPU reads or writes on
 * every transition, in microcode. VM entry loads the guest's list (SDM Vol. 3C §27.4 "Loading
 * MSRs", older editions §26.4); VM exit stores the guest's values (§28.4 "Saving MSRs", older
 * §27.4) and then loads the host's list (§28.6 "Loading MSRs", older §27.6). KVM keeps up to
 * MAX_NR_LOADSTORE_MSRS (8) entries per list (arch/x86/kvm/vmx/vmx.h) and fills them in
 * add_atomic_switch_msr() (arch/x86/kvm/vmx/vmx.c) for MSRs without a dedicated control.
 */
export const MSR_LIST_COUNT_FIELDS = [
  {
    field: "VM_EXIT_MSR_STORE_COUNT",
    what: "guest MSRs stored on VM exit",
    source: "SDM Vol. 3C §28.4 (older §27.4)",
  },
  {
    field: "VM_EXIT_MSR_LOAD_COUNT",
    what: "host MSRs loaded on VM exit",
    source: "SDM Vol. 3C §28.6 (older §27.6)",
  },
  {
    field: "VM_ENTRY_MSR_LOAD_COUNT",
    what: "guest MSRs loaded on VM entry",
    source: "SDM Vol. 3C §27.4 (older §26.4)",
  },
] as const;

/** One VM-exit or VM-entry control that makes the CPU save, load or clear state on every transition. */
export interface SaveLoadControl {
  word: Extract<ControlWord, "exit" | "entry">;
  control: string;
  /** Registers or MSRs the control moves per transition. */
  registers: number;
  what: string;
  source: string;
}

const EXIT_STATE = "SDM Vol. 3C §25.7.1, effects §28.3 and §28.5 (older §24.7.1, §27.3, §27.5)";
const ENTRY_STATE = "SDM Vol. 3C §25.8.1, effects §27.3.2 (older §24.8.1, §26.3.2)";

/**
 * The save/load controls (SDM Vol. 3C §25.7.1 VM-exit controls, §25.8.1 VM-entry controls): each
 * moves its registers in the transition's microcode, cheaper than an MSR-list entry — which is
 * why KVM's add_atomic_switch_msr() first tries add_atomic_switch_msr_special() for EFER and
 * PERF_GLOBAL_CTRL and uses the list only when the CPU lacks the control (arch/x86/kvm/vmx/vmx.c).
 */
export const SAVE_LOAD_CONTROLS: readonly SaveLoadControl[] = [
  {
    word: "exit",
    control: "save_debug_controls",
    registers: 2,
    what: "DR7 and IA32_DEBUGCTL saved",
    source: EXIT_STATE,
  },
  { word: "exit", control: "save_ia32_pat", registers: 1, what: "guest IA32_PAT saved", source: EXIT_STATE },
  { word: "exit", control: "load_ia32_pat", registers: 1, what: "host IA32_PAT loaded", source: EXIT_STATE },
  {
    word: "exit",
    control: "save_ia32_efer",
    registers: 1,
    what: "guest IA32_EFER saved",
    source: EXIT_STATE,
  },
  {
    word: "exit",
    control: "load_ia32_efer",
    registers: 1,
    what: "host IA32_EFER loaded",
    source: EXIT_STATE,
  },
  {
    word: "exit",
    control: "load_ia32_perf_global_ctrl",
    registers: 1,
    what: "host IA32_PERF_GLOBAL_CTRL loaded",
    source: EXIT_STATE,
  },
  {
    word: "exit",
    control: "save_vmx_preemption_timer_value",
    registers: 1,
    what: "VMX-preemption timer value saved",
    source: EXIT_STATE,
  },
  {
    word: "exit",
    control: "clear_ia32_bndcfgs",
    registers: 1,
    what: "IA32_BNDCFGS cleared",
    source: EXIT_STATE,
  },
  {
    word: "exit",
    control: "clear_ia32_rtit_ctl",
    registers: 1,
    what: "IA32_RTIT_CTL cleared",
    source: EXIT_STATE,
  },
  {
    word: "entry",
    control: "load_debug_controls",
    registers: 2,
    what: "DR7 and IA32_DEBUGCTL loaded",
    source: ENTRY_STATE,
  },
  {
    word: "entry",
    control: "load_ia32_pat",
    registers: 1,
    what: "guest IA32_PAT loaded",
    source: ENTRY_STATE,
  },
  {
    word: "entry",
    control: "load_ia32_efer",
    registers: 1,
    what: "guest IA32_EFER loaded",
    source: ENTRY_STATE,
  },
  {
    word: "entry",
    control: "load_ia32_perf_global_ctrl",
    registers: 1,
    what: "guest IA32_PERF_GLOBAL_CTRL loaded",
    source: ENTRY_STATE,
  },
  {
    word: "entry",
    control: "load_ia32_bndcfgs",
    registers: 1,
    what: "guest IA32_BNDCFGS loaded",
    source: ENTRY_STATE,
  },
  {
    word: "entry",
    control: "load_ia32_rtit_ctl",
    registers: 1,
    what: "guest IA32_RTIT_CTL loaded",
    source: ENTRY_STATE,
  },
];

/**
 * The save/load controls of the VMCS the round trip was measured with, taken as KVM's required
 * sets: KVM_REQUIRED_VMX_VM_EXIT_CONTROLS has VM_EXIT_SAVE_DEBUG_CONTROLS and
 * KVM_REQUIRED_VMX_VM_ENTRY_CONTROLS has VM_ENTRY_LOAD_DEBUG_CONTROLS (arch/x86/kvm/vmx/vmx.h).
 * The measurement (profiles.ts, `round_trip`) does not publish its VMCS: an assumption, labelled
 * so in the docs. A VMCS with more save/load registers pays the difference, one with fewer saves it.
 */
export const BASELINE_SAVE_LOAD: readonly { word: "exit" | "entry"; control: string }[] = [
  { word: "exit", control: "save_debug_controls" },
  { word: "entry", control: "load_debug_controls" },
];

/**
 * Without VPID every VM entry and VM exit invalidates the linear and combined mappings of VPID
 * 0000H (SDM Vol. 3C §29.4.3.1 "Operations that Invalidate Cached Mappings", older §28.3.3.1),
 * so the guest refills its TLB after each entry. A refill is a two-dimensional walk: with n
 * guest paging levels and m EPT levels, (n+1)(m+1)−1 memory references — 24 for 4-level paging
 * under 4-level EPT (Bhargava, Serebrin, Spadini, Manne, "Accelerating Two-Dimensional Page
 * Walks for Virtualized Systems", ASPLOS 2008). The `tlb_refill` cost is given for that 24.
 */
export const TWO_D_WALK = {
  guestLevels: 4,
  referenceRefs: 24,
  refs(guestLevels: number, eptLevels: number | undefined): number {
    // Shadow paging (EPT off): the hardware walks only the shadow tables, n references.
    return eptLevels === undefined ? guestLevels : (guestLevels + 1) * (eptLevels + 1) - 1;
  },
  source:
    "SDM Vol. 3C §29.4.3.1 (older §28.3.3.1): without VPID, VM entries and exits invalidate VPID 0000H's mappings; 2-D walk (n+1)(m+1)−1 references, 24 at 4/4 levels (Bhargava et al., ASPLOS 2008)",
} as const;

/**
 * Exits that follow a guest-physical walk of the EPT paging structures: the CPU walked the EPT
 * to find the violation or misconfiguration (SDM Vol. 3C §29.3.2 "EPT Translation Mechanism",
 * §29.3.3 (older §28.2.2, §28.2.3)), and KVM's fault handler walks its TDP page tables of the
 * same depth (kvm_tdp_mmu_map / tdp_iter, arch/x86/kvm/mmu/tdp_mmu.c, one step per level).
 */
export const EPT_WALK_EXITS: ReadonlySet<number> = new Set([EXIT.EPT_VIOLATION, EXIT.EPT_MISCONFIG]);

export const EPT_WALK_SOURCE =
  "SDM Vol. 3C §29.3.2 (older §28.2.2): the EPT walk is 4 or 5 levels deep (EPTP bits 5:3); KVM's TDP MMU walks the same depth (arch/x86/kvm/mmu/tdp_mmu.c)";

export type MitigationName = "l1d_flush" | "l1d_flush_always" | "verw" | "rsb" | "ibpb";

/** When KVM runs a mitigation, relative to the exits of a handler. */
export type MitigationWhen = "every" | "l1tfCond" | "vcpuSwitch";

export interface MitigationDef {
  name: MitigationName;
  cost: CostName;
  when: MitigationWhen;
  meaning: string;
  source: string;
}

/**
 * Speculative-execution mitigations KVM runs around VM entry and exit. Which a host runs depends
 * on the CPU's bugs and the kernel's command line (/sys/devices/system/cpu/vulnerabilities/*);
 * a file states them with `target { mitigations … }` — none by default, as in the 2014
 * measurement the round trip comes from (before any of them existed).
 */
export const MITIGATIONS: readonly MitigationDef[] = [
  {
    name: "l1d_flush",
    cost: "l1d_flush",
    when: "l1tfCond",
    meaning:
      "L1TF: flush the L1 data cache before VM entry, KVM's default `cond` mode (vmentry_l1d_flush=cond): only after the host may have touched secrets — a return from user space, a vCPU load after blocking, instruction emulation, a host interrupt.",
    source:
      "vmx_l1d_flush() called from vmx_vcpu_enter_exit() (arch/x86/kvm/vmx/vmx.c); cond mode flushes when vcpu->arch.l1tf_flush_l1d is set: vcpu_run(), kvm_arch_vcpu_load(), x86_emulate_instruction() (arch/x86/kvm/x86.c), host interrupts (kvm_set_cpu_l1tf_flush_l1d(), arch/x86/include/asm/hardirq.h)",
  },
  {
    name: "l1d_flush_always",
    cost: "l1d_flush",
    when: "every",
    meaning: "L1TF: flush the L1 data cache before every VM entry (vmentry_l1d_flush=always).",
    source: "vmx_l1d_flush() in vmx_vcpu_enter_exit() (arch/x86/kvm/vmx/vmx.c), VMENTER_L1D_FLUSH_ALWAYS",
  },
  {
    name: "verw",
    cost: "verw",
    when: "every",
    meaning: "MDS/TAA/RFDS: VERW clears the CPU buffers right before VMLAUNCH/VMRESUME, on every entry.",
    source:
      "CLEAR_CPU_BUFFERS (VERW, X86_FEATURE_CLEAR_CPU_BUF) in __vmx_vcpu_run (arch/x86/kvm/vmx/vmenter.S); mds_clear_cpu_buffers() in vmx_vcpu_enter_exit() for MMIO stale data with an assigned device",
  },
  {
    name: "rsb",
    cost: "rsb_fill",
    when: "every",
    meaning:
      "Spectre v2 / RSB underflow: stuff the return stack buffer with RSB_CLEAR_LOOPS benign entries after every VM exit, before the first unbalanced RET (parts without eIBRS; with eIBRS only the one-call PBRSB sequence).",
    source:
      "FILL_RETURN_BUFFER %_ASM_CX, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT, X86_FEATURE_RSB_VMEXIT_LITE at vmx_vmexit (arch/x86/kvm/vmx/vmenter.S)",
  },
  {
    name: "ibpb",
    cost: "ibpb",
    when: "vcpuSwitch",
    meaning:
      "Spectre v2: an indirect-branch prediction barrier when the physical CPU switches to another vCPU's VMCS. Charged to each exit that blocks the vCPU (`halt`), assuming another vCPU runs on the pCPU meanwhile (a vCPU alone on its pCPU never pays it).",
    source:
      "indirect_branch_prediction_barrier() in vmx_vcpu_load_vmcs() when per_cpu(current_vmcs) changes (arch/x86/kvm/vmx/vmx.c); newer kernels only with spectre_v2_user=on (x86_virt_guest_switch_ibpb(), arch/x86/include/asm/spec-ctrl.h)",
  },
];

export function mitigationByName(name: string): MitigationDef | undefined {
  return MITIGATIONS.find((m) => m.name === name);
}

/**
 * The reasons KVM's `cond` L1D flush follows whatever the handler does: a host interrupt sets
 * the per-CPU flush flag (kvm_set_cpu_l1tf_flush_l1d(), arch/x86/include/asm/hardirq.h).
 */
export const L1TF_COND_REASONS: ReadonlySet<number> = new Set([EXIT.EXTERNAL_INTERRUPT]);

/**
 * Shape of one VM transition's cost around its mean: a narrow body and a tail. Y. Shalabi,
 * "The Cost of Virtualization Exits" (https://yshalabi.github.io/VMExits/, i7-3960X, KVM,
 * VMCALL): with the vCPU pinned "the majority (~95%)" of round trips lie within 1,600–1,700
 * cycles, and "the rest creep on the higher cost when migration is allowed". Taken as: 95 % of
 * samples in a normal body whose ±1.96σ is that 100-cycle band (σ = `transition_jitter`), 5 %
 * in a tail of exponentially distributed extra cycles (mean `transition_tail` for a pinned vCPU,
 * `transition_tail_migrating` for one that may migrate).
 */
export const TRANSITION_DISTRIBUTION = {
  tailShare: 0.05,
  source:
    "Y. Shalabi, 'The Cost of Virtualization Exits' (i7-3960X, pinned vCPU): ~95% of VMCALL round trips within 1,600–1,700 cycles; the rest higher, more so when the vCPU may migrate",
} as const;
