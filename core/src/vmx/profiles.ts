/**
 * CPU profiles: the VMX capability MSRs and the cost parameters of one Intel server generation.
 *
 * The capability MSRs are built from a per-generation feature list (control names, EPT/VPID
 * capability bits, MISC bits), never typed as hex, so every bit traces to the list below and its
 * source. Each generation inherits the previous one's features (the Xeon line only adds VMX
 * features; the one removal, MPX's BNDCFGS controls, is explicit).
 *
 * Feature sources:
 * - QEMU target/i386/cpu.c built-in models (qemu/qemu, `.features[FEAT_VMX_*]` of Nehalem,
 *   Westmere, SandyBridge, IvyBridge, Haswell, Broadwell, Skylake-Server, Cascadelake-Server,
 *   Icelake-Server incl. its -v4/-v5/-v6 additions, SapphireRapids). QEMU lists only what KVM can
 *   emulate for a nested guest, and says so: its Skylake-Server model carries the comment
 *   "Missing: Mode-based execute control (XS/XU), processor tracing, TSC scaling".
 * - Features QEMU leaves out because nested KVM does not offer them are added with their own
 *   source: PAUSE-loop exiting (Intel's 2009 enabling commit, Xen b67758cd "vmx: Add support for
 *   Pause-Loop Exiting" by Zhai Edwin, mirrored in KVM: "New NHM processors will support
 *   Pause-Loop Exiting", i.e. the Nehalem successor Westmere), Skylake-server MBEC /
 *   Intel PT / TSC scaling (the QEMU comment above), XSAVES (QEMU Skylake-Server-v5 "vmx-xsaves"),
 *   5-level EPT (QEMU Icelake-Server-v6 "vmx-page-walk-5"), IPI virtualization, bus-lock detection
 *   and notify VM exits (Linux KVM enabling patches for Sapphire Rapids), SGX ENCLS exiting and
 *   PCONFIG (Ice Lake-SP's SGX and TME-MK), sub-page write permissions (Ice Lake: the KVM SPP series was tested "on Ice-Lake platform").
 * - Every real Intel part reports activity states HLT, shutdown and wait-for-SIPI, UC and WB EPTP
 *   memory types and 4 CR3-target values (SDM Vol. 3D App. A.6, A.10; QEMU omits what nested KVM
 *   cannot emulate).
 */

import { EPT_VPID_CAP, VMFUNC_EPTP_SWITCHING, VMX_BASIC, VMX_MISC } from "./capabilities";
import { controlInWord, DEFAULT1_BITS } from "./controls";
import type { CapabilityMsrs, ControlWord, CostName, CostParam, CpuProfile } from "./types";

type FeatureSet = Partial<Record<ControlWord, string[]>>;

interface GenerationSpec {
  name: string;
  displayName: string;
  year: number;
  /** Representative server SKU and its base clock. */
  sku: string;
  defaultHz: number;
  maxPhysAddrBits: number;
  /** Controls that may be 1 from this generation on (allowed-1), by word. */
  addControls: FeatureSet;
  /** Controls no longer offered from this generation on. */
  removeControls?: FeatureSet;
  addEptVpidCaps?: number[];
  addMiscBits?: number[];
  addVmfunc?: number[];
  /** CR4 bits that may be 1 in VMX operation (IA32_VMX_CR4_FIXED1), added in this generation. */
  addCr4Bits?: number[];
  /** Multiplier on the Sandy Bridge cost figures (see COST_SCALE_REASON). */
  costScale: number;
  /** Cycles of one spin-loop iteration under PAUSE exiting (see PAUSE_ITERATION). */
  pauseIteration: keyof typeof PAUSE_ITERATION;
  notes: string;
  source: string;
}

const QEMU = "QEMU target/i386/cpu.c";

/** Controls every VMX generation here offers: Nehalem as QEMU models it (plus the real CPU's extras). */
const NEHALEM_CONTROLS: FeatureSet = {
  pin: ["external_interrupt_exiting", "nmi_exiting", "virtual_nmis", "activate_vmx_preemption_timer"],
  proc: [
    "interrupt_window_exiting",
    "use_tsc_offsetting",
    "hlt_exiting",
    "invlpg_exiting",
    "mwait_exiting",
    "rdpmc_exiting",
    "rdtsc_exiting",
    "cr3_load_exiting",
    "cr3_store_exiting",
    "cr8_load_exiting",
    "cr8_store_exiting",
    "use_tpr_shadow",
    "nmi_window_exiting",
    "mov_dr_exiting",
    "unconditional_io_exiting",
    "use_io_bitmaps",
    "monitor_trap_flag",
    "use_msr_bitmaps",
    "monitor_exiting",
    "pause_exiting",
    "activate_secondary_controls",
  ],
  proc2: [
    "virtualize_apic_accesses",
    "enable_ept",
    "descriptor_table_exiting",
    "enable_rdtscp",
    "virtualize_x2apic_mode",
    "enable_vpid",
    "wbinvd_exiting",
  ],
  exit: [
    "save_debug_controls",
    "host_address_space_size",
    "load_ia32_perf_global_ctrl",
    "acknowledge_interrupt_on_exit",
    "save_ia32_pat",
    "load_ia32_pat",
    "save_ia32_efer",
    "load_ia32_efer",
    "save_vmx_preemption_timer_value",
  ],
  entry: [
    "load_debug_controls",
    "ia32e_mode_guest",
    "entry_to_smm",
    "deactivate_dual_monitor_treatment",
    "load_ia32_perf_global_ctrl",
    "load_ia32_pat",
    "load_ia32_efer",
  ],
};

