/**
 * Shapes of the VT-x data tables. The tables themselves (controls.ts, exitReasons.ts,
 * vmcsFields.ts, msrs.ts, exceptions.ts, profiles.ts) are the one place SDM facts live; every
 * entry carries its source.
 */

/** The six VMX control words the language names (`pin`, `proc`, …). */
export type ControlWord = "pin" | "proc" | "proc2" | "proc3" | "exit" | "entry";

export interface ControlDef {
  /** Language name, lower snake case of the SDM name: "hlt_exiting". */
  name: string;
  word: ControlWord;
  bit: number;
  /** The SDM's own name: "HLT exiting". */
  sdmName: string;
  /** Linux macro, where Linux has one: "CPU_BASED_HLT_EXITING". */
  linuxMacro?: string;
  /** One sentence: what setting it does (SDM wording where possible). */
  meaning: string;
  /** Where the bit position comes from: "L-feat VMX_FEATURE_HLT_EXITING; SDM Vol. 3C §25.6.2 Table 25-6". */
  source: string;
}

/** What causes an exit with a reason (exitReasons.ts says where each class comes from). */
export type ExitCause = "instruction" | "memory" | "event" | "entry-failure";

export interface ExitReasonDef {
  /** Basic exit reason (bits 15:0 of VM_EXIT_REASON). */
  code: number;
  /** Linux name without EXIT_REASON_: "EPT_MISCONFIG". Reasons Linux does not name use Bochs' name. */
  name: string;
  cause: ExitCause;
  /** cause = "instruction": the guest attempted to execute an instruction (exit length valid). */
  instructionCaused: boolean;
  /** cause = "memory": a guest memory access (EPT, SPP, PML, virtual-APIC page). */
  memoryAccess: boolean;
  /** SDM Appendix C meaning, one sentence. */
  meaning: string;
  source: string;
  /** Alternative names accepted when resolving (e.g. "PENDING_INTERRUPT" for 7). */
  aliases?: string[];
}

export type FieldWidth = "16" | "32" | "64" | "natural";
/** SDM Vol. 3C §25.11.2 / App. B: encoding bits 11:10. */
export type FieldType = "control" | "exit-information" | "guest-state" | "host-state";

export interface VmcsFieldDef {
  /** Linux enum vmcs_field name: "GUEST_RIP". */
  name: string;
  encoding: number;
  /** Derived from encoding bits 14:13 (0 16-bit, 1 64-bit, 2 32-bit, 3 natural). */
  width: FieldWidth;
  /** Derived from encoding bits 11:10. */
  type: FieldType;
  /** Exit-information fields are read-only (VMWRITE fails unless IA32_VMX_MISC[29]). */
  readOnly: boolean;
  /** True for the `_HIGH` alias (encoding bit 0 = 1) of a 64-bit field. */
  high?: boolean;
  description?: string;
  source: string;
}

export interface MsrDef {
  name: string;
  index: number;
  description: string;
  source: string;
  aliases?: string[];
}

export interface ExceptionDef {
  vector: number;
  /** "#PF" */
  mnemonic: string;
  name: string;
  /** Pushes an error code in protected mode (L-x86.h x86_exception_has_error_code). */
  hasErrorCode: boolean;
  source: string;
}

/**
 * The VMX capability MSRs of a CPU (SDM Vol. 3D App. A). Control-word pairs are 64-bit values:
 * bits 31:0 allowed-0 settings (1 ⇒ the control must be 1), bits 63:32 allowed-1 settings
 * (0 ⇒ the control must be 0). PROCBASED_CTLS3 is allowed-1 only (64 bits).
 */
export interface CapabilityMsrs {
  IA32_VMX_BASIC: bigint;
  IA32_VMX_PINBASED_CTLS: bigint;
  IA32_VMX_PROCBASED_CTLS: bigint;
  IA32_VMX_EXIT_CTLS: bigint;
  IA32_VMX_ENTRY_CTLS: bigint;
  IA32_VMX_MISC: bigint;
  IA32_VMX_CR0_FIXED0: bigint;
  IA32_VMX_CR0_FIXED1: bigint;
  IA32_VMX_CR4_FIXED0: bigint;
  IA32_VMX_CR4_FIXED1: bigint;
  IA32_VMX_VMCS_ENUM: bigint;
  /** 0 when the CPU has no secondary controls (PROCBASED_CTLS bit 63 clear). */
  IA32_VMX_PROCBASED_CTLS2: bigint;
  IA32_VMX_EPT_VPID_CAP: bigint;
  /** Present when IA32_VMX_BASIC[55] = 1. */
  IA32_VMX_TRUE_PINBASED_CTLS: bigint;
  IA32_VMX_TRUE_PROCBASED_CTLS: bigint;
  IA32_VMX_TRUE_EXIT_CTLS: bigint;
  IA32_VMX_TRUE_ENTRY_CTLS: bigint;
  IA32_VMX_VMFUNC: bigint;
  /** 0 when the CPU has no tertiary controls. */
  IA32_VMX_PROCBASED_CTLS3: bigint;
}

