/**
 * Per-VMCS lookup structures built once and shared by every exit decision: the I/O bitmaps,
 * the MSR bitmap in the hardware layout, the EPT map sorted for binary search, the EOI-exit
 * bitmap and the CR masks. Built lazily on first use and carried by the VmcsIR (memo.ts
 * vmcsMemo), so an analysis pays for them once per vmcs block.
 */

import type { EptPermissions, VmcsIR } from "../model/ir";
import { upperBound } from "../util/search";
import { tprThresholdValue } from "../vmx/apic";
import { IO_PORT_LAST } from "../vmx/instructions";
import { msrBitmapBit as msrBitmapPageBit } from "../vmx/msrs";
import { vmcsMemo } from "./memo";

export interface EptEntry {
  start: bigint;
  end: bigint;
  perms: EptPermissions;
  /** Index of the region in the vmcs block, for the decision's detail. */
  index: number;
}

export interface VmcsLookup {
  /**
   * The set bits of I/O bitmaps A (ports 0000–7FFF) and B (8000–FFFF): a port in one of these
   * inclusive ranges ⇒ an access to it exits when "use I/O bitmaps" = 1 (SDM Vol. 3C §26.1.3;
   * docs/hardware.md). Kept as the trapped ranges rather than the 8-KiB bitmaps: a file has a few
   * ranges per vmcs, and zero-filling 12 KiB of bitmaps per vmcs on every keystroke cost more
   * than all the decisions that read them. With many ranges, `ioBitmap` holds the real bitmap.
   */
  ioRanges: readonly { first: number; last: number }[];
  ioBitmap?: Uint8Array;
  /**
   * The set bits of the 4-KiB MSR bitmap (L-kvmvmx.h comment, docs/hardware.md: read-low
   * 0x000–0x3ff, read-high 0x400–0x7ff, write-low 0x800–0xbff, write-high 0xc00–0xfff), by MSR
   * index: bit 0 = read bitmap bit, bit 1 = write bitmap bit. Only MSRs inside the two bitmap
   * ranges are recorded.
   */
  msrBits: ReadonlyMap<number, number>;
  /** Sorted by start; `maxEndBefore[i]` is the largest end among entries 0..i. */
  ept: EptEntry[];
  eptStarts: bigint[];
  eptMaxEnd: bigint[];
  /** 256-bit EOI-exit bitmap from EOI_EXIT_BITMAP0..3 (bit v ⇒ EOI of vector v exits). */
  eoiExitBitmap: bigint;
  cr0Mask: bigint;
  cr0Shadow: bigint;
  cr4Mask: bigint;
  cr4Shadow: bigint;
  /** The first `cr3TargetCount` values are the ones that let MOV to CR3 through. */
  cr3TargetValues: bigint[];
  cr3TargetCount: number;
  /** TPR threshold bits 3:0 (the only bits compared, SDM Vol. 3C §30.1.2). */
  tprThreshold: number;
  pleGap: number;
  pleWindow: number;
  pfecMask: number;
  pfecMatch: number;
}

/** More trapped I/O ranges than this in one vmcs: build the bitmap instead of scanning ranges. */
const IO_RANGES_SCAN_LIMIT = 16;
const MSR_BIT_READ = 1;
const MSR_BIT_WRITE = 2;

function fieldValue(vmcs: VmcsIR, name: string): bigint | undefined {
  // Most vmcs blocks set a handful of fields: skip the lookups when there are none.
  if (vmcs.fields.size === 0) return undefined;
  return vmcs.fields.get(name)?.value;
}

/** Field names as constants (a template literal per lookup builds a new string to hash). */
const EOI_EXIT_BITMAP_FIELDS = [
  "EOI_EXIT_BITMAP0",
  "EOI_EXIT_BITMAP1",
  "EOI_EXIT_BITMAP2",
  "EOI_EXIT_BITMAP3",
];
const CR3_TARGET_VALUE_FIELDS = [
  "CR3_TARGET_VALUE0",
  "CR3_TARGET_VALUE1",
  "CR3_TARGET_VALUE2",
  "CR3_TARGET_VALUE3",
];

