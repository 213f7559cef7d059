/**
 * VMCS fields: every member of Linux's `enum vmcs_field` (arch/x86/include/asm/vmx.h, Kingxukai/linux
 * @ 9b44fff6, docs/hardware.md), including the `_HIGH` alias (encoding + 1, access type "high") of
 * every 64-bit field that Linux names (all of them except SHARED_EPT_POINTER).
 *
 * Width, type and access type are not stored per field: `decodeFieldEncoding` derives them from
 * the encoding as SDM Vol. 3C §25.11.2 "VMREAD, VMWRITE, and Encodings of VMCS Fields" (Table 25-21)
 * and App. B define it: bit 0 access type (0 full, 1 high; only 64-bit fields have a high
 * access), bits 9:1 index, bits 11:10 type (0 control, 1 VM-exit information, 2 guest state,
 * 3 host state), bit 12 reserved (0), bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit, 3 natural).
 * Exit-information fields are read-only: VMWRITE to them fails unless IA32_VMX_MISC[29]
 * (`VMX_MISC_VMWRITE_SHADOW_RO_FIELDS`, L-vmx.h).
 */
import type { FieldType, FieldWidth, VmcsFieldDef } from "./types";

const SOURCE = "L-vmx.h enum vmcs_field; width/type decoded per SDM Vol. 3C §25.11.2 and App. B";

const WIDTHS: readonly FieldWidth[] = ["16", "64", "32", "natural"];
const TYPES: readonly FieldType[] = ["control", "exit-information", "guest-state", "host-state"];

export interface DecodedFieldEncoding {
  /** Bits 14:13. */
  width: FieldWidth;
  /** Bits 11:10. */
  type: FieldType;
  /** Bits 9:1. */
  index: number;
  /** Bit 0: 1 selects the high 32 bits of a 64-bit field. */
  high: boolean;
  /** Exit-information fields (type 1) cannot be written by VMWRITE without IA32_VMX_MISC[29]. */
  readOnly: boolean;
  /** Reserved bits (31:15, 12) are zero and bit 0 is set only on a 64-bit field. */
  valid: boolean;
}

/** Where a VMWRITE to a read-only (VM-exit information) field is ruled on. */
export const VMCS_READ_ONLY_REFERENCE =
  "SDM Vol. 3C §25.11.2 (VM-exit information fields are read-only), VMWRITE: VM-instruction error 13 " +
  '"VMWRITE to read-only VMCS component"; SDM Vol. 3D App. A.6 IA32_VMX_MISC[29]';

/** Decode a VMCS-field encoding (SDM Vol. 3C §25.11.2, Table 25-21). */
export function decodeFieldEncoding(encoding: number): DecodedFieldEncoding {
  const width = WIDTHS[(encoding >>> 13) & 3]!;
  const type = TYPES[(encoding >>> 10) & 3]!;
  const high = (encoding & 1) === 1;
  const reservedClear = encoding >= 0 && encoding <= 0x7fff && (encoding & 0x1000) === 0;
  return {
    width,
    type,
    index: (encoding >>> 1) & 0x1ff,
    high,
    readOnly: type === "exit-information",
    valid: Number.isInteger(encoding) && reservedClear && (!high || width === "64"),
  };
}