export type CapabilityMsrName = keyof CapabilityMsrs;

/** Cost parameters of a target (cycles). */
export type CostName =
  /** VM exit + the hypervisor's minimal exit/entry path + VM entry (a null VMCALL round trip). */
  | "round_trip"
  | "vmread"
  | "vmwrite"
  /** Fetch and decode of the guest instruction (KVM's emulator front end). */
  | "decode"
  /** Return to the user-space VMM and back into KVM (KVM_RUN ioctl exit and re-entry). */
  | "userspace_round_trip"
  /** Waking a halted vCPU (kvm_vcpu_kick → schedule back in). */
  | "halt_wake"
  /** Sending an IPI to another vCPU from the host. */
  | "ipi"
  | "invept"
  | "invvpid"
  /** Writing the VM-entry interruption-information field and its companions. */
  | "inject"
  /** RIP advance: read VM_EXIT_INSTRUCTION_LEN, write GUEST_RIP (beyond the VMREAD/VMWRITE). */
  | "advance_rip"
  /** Draining a full PML buffer into the dirty bitmap (512 entries). */
  | "pml_drain"
  /** Nested: L0's emulated VM exit into L1 beyond the round trip (nested.c nested_vmx_vmexit). */
  | "nested_vmexit"
  /** Nested: L0's emulated VMLAUNCH/VMRESUME of L1 beyond the round trip (nested.c nested_vmx_run). */
  | "nested_vmentry"
  /** Nested: L0 emulating one trapped VMREAD/VMWRITE of L1 beyond the round trip (handle_vmread/handle_vmwrite). */
  | "vmx_emulate"
  /** One VMPTRLD in L0 (switching to and from the shadow VMCS in copy_vmcs12_to_shadow). */
  | "vmptrld"
  /** Nested: L0's shadow-EPT fault building EPT02 on L2's first touch of a page, beyond the exit (paging_tmpl.h FNAME(page_fault), PTTYPE_EPT). */
  | "ept02_fault"
  /** One entry of a VM-exit MSR-store, VM-exit MSR-load or VM-entry MSR-load list, per transition. */
  | "msr_list_entry"
  /** One register a save/load VM-exit or VM-entry control moves, per transition (vmx/transitionTerms.ts). */
  | "save_load_register"
  /** The guest's TLB refill after an entry that flushed it (no VPID), at 4-level paging under 4-level EPT. */
  | "tlb_refill"
  /** One EPT level walked on an EPT violation or misconfiguration (hardware walk + KVM's TDP walk). */
  | "ept_walk_level"
  /** Flushing the L1 data cache before VM entry (L1TF). */
  | "l1d_flush"
  /** VERW clearing the CPU buffers before VM entry (MDS). */
  | "verw"
  /** Stuffing the return stack buffer after VM exit (RSB_CLEAR_LOOPS). */
  | "rsb_fill"
  /** An indirect-branch prediction barrier on a vCPU switch. */
  | "ibpb"
  /** Standard deviation of a transition's body (the pinned, common case). */
  | "transition_jitter"
  /** Mean extra cycles of a transition in the tail (5 % of transitions), vCPU pinned. */
  | "transition_tail"
  /** The same for a vCPU that may migrate (a guest without `pinned`). */
  | "transition_tail_migrating"
  /** Guest cycles per instruction, to count a `compute`'s instructions (monitor trap flag). */
  | "guest_instruction";

export type Provenance = "measured" | "estimate" | "user";

export interface CostParam {
  cycles: number;
  provenance: Provenance;
  /** The measurement or reasoning; for an estimate, what it was derived from. */
  source: string;
}

export interface CpuProfile {
  /** Language name: "skylake_server". */
  name: string;
  displayName: string;
  /** Year of first availability, for hovers. */
  year: number;
  defaultHz: number;
  /** MAXPHYADDR in bits (CPUID.80000008H:EAX[7:0]). */
  maxPhysAddrBits: number;
  msrs: CapabilityMsrs;
  costs: Record<CostName, CostParam>;
  /** Cycles of one spin-loop iteration (PAUSE + lock test), for PAUSE exiting's exit count. */
  pauseIteration: CostParam;
  /** What features arrived with this generation, for hovers and docs. */
  notes: string;
  source: string;
}