// CR4 bits (SDM Vol. 3A §2.5): VME 0 … OSXMMEXCPT 10, UMIP 11, LA57 12, VMXE 13, SMXE 14,
// FSGSBASE 16, PCIDE 17, OSXSAVE 18, SMEP 20, SMAP 21, PKE 22, CET 23, PKS 24.
const CR4_BASE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14];

const GENERATIONS: GenerationSpec[] = [
  {
    name: "nehalem",
    displayName: "Nehalem (Xeon 5500)",
    year: 2009,
    sku: "Xeon X5570, 2.93 GHz",
    defaultHz: 2.93e9,
    maxPhysAddrBits: 40,
    addControls: NEHALEM_CONTROLS,
    addEptVpidCaps: [
      EPT_VPID_CAP.EXECUTE_ONLY,
      EPT_VPID_CAP.PAGE_WALK_4,
      EPT_VPID_CAP.EPTP_UC,
      EPT_VPID_CAP.EPTP_WB,
      EPT_VPID_CAP.PAGE_2M,
      EPT_VPID_CAP.PAGE_1G,
      EPT_VPID_CAP.INVEPT,
      EPT_VPID_CAP.INVEPT_SINGLE_CONTEXT,
      EPT_VPID_CAP.INVEPT_ALL_CONTEXT,
      EPT_VPID_CAP.INVVPID,
      EPT_VPID_CAP.INVVPID_INDIVIDUAL_ADDRESS,
      EPT_VPID_CAP.INVVPID_SINGLE_CONTEXT,
      EPT_VPID_CAP.INVVPID_ALL_CONTEXT,
      EPT_VPID_CAP.INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS,
    ],
    addMiscBits: [VMX_MISC.ACTIVITY_HLT, VMX_MISC.ACTIVITY_SHUTDOWN, VMX_MISC.ACTIVITY_WAIT_SIPI],
    addCr4Bits: CR4_BASE,
    costScale: 1.15,
    pauseIteration: "beforeSkylake",
    notes:
      "First generation with EPT, VPID, secondary controls, the VMX-preemption timer, virtualized APIC accesses and x2APIC virtualization.",
    source: `${QEMU} model "Nehalem" (FEAT_VMX_*; its EPT caps include 1 GB pages)`,
  },
  {
    name: "westmere",
    displayName: "Westmere (Xeon 5600)",
    year: 2010,
    sku: "Xeon X5670, 2.93 GHz",
    defaultHz: 2.93e9,
    maxPhysAddrBits: 40,
    addControls: { proc2: ["unrestricted_guest", "pause_loop_exiting"] },
    addMiscBits: [VMX_MISC.SAVE_EFER_LMA],
    addCr4Bits: [17],
    costScale: 1.08,
    pauseIteration: "beforeSkylake",
    notes: "Adds unrestricted guest (real mode under EPT), PAUSE-loop exiting and EFER.LMA saving on exit.",
    source: `${QEMU} model "Westmere" (adds UNRESTRICTED_GUEST, MSR_VMX_MISC_STORE_LMA); PLE: Intel enabling commit (Xen b67758cd "vmx: Add support for Pause-Loop Exiting": "New NHM processors will support Pause-Loop Exiting")`,
  },
  {
    name: "sandy_bridge",
    displayName: "Sandy Bridge-EP (Xeon E5 v1)",
    year: 2012,
    sku: "Xeon E5-2680, 2.7 GHz",
    defaultHz: 2.7e9,
    maxPhysAddrBits: 46,
    addControls: {},
    addCr4Bits: [18],
    costScale: 1,
    pauseIteration: "beforeSkylake",
    notes:
      "No new VMX controls over Westmere (QEMU's SandyBridge VMX words equal Westmere's); the measured round trip is from this generation.",
    source: `${QEMU} model "SandyBridge"`,
  },
  {
    name: "ivy_bridge",
    displayName: "Ivy Bridge-EP (Xeon E5 v2)",
    year: 2013,
    sku: "Xeon E5-2680 v2, 2.8 GHz",
    defaultHz: 2.8e9,
    maxPhysAddrBits: 46,
    addControls: {
      pin: ["process_posted_interrupts"],
      proc2: ["apic_register_virtualization", "virtual_interrupt_delivery", "rdrand_exiting"],
    },
    addCr4Bits: [16, 20],
    costScale: 0.97,
    pauseIteration: "beforeSkylake",
    notes:
      "APICv: APIC-register virtualization, virtual-interrupt delivery and posted interrupts (Ivy Bridge-EP); RDRAND exiting.",
    source: `${QEMU} model "IvyBridge" (adds POSTED_INTR, APIC_REGISTER_VIRT, VIRTUAL_INTR_DELIVERY, RDRAND_EXITING)`,
  },
  {
    name: "haswell",
    displayName: "Haswell-EP (Xeon E5 v3)",
    year: 2014,
    sku: "Xeon E5-2680 v3, 2.5 GHz",
    defaultHz: 2.5e9,
    maxPhysAddrBits: 46,
    addControls: { proc2: ["enable_invpcid", "enable_vm_functions", "vmcs_shadowing"] },
    addEptVpidCaps: [EPT_VPID_CAP.ACCESSED_DIRTY],
    addMiscBits: [VMX_MISC.VMWRITE_READ_ONLY_FIELDS],
    addVmfunc: [VMFUNC_EPTP_SWITCHING],
    costScale: 0.9,
    pauseIteration: "beforeSkylake",
    notes:
      "VMCS shadowing, EPT accessed/dirty flags, VM functions (EPTP switching), INVPCID; VMWRITE to exit-information fields.",
    source: `${QEMU} model "Haswell" (adds ENABLE_INVPCID, ENABLE_VMFUNC, SHADOW_VMCS, MSR_VMX_EPT_AD_BITS, MSR_VMX_MISC_VMWRITE_VMEXIT, MSR_VMX_VMFUNC_EPT_SWITCHING)`,
  },
  {
    name: "broadwell",
    displayName: "Broadwell-EP (Xeon E5 v4)",
    year: 2016,
    sku: "Xeon E5-2680 v4, 2.4 GHz",
    defaultHz: 2.4e9,
    maxPhysAddrBits: 46,
    addControls: { proc2: ["rdseed_exiting", "enable_pml", "ept_violation_ve"] },
    addCr4Bits: [21],
    costScale: 0.88,
    pauseIteration: "beforeSkylake",
    notes: "Page-modification logging, EPT-violation #VE, RDSEED exiting.",
    source: `${QEMU} model "Broadwell" (adds RDSEED_EXITING, ENABLE_PML); #VE: introduced with Broadwell (virtualization exceptions, SDM Vol. 3C §26.5.7 describes them; QEMU omits the control because nested KVM does not offer it)`,
  },
  {
    name: "skylake_server",
    displayName: "Skylake-SP (Xeon Scalable 1st gen)",
    year: 2017,
    sku: "Xeon Gold 6130, 2.1 GHz",
    defaultHz: 2.1e9,
    maxPhysAddrBits: 46,
    addControls: {
      proc2: [
        "enable_xsaves_xrstors",
        "use_tsc_scaling",
        "mode_based_execute_control",
        "conceal_vmx_from_pt",
        "pt_uses_guest_physical_addresses",
      ],
      exit: ["clear_ia32_bndcfgs", "conceal_vmx_from_pt", "clear_ia32_rtit_ctl"],
      entry: ["load_ia32_bndcfgs", "conceal_vmx_from_pt", "load_ia32_rtit_ctl"],
    },
    addMiscBits: [VMX_MISC.INTEL_PT],
    addCr4Bits: [22],
    costScale: 0.86,
    pauseIteration: "skylakeAndLater",
    notes:
      "XSAVES/XRSTORS, TSC scaling, mode-based execute control for EPT, Intel PT in VMX operation, MPX (BNDCFGS) controls.",
    source: `${QEMU} model "Skylake-Server" (comment "Missing: Mode-based execute control (XS/XU), processor tracing, TSC scaling"; -v5 adds vmx-xsaves)`,
  },
  {
    name: "cascade_lake",
    displayName: "Cascade Lake-SP (Xeon Scalable 2nd gen)",
    year: 2019,
    sku: "Xeon Gold 6230, 2.1 GHz",
    defaultHz: 2.1e9,
    maxPhysAddrBits: 46,
    addControls: {},
    costScale: 0.86,
    pauseIteration: "skylakeAndLater",
    notes:
      "Same VMX features as Skylake-SP; hardware mitigations (IBRS_ALL, RDCL_NO, skip L1D flush on VM entry).",
    source: `${QEMU} model "Cascadelake-Server" (VMX words identical to Skylake-Server; -v2 adds skip-l1dfl-vmentry)`,
  },
  {
    name: "icelake_server",
    displayName: "Ice Lake-SP (Xeon Scalable 3rd gen)",
    year: 2021,
    sku: "Xeon Gold 6330, 2.0 GHz",
    defaultHz: 2.0e9,
    maxPhysAddrBits: 52,
    addControls: { proc2: ["sub_page_write_permissions", "enable_encls_exiting", "enable_pconfig"] },
    removeControls: { exit: ["clear_ia32_bndcfgs"], entry: ["load_ia32_bndcfgs"] },
    addEptVpidCaps: [EPT_VPID_CAP.PAGE_WALK_5],
    addCr4Bits: [11, 12],
    costScale: 0.82,
    pauseIteration: "skylakeAndLater",
    notes:
      "5-level EPT, sub-page write permissions, SGX (ENCLS exiting), PCONFIG (TME-MK); MPX gone, so no BNDCFGS controls.",
    source: `${QEMU} model "Icelake-Server" (-v6 "5-level EPT" vmx-page-walk-5; CPUID has no MPX); SPP: KVM SPP series v4 cover letter (Yang Weijiang, kvm list 2019): "passed SPP function test and selftest on Ice-Lake platform"; SGX/PCONFIG: Ice Lake-SP feature set`,
  },
  {
    name: "sapphire_rapids",
    displayName: "Sapphire Rapids (Xeon Scalable 4th gen)",
    year: 2023,
    sku: "Xeon Platinum 8480+, 2.0 GHz",
    defaultHz: 2.0e9,
    maxPhysAddrBits: 52,
    addControls: {
      proc: ["activate_tertiary_controls"],
      proc2: ["bus_lock_detection", "notify_vm_exiting", "enable_user_wait_and_pause"],
      proc3: ["ipi_virtualization"],
    },
    addCr4Bits: [23, 24],
    costScale: 0.8,
    pauseIteration: "skylakeAndLater",
    notes:
      "Tertiary controls with IPI virtualization, VMM bus-lock detection, notify (instruction-timeout) VM exits, user wait/pause (WAITPKG).",
    source: `${QEMU} model "SapphireRapids" (CPUID BUS_LOCK_DETECT); Linux KVM patches "KVM: VMX: enable IPI virtualization", "KVM: VMX: Enable bus lock VM exit", "KVM: VMX: Enable Notify VM exit"`,
  },
];

