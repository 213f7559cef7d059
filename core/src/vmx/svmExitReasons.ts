/**
 * AMD SVM exit codes (VMCB EXITCODE) under the names KVM's tracepoints and `perf kvm stat` print
 * on AMD hosts: the `SVM_EXIT_REASONS` symbol table of Linux arch/x86/include/uapi/asm/svm.h
 * (torvalds/linux@094794f5; lower-case names, e.g. `npf`, `io`, `msr`, `hlt`, `interrupt`). The
 * macro names (`SVM_EXIT_NPF`) are accepted too, with or without `SVM_`, which is how
 * libtraceevent's plugin_kvm prints SVM reasons (`EXIT_NPF`, `EXIT_IOIO`). Trapline models VT-x;
 * this table exists only so an AMD trace's reasons keep their real numbers when imported.
 * Exception exits are SVM_EXIT_EXCP_BASE (0x40) + the vector (SDM Vol. 3A Table 6-1 numbering).
 */

const SVM_H = "Linux arch/x86/include/uapi/asm/svm.h (torvalds/linux@094794f5) SVM_EXIT_REASONS";

export interface SvmExitReasonDef {
  code: number;
  /** The name `SVM_EXIT_REASONS` prints: "npf". */
  name: string;
  /** The macro without `SVM_EXIT_`: "NPF". */
  macro: string;
  source: string;
}

type Row = [code: number, name: string, macro: string];

const EXCEPTIONS: [vector: number, mnemonic: string][] = [
  [0, "DE"],
  [1, "DB"],
  [3, "BP"],
  [4, "OF"],
  [5, "BR"],
  [6, "UD"],
  [7, "NM"],
  [8, "DF"],
  [10, "TS"],
  [11, "NP"],
  [12, "SS"],
  [13, "GP"],
  [14, "PF"],
  [16, "MF"],
  [17, "AC"],
  [18, "MC"],
  [19, "XF"],
];

const ROWS: Row[] = [
  [0x000, "read_cr0", "READ_CR0"],
  [0x002, "read_cr2", "READ_CR2"],
  [0x003, "read_cr3", "READ_CR3"],
  [0x004, "read_cr4", "READ_CR4"],
  [0x008, "read_cr8", "READ_CR8"],
  [0x010, "write_cr0", "WRITE_CR0"],
  [0x012, "write_cr2", "WRITE_CR2"],
  [0x013, "write_cr3", "WRITE_CR3"],
  [0x014, "write_cr4", "WRITE_CR4"],
  [0x018, "write_cr8", "WRITE_CR8"],
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((n): Row => [0x020 + n, `read_dr${n}`, `READ_DR${n}`]),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((n): Row => [0x030 + n, `write_dr${n}`, `WRITE_DR${n}`]),
  ...EXCEPTIONS.map(([vector, m]): Row => [0x040 + vector, `${m} excp`, `EXCP_${m}`]),
  [0x060, "interrupt", "INTR"],
  [0x061, "nmi", "NMI"],
  [0x062, "smi", "SMI"],
  [0x063, "init", "INIT"],
  [0x064, "vintr", "VINTR"],
  [0x065, "cr0_sel_write", "CR0_SEL_WRITE"],
  [0x066, "read_idtr", "IDTR_READ"],
  [0x067, "read_gdtr", "GDTR_READ"],
  [0x068, "read_ldtr", "LDTR_READ"],
  [0x069, "read_rt", "TR_READ"],
  [0x06a, "write_idtr", "IDTR_WRITE"],
  [0x06b, "write_gdtr", "GDTR_WRITE"],
  [0x06c, "write_ldtr", "LDTR_WRITE"],
  [0x06d, "write_rt", "TR_WRITE"],
  [0x06e, "rdtsc", "RDTSC"],
  [0x06f, "rdpmc", "RDPMC"],
  [0x070, "pushf", "PUSHF"],
  [0x071, "popf", "POPF"],
  [0x072, "cpuid", "CPUID"],
  [0x073, "rsm", "RSM"],
  [0x074, "iret", "IRET"],
  [0x075, "swint", "SWINT"],
  [0x076, "invd", "INVD"],
  [0x077, "pause", "PAUSE"],
  [0x078, "hlt", "HLT"],
  [0x079, "invlpg", "INVLPG"],
  [0x07a, "invlpga", "INVLPGA"],
  [0x07b, "io", "IOIO"],
  [0x07c, "msr", "MSR"],
  [0x07d, "task_switch", "TASK_SWITCH"],
  [0x07e, "ferr_freeze", "FERR_FREEZE"],
  [0x07f, "shutdown", "SHUTDOWN"],
  [0x080, "vmrun", "VMRUN"],
  [0x081, "hypercall", "VMMCALL"],
  [0x082, "vmload", "VMLOAD"],
  [0x083, "vmsave", "VMSAVE"],
  [0x084, "stgi", "STGI"],
  [0x085, "clgi", "CLGI"],
  [0x086, "skinit", "SKINIT"],
  [0x087, "rdtscp", "RDTSCP"],
  [0x088, "icebp", "ICEBP"],
  [0x089, "wbinvd", "WBINVD"],
  [0x08a, "monitor", "MONITOR"],
  [0x08b, "mwait", "MWAIT"],
  [0x08d, "xsetbv", "XSETBV"],
  [0x400, "npf", "NPF"],
  [0x401, "avic_incomplete_ipi", "AVIC_INCOMPLETE_IPI"],
  [0x402, "avic_unaccelerated_access", "AVIC_UNACCELERATED_ACCESS"],
];

export const SVM_EXIT_REASONS: readonly SvmExitReasonDef[] = ROWS.map(([code, name, macro]) => ({
  code,
  name,
  macro,
  source: SVM_H,
}));

const BY_SVM_NAME = new Map<string, SvmExitReasonDef>();
const BY_SVM_MACRO = new Map<string, SvmExitReasonDef>();
for (const reason of SVM_EXIT_REASONS) {
  BY_SVM_NAME.set(reason.name, reason);
  BY_SVM_MACRO.set(reason.macro, reason);
}

/**
 * The SVM reason printed as `name` ("npf"), as its macro ("SVM_EXIT_NPF", "EXIT_NPF", "NPF"
 * — upper case only, so VT-x names are not mistaken for SVM ones), or undefined.
 */
export function svmExitReasonByName(name: string): SvmExitReasonDef | undefined {
  const exact = BY_SVM_NAME.get(name);
  if (exact) return exact;
  let macro = name;
  if (macro.startsWith("SVM_")) macro = macro.slice(4);
  if (macro.startsWith("EXIT_")) return BY_SVM_MACRO.get(macro.slice(5));
  return undefined;
}

export function svmExitReasonByCode(code: number): SvmExitReasonDef | undefined {
  return SVM_EXIT_REASONS.find((r) => r.code === code);
}
