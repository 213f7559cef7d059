/**
 * Bit layouts of VMCS fields the VM-entry checks decode (SDM Vol. 3C editions from 2023, the
 * pre-2023 section numbers beside):
 * - VM-entry interruption-information field: SDM Vol. 3C §25.8.3 (§24.8.3 in pre-2023
 *   editions): vector 7:0, type 10:8, deliver error code 11, reserved 30:12, valid 31 (Linux
 *   arch/x86/include/asm/vmx.h INTR_INFO_VECTOR_MASK, INTR_INFO_INTR_TYPE_MASK,
 *   INTR_INFO_DELIVER_CODE_MASK, INTR_INFO_RESVD_BITS_MASK, INTR_INFO_VALID_MASK).
 * - Extended-page-table pointer: SDM Vol. 3C §25.6.11 (§24.6.11 in pre-2023 editions): memory
 *   type 2:0, page-walk length − 1 5:3, accessed/dirty flags 6, reserved 11:7, the PML4/PML5
 *   table's physical address from bit 12 (Linux VMX_EPTP_MT_MASK, VMX_EPTP_PWL_MASK,
 *   VMX_EPTP_AD_ENABLE_BIT; KVM's nested_vmx_check_eptp rejects bits 11:7).
 * - VM-exit interruption-information field: SDM Vol. 3C §25.9.2 (§24.9.2 in pre-2023 editions),
 *   filled on exits due to vectored events as §28.2.2 (pre-2023 §27.2.2) says: the same vector
 *   7:0, type 10:8 and valid 31 as the VM-entry field, so the accessors below serve both; an
 *   external interrupt's exit holds it when "acknowledge interrupt on exit" is 1 (KVM's default,
 *   arch/x86/kvm/vmx/vmx.c setup_vmcs_config).
 * - Exit reason: SDM Vol. 3C §25.9.1 (pre-2023 §24.9.1): the basic exit reason in bits 15:0,
 *   flags (e.g. VM-entry failure, bit 31) above.
 * - Exit qualification for EPT violations: SDM Vol. 3C §28.2.1, Table 28-7 (pre-2023 §27.2.1,
 *   Table 27-7): bit 0 data read, 1 data write, 2 instruction fetch, 7 guest linear-address field
 *   valid, 8 (when 7 is set) the access was to the translation of a linear address (Linux
 *   arch/x86/include/asm/vmx.h EPT_VIOLATION_ACC_READ, _ACC_WRITE, _ACC_INSTR, _GVA_IS_VALID,
 *   _GVA_TRANSLATED). KVM's handle_ept_violation (vmx.c) passes it to kvm_page_fault.
 */

/** Interruption information bit 31, valid, as a number (for 32-bit values read from text). */
export const INTERRUPTION_VALID = 0x8000_0000;
/** Interruption information bits 7:0, the vector, as a number mask. */
export const INTERRUPTION_VECTOR_MASK = 0xff;
/** The interruption type of an external interrupt (bits 10:8 = 0). */
export const INTERRUPTION_TYPE_EXTERNAL = 0;
const TYPE_SHIFT = 2 ** 8;
const FIELD_END = 2 ** 32;

/**
 * The vector of a 32-bit interruption-information value held as a number: bits 7:0 when valid
 * (bit 31 set, nothing above bit 31), else NaN.
 */
export function validInterruptionVector(info: number): number {
  if (!(info >= INTERRUPTION_VALID && info < FIELD_END)) return Number.NaN;
  return info % (INTERRUPTION_VECTOR_MASK + 1);
}

/** A valid interruption-information value of that vector and type (default: external interrupt). */
export function interruptionInfo(vector: number, type: number = INTERRUPTION_TYPE_EXTERNAL): number {
  return INTERRUPTION_VALID + type * TYPE_SHIFT + (vector & INTERRUPTION_VECTOR_MASK);
}

/** Exit reason bits 15:0, the basic exit reason: a larger value carries flag bits. */
export const BASIC_EXIT_REASON_MASK = 0xffff;

/** EPT-violation exit qualification bit 0: the access was a data read. */
export const EPT_QUAL_READ = 0x1;
/** EPT-violation exit qualification bit 1: the access was a data write. */
export const EPT_QUAL_WRITE = 0x2;
/** EPT-violation exit qualification bit 2: the access was an instruction fetch. */
export const EPT_QUAL_FETCH = 0x4;
/** EPT-violation exit qualification bit 7: the guest linear-address field is valid. */
export const EPT_QUAL_GLA_VALID = 0x80;
/** EPT-violation exit qualification bit 8 (with bit 7): the access was to a linear address's translation. */
export const EPT_QUAL_TRANSLATED = 0x100;

/**
 * The smallest page an EPT paging-structure entry maps, 4 KiB: bits 11:0 of a guest-physical
 * address are the offset in it (SDM Vol. 3C §29.3.2, pre-2023 §28.2.2, "EPT Translation Mechanism").
 */
export const EPT_PAGE_SIZE = 0x1000;

/** Bits 2:0 (read, write, fetch) of an EPT-violation exit qualification held as a number. */
export function eptViolationAccessBits(qualification: number): number {
  return qualification % (EPT_QUAL_FETCH * 2);
}

/** Interruption information bit 31: the field describes an event to inject. */
export function interruptionValid(info: bigint): boolean {
  return ((info >> 31n) & 1n) === 1n;
}

/** Interruption information bits 7:0: the vector. */
export function interruptionVector(info: bigint): number {
  return Number(info & 0xffn);
}

/** Interruption information bits 10:8: the interruption type (0 external interrupt … 7 other event). */
export function interruptionType(info: bigint): number {
  return Number((info >> 8n) & 7n);
}

/** Interruption information bit 11: deliver an error code. */
export function interruptionDeliversErrorCode(info: bigint): boolean {
  return ((info >> 11n) & 1n) === 1n;
}

/** Interruption information bits 30:12, which must be 0 (Linux INTR_INFO_RESVD_BITS_MASK). */
export function interruptionReservedBits(info: bigint): bigint {
  return info & 0x7ffff000n;
}

/** EPTP bits 2:0: the EPT paging-structure memory type (0 UC, 6 WB). */
export function eptpMemoryType(eptp: bigint): number {
  return Number(eptp & 7n);
}

/** EPTP bits 5:3: the page-walk length minus one (3: 4 levels, 4: 5 levels). */
export function eptpWalkLengthMinusOne(eptp: bigint): number {
  return Number((eptp >> 3n) & 7n);
}

/** EPTP bit 6: accessed and dirty flags enabled. */
export function eptpAccessedDirty(eptp: bigint): boolean {
  return ((eptp >> 6n) & 1n) === 1n;
}

/** EPTP bits 11:7, which must be 0. */
export function eptpReservedBits(eptp: bigint): bigint {
  return eptp & 0xf80n;
}