/**
 * Cycles of one spin-loop iteration (PAUSE plus the lock test), used with PAUSE exiting, where
 * every PAUSE exits. From PAUSE's documented latency: Intel 64 and IA-32 Architectures
 * Optimization Reference Manual, Skylake microarchitecture, "Pause Latency in Skylake
 * Microarchitecture", which gives PAUSE's latency as about 10 cycles on the generations before
 * Skylake and as many as 140 cycles on Skylake (paraphrased; the later server parts here are taken
 * at the Skylake figure, no newer figure found). The iteration is taken at PAUSE's latency (the lock test
 * beside it is a few cycles): an estimate, not a measurement.
 */
const PAUSE_ITERATION = {
  beforeSkylake: {
    cycles: 10,
    reason:
      "estimate from PAUSE's latency before Skylake, 'about 10 cycles' (Intel Optimization Reference Manual, Pause Latency in Skylake Microarchitecture)",
  },
  skylakeAndLater: {
    cycles: 140,
    reason:
      "estimate from PAUSE's latency on Skylake and later, 'as many as 140 cycles' (Intel Optimization Reference Manual, Pause Latency in Skylake Microarchitecture)",
  },
} as const;

const COST_SCALE_REASON =
  "scaled from the Sandy Bridge figure by a generation factor following Intel's published trend of falling VM-transition latency (VMware/Intel 2009 charts in docs/hardware.md, no numbers per part)";

