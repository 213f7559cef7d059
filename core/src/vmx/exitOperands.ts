/**
 * The operand a hypervisor dispatches an exit on, per basic exit reason: what a handler may be
 * specialised by (`handler MSR_WRITE IA32_TSC_DEADLINE { … }`, docs/language.md "Handlers by
 * operand"). Each operand is a value the exit hands the VMM, with the place the SDM puts it and
 * the KVM function that dispatches on it.
 */
import { EXIT } from "./exitReasons";

/** msr: an MSR index; port: an I/O port (and direction); gpa: a guest-physical address; nr: a hypercall number. */
export type ExitOperandKind = "msr" | "port" | "gpa" | "nr";

export interface ExitOperandDef {
  kind: ExitOperandKind;
  /** The word the handler header writes before the operand (`port 0x3f8`); "" for an MSR (`MSR_WRITE EFER`). */
  keyword: "" | "port" | "gpa" | "nr";
  /** What the operand is, for messages and hovers. */
  what: string;
  source: string;
}

const MSR: ExitOperandDef = {
  kind: "msr",
  keyword: "",
  what: "an MSR name or number (ECX)",
  source:
    "SDM Vol. 3C §28.2.1 (RDMSR/WRMSR exits leave the MSR index in ECX; no exit qualification); KVM kvm_emulate_rdmsr/kvm_emulate_wrmsr (arch/x86/kvm/x86.c) dispatch on kvm_rcx_read()",
};

const GPA_SOURCE =
  "SDM Vol. 3C §28.2.1 (EPT violations and misconfigurations save the guest-physical address in the VMCS field GUEST_PHYSICAL_ADDRESS); KVM handle_ept_violation/handle_ept_misconfig (vmx.c) read it with vmcs_read64(GUEST_PHYSICAL_ADDRESS) and look up the device on the MMIO bus";

/** Keyed by basic exit reason number. */
export const EXIT_OPERANDS: ReadonlyMap<number, ExitOperandDef> = new Map<number, ExitOperandDef>([
  [EXIT.MSR_READ, MSR],
  [EXIT.MSR_WRITE, MSR],
  [
    EXIT.IO_INSTRUCTION,
    {
      kind: "port",
      keyword: "port",
      what: "an I/O port or port range, optionally `in` or `out`",
      source:
        "SDM Vol. 3C §28.2.1, Table 28-5 (exit qualification for I/O instructions: bits 31:16 the port, bit 3 the direction, 1 = IN); KVM handle_io (vmx.c) → kvm_fast_pio / emulator, then the PIO bus by port",
    },
  ],
  [
    EXIT.EPT_VIOLATION,
    { kind: "gpa", keyword: "gpa", what: "a guest-physical address or range", source: GPA_SOURCE },
  ],
  [
    EXIT.EPT_MISCONFIG,
    { kind: "gpa", keyword: "gpa", what: "a guest-physical address or range", source: GPA_SOURCE },
  ],
  [
    EXIT.APIC_ACCESS,
    {
      kind: "gpa",
      keyword: "gpa",
      what: "a guest-physical address or range (in the APIC-access page)",
      source:
        "SDM Vol. 3C §28.2.1, Table 28-6 (exit qualification for APIC-access exits: bits 11:0 the offset in the APIC-access page); KVM handle_apic_access (vmx.c)",
    },
  ],
  [
    EXIT.VMCALL,
    {
      kind: "nr",
      keyword: "nr",
      what: "a hypercall number (RAX) or range",
      source:
        "KVM kvm_emulate_hypercall (arch/x86/kvm/x86.c): nr = kvm_rax_read(vcpu), dispatched by a switch on nr (KVM_HC_* in include/uapi/linux/kvm_para.h); VMCALL itself exits unconditionally (SDM Vol. 3C §26.1.2)",
    },
  ],
]);

export function exitOperandOf(code: number): ExitOperandDef | undefined {
  return EXIT_OPERANDS.get(code);
}