/** One-line descriptions of the fields people look up most (hover text); others fall back to their name. */
const DESCRIPTIONS: Record<string, string> = {
  VIRTUAL_PROCESSOR_ID: "VPID tagging the guest's TLB entries (must be non-zero with enable VPID).",
  POSTED_INTR_NV: "Posted-interrupt notification vector.",
  LAST_PID_POINTER_INDEX: "Last valid index of the PID-pointer table (IPI virtualization).",
  GUEST_INTR_STATUS:
    "Guest interrupt status: RVI (bits 7:0) and SVI (bits 15:8) for virtual-interrupt delivery.",
  GUEST_PML_INDEX: "Index of the next PML-buffer entry (written backwards from 511).",
  IO_BITMAP_A: "Physical address of I/O bitmap A (ports 0000H–7FFFH).",
  IO_BITMAP_B: "Physical address of I/O bitmap B (ports 8000H–FFFFH).",
  MSR_BITMAP: "Physical address of the 4 KiB MSR bitmaps (read low/high, write low/high).",
  PML_ADDRESS: "Physical address of the 4 KiB page-modification log.",
  TSC_OFFSET: "Added to the TSC seen by the guest when use TSC offsetting is 1.",
  VIRTUAL_APIC_PAGE_ADDR: "Physical address of the virtual-APIC page (use TPR shadow).",
  APIC_ACCESS_ADDR: "Physical address of the APIC-access page (virtualize APIC accesses).",
  POSTED_INTR_DESC_ADDR: "Physical address of the 64-byte-aligned posted-interrupt descriptor.",
  VM_FUNCTION_CONTROL: "VM-function controls: which VMFUNC leaves are enabled (bit 0 EPTP switching).",
  EPT_POINTER: "EPTP: memory type (2:0), page-walk length − 1 (5:3), A/D enable (6), PML4/PML5 address.",
  EPTP_LIST_ADDRESS: "Physical address of the 512-entry EPTP list (EPTP switching).",
  VMREAD_BITMAP: "Physical address of the VMREAD bitmap (VMCS shadowing).",
  VMWRITE_BITMAP: "Physical address of the VMWRITE bitmap (VMCS shadowing).",
  VE_INFORMATION_ADDRESS: "Physical address of the virtualization-exception information area.",
  XSS_EXIT_BITMAP: "XSAVES/XRSTORS exit when a requested component's bit is set here.",
  ENCLS_EXITING_BITMAP: "ENCLS leaves (bit per EAX value, bit 63 for ≥ 63) that cause VM exits.",
  TSC_MULTIPLIER: "TSC multiplier (fixed point, 48 fraction bits) with use TSC scaling.",
  TERTIARY_VM_EXEC_CONTROL: "Tertiary processor-based VM-execution controls (64 bits).",
  SHARED_EPT_POINTER: "Shared EPTP (TDX: the EPT for shared guest memory).",
  PID_POINTER_TABLE: "Physical address of the PID-pointer table (IPI virtualization).",
  GUEST_PHYSICAL_ADDRESS:
    "Guest-physical address of an EPT violation or misconfiguration (exit information).",
  VMCS_LINK_POINTER: "Link pointer (shadow VMCS); all ones when unused.",
  PIN_BASED_VM_EXEC_CONTROL: "Pin-based VM-execution controls.",
  CPU_BASED_VM_EXEC_CONTROL: "Primary processor-based VM-execution controls.",
  EXCEPTION_BITMAP: "One bit per exception vector: 1 makes that exception exit.",
  PAGE_FAULT_ERROR_CODE_MASK: "#PF exits follow bit 14 of the exception bitmap iff (PFEC & mask) == match.",
  PAGE_FAULT_ERROR_CODE_MATCH: "#PF exits follow bit 14 of the exception bitmap iff (PFEC & mask) == match.",
  CR3_TARGET_COUNT:
    "Number of CR3-target values consulted by CR3-load exiting (at most IA32_VMX_MISC[24:16]).",
  VM_EXIT_CONTROLS: "VM-exit controls.",
  VM_EXIT_MSR_STORE_COUNT: "Number of MSRs stored on VM exit.",
  VM_EXIT_MSR_LOAD_COUNT: "Number of MSRs loaded on VM exit.",
  VM_ENTRY_CONTROLS: "VM-entry controls.",
  VM_ENTRY_MSR_LOAD_COUNT: "Number of MSRs loaded on VM entry.",
  VM_ENTRY_INTR_INFO_FIELD:
    "Event to inject at VM entry: vector 7:0, type 10:8, deliver error code 11, valid 31.",
  VM_ENTRY_EXCEPTION_ERROR_CODE: "Error code delivered with an injected exception.",
  VM_ENTRY_INSTRUCTION_LEN: "Instruction length for injected software interrupts and exceptions.",
  TPR_THRESHOLD: "TPR threshold: TPR_BELOW_THRESHOLD exits when VTPR[7:4] drops below bits 3:0.",
  SECONDARY_VM_EXEC_CONTROL: "Secondary processor-based VM-execution controls.",
  PLE_GAP: "PAUSE-loop exiting gap (TSC cycles between PAUSEs of one loop).",
  PLE_WINDOW: "PAUSE-loop exiting window (TSC cycles a PAUSE loop may run before exiting).",
  NOTIFY_WINDOW: "Instruction-timeout (notify) window in crystal-clock cycles.",
  VM_INSTRUCTION_ERROR: "Error number of the last failed VMX instruction.",
  VM_EXIT_REASON: "Exit reason: basic reason bits 15:0, enclave 27, entry failure 31.",
  VM_EXIT_INTR_INFO: "Interruption information of the event that caused the exit.",
  VM_EXIT_INTR_ERROR_CODE: "Error code of the exception that caused the exit.",
  IDT_VECTORING_INFO_FIELD: "Event whose delivery was interrupted by the VM exit.",
  IDT_VECTORING_ERROR_CODE: "Error code of the event whose delivery was interrupted.",
  VM_EXIT_INSTRUCTION_LEN: "Length of the instruction that caused the exit (for RIP advance).",
  VMX_INSTRUCTION_INFO: "Operand information of the instruction that caused the exit.",
  GUEST_INTERRUPTIBILITY_INFO: "Blocking by STI (bit 0), MOV SS (1), SMI (2), NMI (3), enclave (4).",
  GUEST_ACTIVITY_STATE: "0 active, 1 HLT, 2 shutdown, 3 wait-for-SIPI.",
  VMX_PREEMPTION_TIMER_VALUE: "VMX-preemption timer value (ticks of TSC >> IA32_VMX_MISC[4:0]).",
  CR0_GUEST_HOST_MASK: "CR0 bits owned by the host: guest writes that change them exit.",
  CR4_GUEST_HOST_MASK: "CR4 bits owned by the host: guest writes that change them exit.",
  CR0_READ_SHADOW: "Value the guest reads for host-owned CR0 bits.",
  CR4_READ_SHADOW: "Value the guest reads for host-owned CR4 bits.",
  EXIT_QUALIFICATION: "Exit qualification: reason-specific details of the exit.",
  GUEST_LINEAR_ADDRESS: "Guest-linear address of the access that caused the exit.",
  GUEST_RIP: "Guest RIP.",
  GUEST_RSP: "Guest RSP.",
  GUEST_RFLAGS: "Guest RFLAGS.",
  GUEST_CR0: "Guest CR0.",
  GUEST_CR3: "Guest CR3.",
  GUEST_CR4: "Guest CR4.",
  HOST_RIP: "Host RIP: where the VM exit resumes the hypervisor.",
  HOST_RSP: "Host RSP at VM exit.",
};