/**
 * Cost parameters at Sandy Bridge (cycles) and the reasoning behind each. Only round_trip is a
 * measurement (docs/hardware.md: Shalabi, i7-3960X, 95% of VMCALL round trips 1,600–1,700 cycles).
 */
const BASE_COSTS: Record<CostName, { cycles: number; reason: string }> = {
  round_trip: {
    cycles: 1650,
    reason:
      "VMCALL round trip through KVM whose handler returns at once, pinned vCPU: 95% of samples 1,600–1,700 cycles on Core i7-3960X (Sandy Bridge-E); Y. Shalabi, 'The Cost of Virtualization Exits', https://yshalabi.github.io/VMExits/ (midpoint)",
  },
  vmread: {
    cycles: 30,
    reason:
      "estimate: VMREAD of a cached VMCS field is a short microcode flow, tens of cycles; no measurement found",
  },
  vmwrite: {
    cycles: 30,
    reason: "estimate: VMWRITE, same reasoning as VMREAD; no measurement found",
  },
  decode: {
    cycles: 1000,
    reason:
      "estimate: KVM's x86 emulator fetch (guest page walk + copy) and decode of one instruction, on the order of the exit round trip itself; no measurement found",
  },
  userspace_round_trip: {
    cycles: 3400,
    reason:
      "estimate: kvm-unit-tests nested figures inl_from_qemu 46,747 vs inl_from_kernel 15,218 cycles (Bonzini 2019) — leaving KVM for QEMU adds (46747-15218)/15218 ≈ 2.07× an in-kernel I/O exit; 2.07 × round_trip",
  },
  halt_wake: {
    cycles: 1700,
    reason:
      "estimate: kvm-unit-tests nested self_ipi_sti_hlt − self_ipi_sti_nop = 15,418 cycles ≈ 1.03× vmcall (14,918), so waking a halted vCPU ≈ 1.03 × round_trip (no host scheduling latency; halt polling hides it)",
  },
  ipi: {
    cycles: 1000,
    reason:
      "estimate: host-side kvm_vcpu_kick plus an x2APIC ICR write to the target's physical CPU; a few hundred cycles of bookkeeping plus the ICR write; no measurement found",
  },
  invept: {
    cycles: 600,
    reason:
      "estimate: single-context INVEPT flushes the EPT-tagged TLB entries of one EPTP; hundreds of cycles; no measurement found",
  },
  invvpid: {
    cycles: 300,
    reason: "estimate: single-address or single-context INVVPID, cheaper than INVEPT; no measurement found",
  },
  inject: {
    cycles: 100,
    reason:
      "estimate: VMWRITE of VM_ENTRY_INTR_INFO_FIELD (+ error code, instruction length) ≈ 2–3 VMWRITEs plus KVM's event bookkeeping",
  },
  advance_rip: {
    cycles: 40,
    reason:
      "estimate: KVM skip_emulated_instruction bookkeeping beyond its VMREAD of VM_EXIT_INSTRUCTION_LEN and VMWRITE of GUEST_RIP (interruptibility and single-step checks)",
  },
  pml_drain: {
    cycles: 8000,
    reason:
      "estimate: 512 PML entries (PML_LOG_NR_ENTRIES) × ~15 cycles to read a GPA and set its bit in the dirty bitmap",
  },
  nested_vmexit: {
    cycles: 4600,
    reason:
      "estimate, calibrated: L0's emulated VM exit into L1 (nested_vmx_vmexit: sync_vmcs02_to_vmcs12, prepare_vmcs12, load_vmcs12_host_state, vmx_switch_vmcs) beyond its round trip; with nested_vmentry chosen so that the modelled L2 VMCALL reflected to a KVM L1 with VMCS shadowing totals the published nested vmcall 14,918 cycles (kvm-unit-tests vmexit in L2, Bonzini 2019; docs/estimator.md 'Nested chain'); the 4,600/5,700 split between exit and entry is an estimate",
  },
  nested_vmentry: {
    cycles: 5700,
    reason:
      "estimate, calibrated: L0's emulated VMRESUME of L1 (nested_vmx_run: nested_vmx_check_controls/host/guest state, prepare_vmcs02_early, prepare_vmcs02, vmx_switch_vmcs) beyond its round trip; calibrated with nested_vmexit against the nested vmcall 14,918 cycles (Bonzini 2019; docs/estimator.md 'Nested chain')",
  },
  vmx_emulate: {
    cycles: 200,
    reason:
      "estimate: handle_vmread/handle_vmwrite beyond the round trip (decode VMX_INSTRUCTION_INFO, vmcs12 field offset lookup, register or memory operand); no measurement found",
  },
  vmptrld: {
    cycles: 100,
    reason:
      "estimate: VMPTRLD of a VMCS already in the processor's cache, a microcode flow of about 100 cycles; no measurement found",
  },
  ept02_fault: {
    cycles: 4000,
    reason:
      "estimate: L0's shadow-EPT fault on L2's first touch of a page beyond the EPT_VIOLATION round trip (paging_tmpl.h FNAME(page_fault) with PTTYPE_EPT: FNAME(walk_addr) reads EPT12's 4 levels from L1's memory, FNAME(fetch) allocates and links the missing EPT02 levels under mmu_lock and write-protects the EPT12 pages it shadows); a few thousand cycles, about two round trips; no measurement found",
  },
  // Transition terms (vmx/transitionTerms.ts says which a VMCS incurs; analysis/transitionCost.ts adds them).
  msr_list_entry: {
    cycles: 100,
    reason:
      "estimate: each VM-exit MSR-store, VM-exit MSR-load or VM-entry MSR-load entry is a microcoded RDMSR or WRMSR of the listed MSR (SDM Vol. 3C §27.4, §28.4, §28.6), on the order of a WRMSR, ~100 cycles; no measurement found",
  },
  save_load_register: {
    cycles: 40,
    reason:
      "estimate: a register moved by a save/load control (DR7, DEBUGCTL, PAT, EFER, PERF_GLOBAL_CTRL…) in the transition microcode, cheaper than an MSR-list entry (KVM prefers the controls: add_atomic_switch_msr_special(), arch/x86/kvm/vmx/vmx.c); no measurement found",
  },
  tlb_refill: {
    cycles: 1500,
    reason:
      "estimate: after an entry without VPID the guest refills ~32 translations (hot code, stack, data), each a 24-reference two-dimensional walk (Bhargava et al., ASPLOS 2008) mostly hitting the paging-structure caches, ~2 cycles a reference; no measurement found",
  },
  ept_walk_level: {
    cycles: 30,
    reason:
      "estimate: per EPT level on an EPT violation or misconfiguration, one paging-structure reference of the CPU's walk (cache hit) plus one tdp_iter step of KVM's TDP MMU; no measurement found",
  },
  l1d_flush: {
    cycles: 2000,
    reason:
      "estimate: IA32_FLUSH_CMD (or KVM's software fill of 64 KiB, vmx_l1d_flush()) writes back and invalidates the 32 KiB L1D, 512 lines, and the guest then runs on a cold L1D; no measurement found",
  },
  verw: {
    cycles: 400,
    reason:
      "estimate: VERW with the MD_CLEAR microcode overwrites the store, fill and load buffers before VM entry; a few hundred cycles; no measurement found",
  },
  rsb_fill: {
    cycles: 60,
    reason:
      "estimate: FILL_RETURN_BUFFER with RSB_CLEAR_LOOPS (32) issues 32 CALLs in 16 loop iterations and resets the stack pointer, ~2 cycles a CALL; no measurement found",
  },
  ibpb: {
    cycles: 4000,
    reason:
      "estimate: an IA32_PRED_CMD write (IBPB) flushes the indirect branch predictors; thousands of cycles on microcode-updated Skylake-era parts, plus the retraining after it; no measurement found",
  },
  transition_jitter: {
    cycles: 26,
    reason:
      "from the Sandy Bridge measurement: ~95% of pinned VMCALL round trips within 1,600–1,700 cycles (Y. Shalabi, 'The Cost of Virtualization Exits'), a ±50-cycle band read as ±1.96σ of a normal body, σ ≈ 26",
  },
  transition_tail: {
    cycles: 1000,
    reason:
      "estimate: mean extra cycles of the ~5% of round trips outside the 1,600–1,700 band (Shalabi's pinned curve: a host interrupt, cache or TLB misses in the exit path); a vCPU that may migrate has a longer tail (Shalabi: 'the rest creep on the higher cost when migration is allowed'): transition_tail_migrating, used for a guest without `pinned`",
  },
  transition_tail_migrating: {
    cycles: 2000,
    reason:
      "estimate: mean extra cycles of the ~5% tail when the vCPU thread may migrate (a guest without `pinned`): Shalabi's unpinned samples 'creep on the higher cost' (a migration reloads the VMCS on the new CPU — VMCLEAR, VMPTRLD — with cold caches); no figure can be read from the text, taken as twice the pinned tail",
  },
  guest_instruction: {
    cycles: 1,
    reason:
      "estimate: one guest instruction per cycle (IPC 1) to count the instructions of a `compute`, whose cycles the language gives but not its instructions; used for the monitor trap flag's exit after every instruction (SDM Vol. 3C §26.5.2). Not scaled per generation",
  },
};

