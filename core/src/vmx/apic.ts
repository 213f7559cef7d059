/**
 * Local APIC facts the exit decisions use: the xAPIC page, the x2APIC MSR range and which APIC
 * registers the CPU virtualizes.
 *
 * SDM edition as in instructions.ts (Vol. 3C editions from 2023; pre-2023 numbers beside):
 * - xAPIC base and register offsets: SDM Vol. 3A §11.4.1 (IA32_APIC_BASE reset value FEE00000H)
 *   and Table 11-1 (Local APIC Register Address Map: TPR 080H, EOI 0B0H, ICR low 300H).
 * - x2APIC: SDM Vol. 3A §11.12.1.2 Table 11-6, MSR = 800H + (xAPIC offset >> 4), range
 *   800H–8FFH; the register MSRs themselves are rows of msrs.ts.
 * - Virtualized registers: SDM Vol. 3C §30.4.2 (reads) and §30.4.3.1 (writes) with
 *   APIC-register virtualization (pre-2023 §29.4.2 / §29.4.3.1).
 */
import { msrByName } from "./msrs";

/** The architectural xAPIC base (IA32_APIC_BASE reset value; SDM Vol. 3A §11.4.1). */
export const XAPIC_BASE = 0xfee00000n;

/** xAPIC register offsets in the APIC page (SDM Vol. 3A Table 11-1). */
export const XAPIC_OFFSET = {
  TPR: 0x080,
  EOI: 0x0b0,
  ICR_LOW: 0x300,
} as const;

/** The register offset (16-byte aligned) of an address in the APIC page. */
export function apicRegisterOffset(gpa: bigint): number {
  return Number(gpa & 0xff0n);
}

/** First and last MSR of the x2APIC register space (SDM Vol. 3A §11.12.1.2). */
export const X2APIC_MSR_FIRST = 0x800;
export const X2APIC_MSR_LAST = 0x8ff;

export function isX2apicMsr(msr: number): boolean {
  return msr >= X2APIC_MSR_FIRST && msr <= X2APIC_MSR_LAST;
}

function msrIndex(name: string): number {
  const def = msrByName(name);
  if (!def) throw new Error(`MSR ${name} missing from the VT-x tables`);
  return def.index;
}

/** The x2APIC register MSRs the decisions single out, read from the MSR table (msrs.ts). */
export const X2APIC_MSR = {
  TPR: msrIndex("X2APIC_TPR"),
  EOI: msrIndex("X2APIC_EOI"),
  ICR: msrIndex("X2APIC_ICR"),
  SELF_IPI: msrIndex("X2APIC_SELF_IPI"),
} as const;

/** IA32_TSC_DEADLINE (SDM Vol. 3A §11.5.4.1), from the MSR table. */
export const IA32_TSC_DEADLINE = msrIndex("IA32_TSC_DEADLINE");

/** APIC registers whose reads are virtualized with APIC-register virtualization (§30.4.2). */
export const APIC_READ_VIRTUALIZED: ReadonlySet<number> = new Set([
  0x020, 0x030, 0x080, 0x0b0, 0x0d0, 0x0e0, 0x0f0, 0x100, 0x110, 0x120, 0x130, 0x140, 0x150, 0x160, 0x170,
  0x180, 0x190, 0x1a0, 0x1b0, 0x1c0, 0x1d0, 0x1e0, 0x1f0, 0x200, 0x210, 0x220, 0x230, 0x240, 0x250, 0x260,
  0x270, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x3e0,
]);

/** APIC registers whose writes are virtualized with APIC-register virtualization (§30.4.3.1). */
export const APIC_WRITE_VIRTUALIZED: ReadonlySet<number> = new Set([
  0x020, 0x080, 0x0b0, 0x0d0, 0x0e0, 0x0f0, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370,
  0x380, 0x3e0,
]);

/** TPR threshold: bits 3:0 of the field (SDM Vol. 3C §25.6.8, pre-2023 §24.6.8). */
export function tprThresholdValue(field: number | bigint): number {
  return typeof field === "bigint" ? Number(field & 0xfn) : field & 0xf;
}

/**
 * Interrupt and exception vectors are 8 bits, 0–255; vectors 0–31 are reserved for exceptions,
 * so external interrupts use 32–255 (SDM Vol. 3A §6.2, "Exception and Interrupt Vectors").
 */
export const MAX_VECTOR = 255;
export const FIRST_EXTERNAL_INTERRUPT_VECTOR = 32;

/** The VTPR priority class: bits 7:4 of the virtual-APIC page's TPR byte (SDM Vol. 3C §30.1.1, pre-2023 §29.1.1). */
export function vtprPriorityClass(vtpr: number): number {
  return vtpr >> 4;
}

/** The priority class (bits 7:4 of TPR, which CR8 bits 3:0 map to; SDM Vol. 3A §11.8.6.1, pre-2023 §10.8.6.1). */
export function cr8PriorityClass(value: bigint): number {
  return Number(value & 0xfn);
}

/** Whether a vector's bit is set in the 256-bit EOI-exit bitmap (SDM Vol. 3C §30.1.4, pre-2023 §29.1.4). */
export function eoiExitBitSet(bitmap: bigint, vector: number): boolean {
  return ((bitmap >> BigInt(vector & 0xff)) & 1n) === 1n;
}

/**
 * The x2APIC register MSRs a guest must never reach the physical local APIC through, and when
 * KVM lets the MSR bitmap pass a write through: arch/x86/kvm/vmx/vmx.c
 * `vmx_update_msr_bitmap_x2apic` intercepts the whole range 800H–8FFH unless APICv is active
 * and the vCPU's APIC is in x2APIC mode; then it clears the read bits (all but TMCCT, which stays
 * intercepted) and the write bits of TPR, EOI and SELF_IPI only (and ICR with IPI virtualization,
 * `!enable_ipiv`). The timer registers (LVT timer, initial count, current count, divide) are never
 * passed through: KVM emulates the APIC timer (lapic.c, hrtimer or the VMX-preemption timer).
 * `write`/`read`: which accesses are passed through and when ("never", or the controls that must
 * be 1 — the hardware virtualizes those accesses, SDM Vol. 3C §30.5, pre-2023 §29.5).
 */
export type X2apicPassCondition =
  | "never"
  | readonly (
      | "virtualize_x2apic_mode"
      | "apic_register_virtualization"
      | "virtual_interrupt_delivery"
      | "ipi_virtualization"
    )[];

export interface X2apicKvmRow {
  name: string;
  msr: number;
  read: X2apicPassCondition;
  write: X2apicPassCondition;
}

const APICV_READS = ["virtualize_x2apic_mode", "apic_register_virtualization"] as const;

const X2APIC_KVM_ROWS: readonly Omit<X2apicKvmRow, "msr">[] = [
  { name: "X2APIC_EOI", read: APICV_READS, write: ["virtualize_x2apic_mode", "virtual_interrupt_delivery"] },
  { name: "X2APIC_ICR", read: APICV_READS, write: ["virtualize_x2apic_mode", "ipi_virtualization"] },
  { name: "X2APIC_LVT_TIMER", read: APICV_READS, write: "never" },
  { name: "X2APIC_TIMER_ICR", read: APICV_READS, write: "never" },
  { name: "X2APIC_TIMER_CCR", read: "never", write: "never" },
  { name: "X2APIC_TIMER_DCR", read: APICV_READS, write: "never" },
];

export const X2APIC_KVM_INTERCEPTED: readonly X2apicKvmRow[] = X2APIC_KVM_ROWS.map((row) => ({
  ...row,
  msr: msrIndex(row.name),
}));