type Row = [name: string, encoding: number];

/** enum vmcs_field without the `_HIGH` aliases, in Linux's order. */
const ROWS: Row[] = [
  ["VIRTUAL_PROCESSOR_ID", 0x0000],
  ["POSTED_INTR_NV", 0x0002],
  ["LAST_PID_POINTER_INDEX", 0x0008],
  ["GUEST_ES_SELECTOR", 0x0800],
  ["GUEST_CS_SELECTOR", 0x0802],
  ["GUEST_SS_SELECTOR", 0x0804],
  ["GUEST_DS_SELECTOR", 0x0806],
  ["GUEST_FS_SELECTOR", 0x0808],
  ["GUEST_GS_SELECTOR", 0x080a],
  ["GUEST_LDTR_SELECTOR", 0x080c],
  ["GUEST_TR_SELECTOR", 0x080e],
  ["GUEST_INTR_STATUS", 0x0810],
  ["GUEST_PML_INDEX", 0x0812],
  ["HOST_ES_SELECTOR", 0x0c00],
  ["HOST_CS_SELECTOR", 0x0c02],
  ["HOST_SS_SELECTOR", 0x0c04],
  ["HOST_DS_SELECTOR", 0x0c06],
  ["HOST_FS_SELECTOR", 0x0c08],
  ["HOST_GS_SELECTOR", 0x0c0a],
  ["HOST_TR_SELECTOR", 0x0c0c],
  ["IO_BITMAP_A", 0x2000],
  ["IO_BITMAP_B", 0x2002],
  ["MSR_BITMAP", 0x2004],
  ["VM_EXIT_MSR_STORE_ADDR", 0x2006],
  ["VM_EXIT_MSR_LOAD_ADDR", 0x2008],
  ["VM_ENTRY_MSR_LOAD_ADDR", 0x200a],
  ["PML_ADDRESS", 0x200e],
  ["TSC_OFFSET", 0x2010],
  ["VIRTUAL_APIC_PAGE_ADDR", 0x2012],
  ["APIC_ACCESS_ADDR", 0x2014],
  ["POSTED_INTR_DESC_ADDR", 0x2016],
  ["VM_FUNCTION_CONTROL", 0x2018],
  ["EPT_POINTER", 0x201a],
  ["EOI_EXIT_BITMAP0", 0x201c],
  ["EOI_EXIT_BITMAP1", 0x201e],
  ["EOI_EXIT_BITMAP2", 0x2020],
  ["EOI_EXIT_BITMAP3", 0x2022],
  ["EPTP_LIST_ADDRESS", 0x2024],
  ["VMREAD_BITMAP", 0x2026],
  ["VMWRITE_BITMAP", 0x2028],
  ["VE_INFORMATION_ADDRESS", 0x202a],
  ["XSS_EXIT_BITMAP", 0x202c],
  ["ENCLS_EXITING_BITMAP", 0x202e],
  ["TSC_MULTIPLIER", 0x2032],
  ["TERTIARY_VM_EXEC_CONTROL", 0x2034],
  ["SHARED_EPT_POINTER", 0x203c],
  ["PID_POINTER_TABLE", 0x2042],
  ["GUEST_PHYSICAL_ADDRESS", 0x2400],
  ["VMCS_LINK_POINTER", 0x2800],
  ["GUEST_IA32_DEBUGCTL", 0x2802],
  ["GUEST_IA32_PAT", 0x2804],
  ["GUEST_IA32_EFER", 0x2806],
  ["GUEST_IA32_PERF_GLOBAL_CTRL", 0x2808],
  ["GUEST_PDPTR0", 0x280a],
  ["GUEST_PDPTR1", 0x280c],
  ["GUEST_PDPTR2", 0x280e],
  ["GUEST_PDPTR3", 0x2810],
  ["GUEST_BNDCFGS", 0x2812],
  ["GUEST_IA32_RTIT_CTL", 0x2814],
  ["HOST_IA32_PAT", 0x2c00],
  ["HOST_IA32_EFER", 0x2c02],
  ["HOST_IA32_PERF_GLOBAL_CTRL", 0x2c04],
  ["PIN_BASED_VM_EXEC_CONTROL", 0x4000],
  ["CPU_BASED_VM_EXEC_CONTROL", 0x4002],
  ["EXCEPTION_BITMAP", 0x4004],
  ["PAGE_FAULT_ERROR_CODE_MASK", 0x4006],
  ["PAGE_FAULT_ERROR_CODE_MATCH", 0x4008],
  ["CR3_TARGET_COUNT", 0x400a],
  ["VM_EXIT_CONTROLS", 0x400c],
  ["VM_EXIT_MSR_STORE_COUNT", 0x400e],
  ["VM_EXIT_MSR_LOAD_COUNT", 0x4010],
  ["VM_ENTRY_CONTROLS", 0x4012],
  ["VM_ENTRY_MSR_LOAD_COUNT", 0x4014],
  ["VM_ENTRY_INTR_INFO_FIELD", 0x4016],
  ["VM_ENTRY_EXCEPTION_ERROR_CODE", 0x4018],
  ["VM_ENTRY_INSTRUCTION_LEN", 0x401a],
  ["TPR_THRESHOLD", 0x401c],
  ["SECONDARY_VM_EXEC_CONTROL", 0x401e],
  ["PLE_GAP", 0x4020],
  ["PLE_WINDOW", 0x4022],
  ["NOTIFY_WINDOW", 0x4024],
  ["VM_INSTRUCTION_ERROR", 0x4400],
  ["VM_EXIT_REASON", 0x4402],
  ["VM_EXIT_INTR_INFO", 0x4404],
  ["VM_EXIT_INTR_ERROR_CODE", 0x4406],
  ["IDT_VECTORING_INFO_FIELD", 0x4408],
  ["IDT_VECTORING_ERROR_CODE", 0x440a],
  ["VM_EXIT_INSTRUCTION_LEN", 0x440c],
  ["VMX_INSTRUCTION_INFO", 0x440e],
  ["GUEST_ES_LIMIT", 0x4800],
  ["GUEST_CS_LIMIT", 0x4802],
  ["GUEST_SS_LIMIT", 0x4804],
  ["GUEST_DS_LIMIT", 0x4806],
  ["GUEST_FS_LIMIT", 0x4808],
  ["GUEST_GS_LIMIT", 0x480a],
  ["GUEST_LDTR_LIMIT", 0x480c],
  ["GUEST_TR_LIMIT", 0x480e],
  ["GUEST_GDTR_LIMIT", 0x4810],
  ["GUEST_IDTR_LIMIT", 0x4812],
  ["GUEST_ES_AR_BYTES", 0x4814],
  ["GUEST_CS_AR_BYTES", 0x4816],
  ["GUEST_SS_AR_BYTES", 0x4818],
  ["GUEST_DS_AR_BYTES", 0x481a],
  ["GUEST_FS_AR_BYTES", 0x481c],
  ["GUEST_GS_AR_BYTES", 0x481e],
  ["GUEST_LDTR_AR_BYTES", 0x4820],
  ["GUEST_TR_AR_BYTES", 0x4822],
  ["GUEST_INTERRUPTIBILITY_INFO", 0x4824],
  ["GUEST_ACTIVITY_STATE", 0x4826],
  ["GUEST_SYSENTER_CS", 0x482a],
  ["VMX_PREEMPTION_TIMER_VALUE", 0x482e],
  ["HOST_IA32_SYSENTER_CS", 0x4c00],
  ["CR0_GUEST_HOST_MASK", 0x6000],
  ["CR4_GUEST_HOST_MASK", 0x6002],
  ["CR0_READ_SHADOW", 0x6004],
  ["CR4_READ_SHADOW", 0x6006],
  ["CR3_TARGET_VALUE0", 0x6008],
  ["CR3_TARGET_VALUE1", 0x600a],
  ["CR3_TARGET_VALUE2", 0x600c],
  ["CR3_TARGET_VALUE3", 0x600e],
  ["EXIT_QUALIFICATION", 0x6400],
  ["GUEST_LINEAR_ADDRESS", 0x640a],
  ["GUEST_CR0", 0x6800],
  ["GUEST_CR3", 0x6802],
  ["GUEST_CR4", 0x6804],
  ["GUEST_ES_BASE", 0x6806],
  ["GUEST_CS_BASE", 0x6808],
  ["GUEST_SS_BASE", 0x680a],
  ["GUEST_DS_BASE", 0x680c],
  ["GUEST_FS_BASE", 0x680e],
  ["GUEST_GS_BASE", 0x6810],
  ["GUEST_LDTR_BASE", 0x6812],
  ["GUEST_TR_BASE", 0x6814],
  ["GUEST_GDTR_BASE", 0x6816],
  ["GUEST_IDTR_BASE", 0x6818],
  ["GUEST_DR7", 0x681a],
  ["GUEST_RSP", 0x681c],
  ["GUEST_RIP", 0x681e],
  ["GUEST_RFLAGS", 0x6820],
  ["GUEST_PENDING_DBG_EXCEPTIONS", 0x6822],
  ["GUEST_SYSENTER_ESP", 0x6824],
  ["GUEST_SYSENTER_EIP", 0x6826],
  ["HOST_CR0", 0x6c00],
  ["HOST_CR3", 0x6c02],
  ["HOST_CR4", 0x6c04],
  ["HOST_FS_BASE", 0x6c06],
  ["HOST_GS_BASE", 0x6c08],
  ["HOST_TR_BASE", 0x6c0a],
  ["HOST_GDTR_BASE", 0x6c0c],
  ["HOST_IDTR_BASE", 0x6c0e],
  ["HOST_IA32_SYSENTER_ESP", 0x6c10],
  ["HOST_IA32_SYSENTER_EIP", 0x6c12],
  ["HOST_RSP", 0x6c14],
  ["HOST_RIP", 0x6c16],
];