/** Costs that are not VM-transition latencies and do not follow the generation factor. */
const UNSCALED: ReadonlySet<CostName> = new Set(["guest_instruction"]);

function costsFor(spec: GenerationSpec): Record<CostName, CostParam> {
  const costs = {} as Record<CostName, CostParam>;
  for (const name of Object.keys(BASE_COSTS) as CostName[]) {
    const base = BASE_COSTS[name];
    if (UNSCALED.has(name)) {
      costs[name] = { cycles: base.cycles, provenance: "estimate", source: base.reason };
      continue;
    }
    const measured = name === "round_trip" && spec.name === "sandy_bridge";
    if (measured) {
      costs[name] = { cycles: base.cycles, provenance: "measured", source: base.reason };
      continue;
    }
    const cycles = Math.round(base.cycles * spec.costScale);
    const scaled = spec.costScale === 1 ? "" : `; ×${spec.costScale} for ${spec.name}, ${COST_SCALE_REASON}`;
    const basis =
      name === "round_trip" ? `estimate from the Sandy Bridge measurement (${base.reason})` : base.reason;
    costs[name] = { cycles, provenance: "estimate", source: `${basis}${scaled}` };
  }
  return costs;
}

function maskOf(word: ControlWord, names: Set<string>): bigint {
  let mask = 0n;
  for (const name of names) {
    const control = controlInWord(word, name);
    if (!control) throw new Error(`profiles.ts: unknown ${word} control ${name}`);
    mask |= 1n << BigInt(control.bit);
  }
  return mask;
}

