/** One-line documentation of the language's keywords, for hovers and completion. */
export const KEYWORD_DOCS: Record<string, string> = {
  target: "`target PROFILE [@ FREQ]` — the CPU model: its VMX capability MSRs and costs.",
  vmcs: "`vmcs NAME [nested] { … }` — a VMCS configuration; `nested`: the VMCS an L1 hypervisor writes for its L2 (vmcs12), checked as KVM's nested VM entry checks it, against the capabilities L0 exposes to L1.",
  nested:
    "`vmcs NAME nested { … }` — this VMCS is a vmcs12, the one L1 writes for its L2: checked as KVM checks it on nested VM entry (arch/x86/kvm/vmx/nested.c `nested_vmx_check_controls`, `nested_vmx_check_host_state`, `nested_vmx_check_guest_state`) against L1's VMX capability MSRs as KVM computes them (`nested_vmx_setup_ctls_msrs`), not the hardware's. Unset state fields are assumed valid, as for every vmcs.",
  handler: "`handler REASON { … }` — the hypervisor's handler for one exit reason.",
  fn: "`fn NAME { … }` — reusable handler operations, used with `call NAME`.",
  guest:
    "`guest NAME on VMCS [in HYPERVISOR] { … }` — a guest workload under one VMCS configuration; on a `nested` vmcs it is an L2, and `in` names the L1 hypervisor that runs it (needed when the file has several).",
  in: "`guest NAME on VMCS12 in HYPERVISOR` — the L1 hypervisor that runs this L2 guest (needed when the file has several); in a guest path, `in PORT` is an I/O port read.",
  hypervisor:
    "`hypervisor NAME on VMCS { handler REASON { … } … }` — an L1 guest hypervisor: VMCS is the vmcs01 L0 runs it with, its handlers take the exits of its L2 guests that L0 reflects to it.",
  expect: "`expect GUEST { METRIC < VALUE … }` — budgets; a violated budget is a diagnostic.",
  simulate: "`simulate GUEST for TIME [seed N]` — default simulation parameters.",
  pin: "Pin-based VM-execution controls (PIN_BASED_VM_EXEC_CONTROL, SDM Vol. 3C §25.6.1).",
  proc: "Primary processor-based VM-execution controls (CPU_BASED_VM_EXEC_CONTROL, SDM Vol. 3C §25.6.2).",
  proc2:
    "Secondary processor-based VM-execution controls (SECONDARY_VM_EXEC_CONTROL, SDM Vol. 3C §25.6.2); active only with `activate_secondary_controls`.",
  proc3:
    "Tertiary processor-based VM-execution controls (TERTIARY_VM_EXEC_CONTROL, SDM Vol. 3C §25.6.2); active only with `activate_tertiary_controls`.",
  exit: "VM-exit controls (VM_EXIT_CONTROLS, SDM Vol. 3C §25.7.1).",
  entry: "VM-entry controls (VM_ENTRY_CONTROLS, SDM Vol. 3C §25.8.1).",
  exceptions: "Bits set in the exception bitmap (SDM Vol. 3C §25.6.3).",
  io: "`io trap PORTS` — ports set in I/O bitmaps A/B (with `use_io_bitmaps`, SDM Vol. 3C §25.6.4).",
  msr: "`msr trap read|write|rw MSRS` — MSRs set in the MSR bitmap (with `use_msr_bitmaps`, SDM Vol. 3C §25.6.9).",
  ple: "`ple gap N window N` — PAUSE-loop exiting gap and window in TSC cycles (SDM Vol. 3C §25.6.13).",
  ept: "`ept { RANGE PERMS … }` — the guest-physical memory map under EPT.",
  field: "`field NAME = VALUE` — sets any VMCS field by its Linux name.",
  eptp: "`eptp memtype WB|UC levels 4|5 [accessed_dirty]` — EPT pointer properties VM entry checks.",
  preemption_timer:
    "`preemption_timer N` — VMX-preemption timer value in ticks (2^X TSC cycles, X = IA32_VMX_MISC[4:0]).",
  cr3_targets: "`cr3_targets V…` — CR3-target values (count checked against IA32_VMX_MISC[24:16]).",
  tpr_threshold:
    "`tpr_threshold N` — TPR threshold (TPR_THRESHOLD): with `use_tpr_shadow`, lowering VTPR[7:4] below bits 3:0 exits TPR_BELOW_THRESHOLD (SDM Vol. 3C §30.1.2).",
  vtpr: "`vtpr V` — VTPR, byte 80H of the virtual-APIC page, at VM entry (memory, not a VMCS field): rule E10 compares it with the TPR threshold (SDM Vol. 3C §27.2.1.1).",
  posted_interrupt_vector:
    "`posted_interrupt_vector V` — posted-interrupt notification vector (POSTED_INTR_NV, with `process_posted_interrupts`, SDM Vol. 3C §30.6).",
  vcpus: "`vcpus N` — number of vCPUs; rates are per vCPU unless written `per guest`.",
  path: "`path NAME rate R [per vcpu|guest] { OPS }` or `path NAME every T { OPS }` — a guest code path.",
  irq: "`irq NAME vector V rate R [per vcpu|guest] [posted] { OPS }` — a device interrupt source.",
  timer: "`timer periodic F { OPS }` or `timer tickless { OPS }` — the guest's timer tick.",
  idle: "`idle halt|poll|mwait` — what a vCPU does with no work.",
  apic: "`apic x2apic|xapic` — the guest's local-APIC mode.",
  work: "`work COST` — hypervisor work of the given cycles or time.",
  decode: "`decode` — fetch and decode the guest instruction.",
  advance_rip: "`advance_rip` — skip the exiting instruction.",
  userspace: "`userspace COST` — round trip to the user-space VMM plus COST there.",
  halt: "`halt` — block the vCPU until its next event.",
  kick: "`kick` — send an IPI to another vCPU.",
  inject: "`inject VECTOR` — queue an event for the next VM entry.",
  branch: "`branch { P% [LABEL:] OPS … }` — probabilistic paths.",
  repeat: "`repeat N { OPS }` — a bounded loop.",
  call: "`call NAME` — run a `fn`.",
  tsx: "`tsx { OPS }` — a transactional region: an exit inside aborts and re-executes it.",
  coalesce:
    "`coalesce N or T { OPS }` — notification coalescing: OPS run once per N executions on a vCPU, or T after the first still pending, whichever comes first.",
  compute: "`compute COST` — guest work that does not exit.",
};
