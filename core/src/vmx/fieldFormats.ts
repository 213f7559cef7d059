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
 */

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