function bits(list: Iterable<number>): bigint {
  let value = 0n;
  for (const bit of list) value |= 1n << BigInt(bit);
  return value;
}

/** Bits of the default1 class that the TRUE MSRs report as may-be-0 (Bochs vmx.cc TRUE values, docs/hardware.md). */
const TRUE_RELAXED: Record<"pin" | "proc" | "exit" | "entry", number> = {
  pin: 0,
  // CR3-load and CR3-store exiting (bits 15, 16): TRUE_PROCBASED allowed-0 0x04006172.
  proc: (1 << 15) | (1 << 16),
  // Save debug controls (bit 2): TRUE_EXIT allowed-0 0x00036DFB.
  exit: 1 << 2,
  // Load debug controls (bit 2): TRUE_ENTRY allowed-0 0x000011FB.
  entry: 1 << 2,
};

const CONTROL_WORDS_ALL: ControlWord[] = ["pin", "proc", "proc2", "proc3", "exit", "entry"];

interface Accumulated {
  controls: Record<ControlWord, Set<string>>;
  ept: Set<number>;
  misc: Set<number>;
  vmfunc: Set<number>;
  cr4: Set<number>;
}

function pairMsr(mustBeOne: bigint, mayBeOne: bigint): bigint {
  return ((mayBeOne | mustBeOne) << 32n) | mustBeOne;
}