/** 64-bit fields Linux names without a `_HIGH` alias. */
const NO_HIGH_ALIAS = new Set(["SHARED_EPT_POINTER"]);

function makeField(name: string, encoding: number, high: boolean): VmcsFieldDef {
  const decoded = decodeFieldEncoding(encoding);
  const base = high ? name.slice(0, -"_HIGH".length) : name;
  const description = DESCRIPTIONS[base];
  const def: VmcsFieldDef = {
    name,
    encoding,
    width: decoded.width,
    type: decoded.type,
    readOnly: decoded.readOnly,
    source: SOURCE,
  };
  if (high) {
    def.high = true;
    def.description = `High 32 bits of ${base}.`;
  } else if (description !== undefined) def.description = description;
  return def;
}

function buildFields(): VmcsFieldDef[] {
  const fields: VmcsFieldDef[] = [];
  for (const [name, encoding] of ROWS) {
    const field = makeField(name, encoding, false);
    fields.push(field);
    if (field.width === "64" && !NO_HIGH_ALIAS.has(name))
      fields.push(makeField(`${name}_HIGH`, encoding + 1, true));
  }
  return fields;
}

export const VMCS_FIELDS: readonly VmcsFieldDef[] = buildFields();

const BY_NAME = new Map<string, VmcsFieldDef>();
const BY_ENCODING = new Map<number, VmcsFieldDef>();
for (const field of VMCS_FIELDS) {
  BY_NAME.set(field.name, field);
  BY_ENCODING.set(field.encoding, field);
}

/** Look a field up by its Linux name (case-insensitive). */
export function vmcsFieldByName(name: string): VmcsFieldDef | undefined {
  return BY_NAME.get(name) ?? BY_NAME.get(name.toUpperCase());
}

/** Look a field up by its encoding (full or high access). */
export function vmcsFieldByEncoding(encoding: number): VmcsFieldDef | undefined {
  return BY_ENCODING.get(encoding);
}

/** Every field name (for completion and suggestions). */
export function vmcsFieldNames(): string[] {
  return [...BY_NAME.keys()];
}
