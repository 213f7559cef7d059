/**
 * The TSC a guest reads (RDTSC, RDTSCP, RDMSR IA32_TIME_STAMP_COUNTER) in VMX non-root
 * operation. SDM Vol. 3C §26.3 "Changes to Instruction Behavior in VMX Non-Root Operation"
 * (pre-2023 §25.3: RDTSC, RDTSCP, RDMSR), the section "Timestamp-Counter Offsetting and
 * Scaling" of the same chapter, and §25.6.5 "Time-Stamp Counter Offset and Multiplier" (the
 * fields; pre-2023 §24.6.5): with "use TSC
 * offsetting" (primary bit 3) the value is the TSC plus TSC_OFFSET (field 2010H, two's
 * complement); with "use TSC scaling" too (secondary bit 25) the TSC is first multiplied by
 * TSC_MULTIPLIER (field 2032H) and shifted right by 48: the multiplier is an unsigned 64-bit
 * fixed-point number with 48 fractional bits (16.48). "RDTSC exiting" (primary bit 12) makes
 * RDTSC exit instead.
 *
 * The TSC itself counts on while the processor is in VMX root operation, and the offset is a
 * constant between VM entries: exit time is visible in the guest's TSC differences. KVM does not
 * subtract it: it writes TSC_OFFSET only when the guest or the VMM sets the TSC, or when the vCPU
 * moves to a CPU whose TSC is not synchronised (Linux arch/x86/kvm/x86.c
 * kvm_vcpu_write_tsc_offset, kvm_arch_vcpu_load's `adjust_tsc_offset_host`), and it never sets
 * RDTSC exiting on VMX (vmx.c `setup_vmcs_config` leaves CPU_BASED_RDTSC_EXITING out of the
 * optional controls). With scaling, the guest's TSC frequency is the host's times the
 * multiplier (KVM_SET_TSC_KHZ → kvm_set_tsc_khz computes the ratio from the virtual tsc_khz).
 */

/** Fractional bits of TSC_MULTIPLIER. */
export const TSC_MULTIPLIER_FRACTION_BITS = 48;
/** 1.0 in the multiplier's format. */
export const TSC_MULTIPLIER_ONE = 1n << BigInt(TSC_MULTIPLIER_FRACTION_BITS);

export const TSC_REFERENCE =
  'SDM Vol. 3C §26.3 RDTSC (pre-2023 §25.3), "Timestamp-Counter Offsetting and Scaling", §25.6.5; Linux arch/x86/kvm/x86.c kvm_vcpu_write_tsc_offset';

/** The multiplier as a ratio (0x1_0000_0000_0000 → 1). */
export function tscMultiplierRatio(multiplier: bigint): number {
  return Number(multiplier) / Number(TSC_MULTIPLIER_ONE);
}

/** TSC_OFFSET as the signed 64-bit value it is. */
export function tscOffsetSigned(raw: bigint): bigint {
  return BigInt.asIntN(64, raw);
}