function buildMsrs(acc: Accumulated): CapabilityMsrs {
  const allowed1 = (word: ControlWord) => maskOf(word, acc.controls[word]);
  const legacy = (word: "pin" | "proc" | "exit" | "entry") => {
    const default1 = BigInt(DEFAULT1_BITS[word]);
    return {
      plain: pairMsr(default1, allowed1(word) | default1),
      truth: pairMsr(default1 & ~BigInt(TRUE_RELAXED[word]), allowed1(word) | default1),
    };
  };
  const pin = legacy("pin");
  const proc = legacy("proc");
  const exit = legacy("exit");
  const entry = legacy("entry");
  const hasSecondary = acc.controls.proc.has("activate_secondary_controls");
  const hasTertiary = acc.controls.proc.has("activate_tertiary_controls");
  // IA32_VMX_BASIC: revision ID 1 (model-specific and undocumented; Trapline never checks it),
  // VMCS region 4096 bytes (bits 44:32), write-back memory type 6 (bits 53:50), INS/OUTS info (54),
  // TRUE controls (55) — QEMU FEAT_VMX_BASIC = MSR_VMX_BASIC_INS_OUTS | MSR_VMX_BASIC_TRUE_CTLS for every model here.
  const basic = 1n | (4096n << 32n) | (6n << 50n) | bits([VMX_BASIC.INS_OUTS_INFO, VMX_BASIC.TRUE_CTLS]);
  // IA32_VMX_MISC: timer rate 5 (representative; model-specific), CR3-target count 4 (bits 24:16),
  // MSR-list multiplier N = 0 (512 entries).
  const misc = 5n | (4n << 16n) | bits(acc.misc);
  return {
    IA32_VMX_BASIC: basic,
    IA32_VMX_PINBASED_CTLS: pin.plain,
    IA32_VMX_PROCBASED_CTLS: proc.plain,
    IA32_VMX_EXIT_CTLS: exit.plain,
    IA32_VMX_ENTRY_CTLS: entry.plain,
    IA32_VMX_MISC: misc,
    // PE (0), NE (5), PG (31) fixed to 1 (Bochs example, docs/hardware.md); without unrestricted guest these apply to guests too.
    IA32_VMX_CR0_FIXED0: 0x8000_0021n,
    IA32_VMX_CR0_FIXED1: 0xffff_ffffn,
    // VMXE (13) fixed to 1.
    IA32_VMX_CR4_FIXED0: 0x2000n,
    IA32_VMX_CR4_FIXED1: bits(acc.cr4),
    IA32_VMX_VMCS_ENUM: vmcsEnumFor(acc),
    IA32_VMX_PROCBASED_CTLS2: hasSecondary ? pairMsr(0n, allowed1("proc2")) : 0n,
    IA32_VMX_EPT_VPID_CAP: bits(acc.ept),
    IA32_VMX_TRUE_PINBASED_CTLS: pin.truth,
    IA32_VMX_TRUE_PROCBASED_CTLS: proc.truth,
    IA32_VMX_TRUE_EXIT_CTLS: exit.truth,
    IA32_VMX_TRUE_ENTRY_CTLS: entry.truth,
    IA32_VMX_VMFUNC: bits(acc.vmfunc),
    IA32_VMX_PROCBASED_CTLS3: hasTertiary ? allowed1("proc3") : 0n,
  };
}