export function vmcsLookup(vmcs: VmcsIR): VmcsLookup {
  const memo = vmcsMemo(vmcs);
  if (memo.lookup !== undefined) return memo.lookup;

  const ioRanges: { first: number; last: number }[] = [];
  for (const range of vmcs.ioTraps) {
    const first = Math.max(0, range.first);
    const last = Math.min(IO_PORT_LAST, range.last);
    if (first <= last) ioRanges.push({ first, last });
  }
  let ioBitmap: Uint8Array | undefined;
  if (ioRanges.length > IO_RANGES_SCAN_LIMIT) {
    ioBitmap = new Uint8Array(8192);
    for (const { first, last } of ioRanges) {
      for (let port = first; port <= last; port++) ioBitmap[port >> 3]! |= 1 << (port & 7);
    }
  }

  const msrBits = new Map<number, number>();
  for (const trap of vmcs.msrTraps) {
    // Outside both ranges: always exits, nothing to record.
    if (!msrInBitmapRange(trap.msr)) continue;
    const bits = (trap.read ? MSR_BIT_READ : 0) | (trap.write ? MSR_BIT_WRITE : 0);
    msrBits.set(trap.msr, (msrBits.get(trap.msr) ?? 0) | bits);
  }

  // Loops, not `map`: a vmcs has a few regions, and the callback setup cost more than they do.
  const ept: EptEntry[] = [];
  for (let index = 0; index < vmcs.ept.length; index++) {
    const r = vmcs.ept[index]!;
    ept.push({ start: r.start, end: r.end, perms: r.perms, index });
  }
  // Usually written in address order already: sort only when not (sorting allocates).
  let inOrder = true;
  for (let i = 1; i < ept.length && inOrder; i++) inOrder = ept[i - 1]!.start <= ept[i]!.start;
  if (!inOrder) ept.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.index - b.index));
  const eptStarts: bigint[] = [];
  const eptMaxEnd: bigint[] = [];
  let maxEnd = -1n;
  for (const e of ept) {
    eptStarts.push(e.start);
    if (e.end > maxEnd) maxEnd = e.end;
    eptMaxEnd.push(maxEnd);
  }

  let eoiExitBitmap = 0n;
  for (let i = 0; i < 4; i++) {
    const word = fieldValue(vmcs, EOI_EXIT_BITMAP_FIELDS[i]!);
    if (word !== undefined) eoiExitBitmap |= BigInt.asUintN(64, word) << BigInt(64 * i);
  }

  const cr3TargetValues = vmcs.cr3Targets.map((t) => t.value);
  for (let i = cr3TargetValues.length; i < 4; i++) {
    const v = fieldValue(vmcs, CR3_TARGET_VALUE_FIELDS[i]!);
    if (v === undefined) break;
    cr3TargetValues.push(v);
  }
  const countField = fieldValue(vmcs, "CR3_TARGET_COUNT");
  const cr3TargetCount = countField !== undefined ? Number(countField) : vmcs.cr3Targets.length;

  const tpr = vmcs.tprThreshold?.value ?? Number(fieldValue(vmcs, "TPR_THRESHOLD") ?? 0n);
  const lookup: VmcsLookup = {
    ioRanges,
    ioBitmap,
    msrBits,
    ept,
    eptStarts,
    eptMaxEnd,
    eoiExitBitmap,
    cr0Mask: vmcs.cr0?.mask ?? fieldValue(vmcs, "CR0_GUEST_HOST_MASK") ?? 0n,
    cr0Shadow: vmcs.cr0?.shadow ?? fieldValue(vmcs, "CR0_READ_SHADOW") ?? 0n,
    cr4Mask: vmcs.cr4?.mask ?? fieldValue(vmcs, "CR4_GUEST_HOST_MASK") ?? 0n,
    cr4Shadow: vmcs.cr4?.shadow ?? fieldValue(vmcs, "CR4_READ_SHADOW") ?? 0n,
    cr3TargetValues,
    cr3TargetCount,
    tprThreshold: tprThresholdValue(tpr),
    pleGap: vmcs.ple?.gap ?? Number(fieldValue(vmcs, "PLE_GAP") ?? 0n),
    pleWindow: vmcs.ple?.window ?? Number(fieldValue(vmcs, "PLE_WINDOW") ?? 0n),
    pfecMask: vmcs.pfErrorCode?.mask ?? Number(fieldValue(vmcs, "PAGE_FAULT_ERROR_CODE_MASK") ?? 0n),
    pfecMatch: vmcs.pfErrorCode?.match ?? Number(fieldValue(vmcs, "PAGE_FAULT_ERROR_CODE_MATCH") ?? 0n),
  };
  memo.lookup = lookup;
  return lookup;
}

/** Whether an MSR bitmap covers the MSR (vmx/msrs.ts; outside both ranges an access always exits). */
export function msrInBitmapRange(msr: number): boolean {
  return msrBitmapPageBit(msr, "read") !== undefined;
}

/** Whether the MSR bitmap bit for this access is 1 (the MSR must be inside a bitmap range). */
export function msrBitmapBit(lookup: VmcsLookup, msr: number, write: boolean): boolean {
  if (!msrInBitmapRange(msr)) return true;
  return ((lookup.msrBits.get(msr) ?? 0) & (write ? MSR_BIT_WRITE : MSR_BIT_READ)) !== 0;
}

export function ioBitmapBit(lookup: VmcsLookup, port: number): boolean {
  const p = port & IO_PORT_LAST;
  if (lookup.ioBitmap !== undefined) return (lookup.ioBitmap[p >> 3]! & (1 << (p & 7))) !== 0;
  for (const range of lookup.ioRanges) if (p >= range.first && p <= range.last) return true;
  return false;
}

/**
 * The EPT region that maps a guest-physical address, or undefined when none does. Where
 * regions overlap, the one starting last (the most specific, e.g. the APIC page inside a RAM
 * range) wins. O(log n) plus the overlap depth.
 */
export function eptRegionAt(lookup: VmcsLookup, gpa: bigint): EptEntry | undefined {
  // The last region starting at or before gpa, then back over the ones that still reach it.
  const found = upperBound(lookup.eptStarts, gpa) - 1;
  for (let i = found; i >= 0 && lookup.eptMaxEnd[i]! >= gpa; i--) {
    const e = lookup.ept[i]!;
    if (e.end >= gpa) return e;
  }
  return undefined;
}