/**
 * IA32_VMX_VMCS_ENUM bits 9:1 = highest field index in use (SDM App. A.9). Derived from the
 * newest index-bearing field the generation's features bring: preemption-timer value (index 17H,
 * 0x482E) on every generation here; TSC multiplier (19H, 0x2032), tertiary controls (1AH, 0x2034)
 * and the PID-pointer table (21H, 0x2042) where those features exist.
 */
function vmcsEnumFor(acc: Accumulated): bigint {
  let index = 0x17;
  if (acc.controls.proc2.has("use_tsc_scaling")) index = Math.max(index, 0x19);
  if (acc.controls.proc.has("activate_tertiary_controls")) index = Math.max(index, 0x1a);
  if (acc.controls.proc3.has("ipi_virtualization")) index = Math.max(index, 0x21);
  return BigInt(index << 1);
}

function buildProfiles(): CpuProfile[] {
  const acc: Accumulated = {
    controls: {
      pin: new Set(),
      proc: new Set(),
      proc2: new Set(),
      proc3: new Set(),
      exit: new Set(),
      entry: new Set(),
    },
    ept: new Set(),
    misc: new Set(),
    vmfunc: new Set(),
    cr4: new Set(),
  };
  const profiles: CpuProfile[] = [];
  for (const spec of GENERATIONS) {
    for (const word of CONTROL_WORDS_ALL) {
      for (const name of spec.addControls[word] ?? []) acc.controls[word].add(name);
      for (const name of spec.removeControls?.[word] ?? []) acc.controls[word].delete(name);
    }
    for (const bit of spec.addEptVpidCaps ?? []) acc.ept.add(bit);
    for (const bit of spec.addMiscBits ?? []) acc.misc.add(bit);
    for (const bit of spec.addVmfunc ?? []) acc.vmfunc.add(bit);
    for (const bit of spec.addCr4Bits ?? []) acc.cr4.add(bit);
    profiles.push({
      name: spec.name,
      displayName: spec.displayName,
      year: spec.year,
      defaultHz: spec.defaultHz,
      maxPhysAddrBits: spec.maxPhysAddrBits,
      msrs: buildMsrs(acc),
      costs: costsFor(spec),
      pauseIteration: {
        cycles: PAUSE_ITERATION[spec.pauseIteration].cycles,
        provenance: "estimate",
        source: PAUSE_ITERATION[spec.pauseIteration].reason,
      },
      notes: `${spec.notes} Default clock: ${spec.sku}.`,
      source: spec.source,
    });
  }
  return profiles;
}

export const PROFILES: readonly CpuProfile[] = buildProfiles();

/**
 * The profile used when a file has no `target` line. Skylake-SP: the oldest generation still
 * common in clouds and labs that has every VMX feature KVM's defaults use (APICv, posted
 * interrupts, PML, VMCS shadowing, TSC scaling, XSAVES), and the spec's own example targets it.
 */
export const DEFAULT_PROFILE_NAME = "skylake_server";

const BY_NAME = new Map(PROFILES.map((profile) => [profile.name, profile]));

export function profileByName(name: string): CpuProfile | undefined {
  return BY_NAME.get(name) ?? BY_NAME.get(name.toLowerCase());
}

export function profileNames(): string[] {
  return PROFILES.map((profile) => profile.name);
}

/** The generation a control first appears in (for hovers: "available since haswell"). */
export function firstProfileWithControl(word: ControlWord, name: string): CpuProfile | undefined {
  const control = controlInWord(word, name);
  if (!control) return undefined;
  for (const profile of PROFILES) {
    const msr =
      word === "proc3"
        ? profile.msrs.IA32_VMX_PROCBASED_CTLS3
        : word === "proc2"
          ? profile.msrs.IA32_VMX_PROCBASED_CTLS2 >> 32n
          : word === "pin"
            ? profile.msrs.IA32_VMX_TRUE_PINBASED_CTLS >> 32n
            : word === "proc"
              ? profile.msrs.IA32_VMX_TRUE_PROCBASED_CTLS >> 32n
              : word === "exit"
                ? profile.msrs.IA32_VMX_TRUE_EXIT_CTLS >> 32n
                : profile.msrs.IA32_VMX_TRUE_ENTRY_CTLS >> 32n;
    if (((msr >> BigInt(control.bit)) & 1n) === 1n) return profile;
  }
  return undefined;
}
