/**
 * The start-up cost of building EPT02 (docs/estimator.md "EPT02 first touch"): L0 runs L2 on
 * a shadow of L1's EPT12 (kvm_init_shadow_ept_mmu), empty at first, so each L2 page's first
 * access is an EPT violation L0 fixes itself (paging_tmpl.h FNAME(page_fault) with PTTYPE_EPT).
 * A one-time figure: pages × (EPT_VIOLATION round trip + EPT walk + `ept02_fault`), not in the
 * stationary rates.
 *
 * Pages: the 4 KiB pages EPT12 maps (rwx regions with any permission) that EPT01 also maps at
 * the same address (the estimator's one-address assumption, reflect.ts), i.e. L2's RAM as the
 * file declares it — the upper bound of a guest that touches all of it, with 4 KiB mappings.
 */
import type { EptRegion, VmcsIR } from "../../model/ir";
import { CONTROL, isControlSet } from "../../vmx/controls";
import { EPT_PAGE_SIZE } from "../../vmx/fieldFormats";
import { EPT02_REFERENCE } from "../../vmx/nested";
import type { NestedSetup } from "./reflect";

export interface Ept02StartUp {
  /** L2 pages whose first touch builds EPT02 (all vCPUs share them). */
  pages: number;
  /** Cycles of one first-touch fault in L0. */
  cyclesPerFault: number;
  cycles: number;
  /** cycles / hz. */
  seconds: number;
  reference: string;
  note: string;
}

const mapped = (r: EptRegion) => r.perms.kind === "rwx" && (r.perms.read || r.perms.write || r.perms.execute);

/** Bytes of [start, end] (inclusive) also covered by a mapped region of `v01` (all of it when EPT01 lists none). */
function overlapBytes(start: bigint, end: bigint, v01: VmcsIR): bigint {
  const regions = v01.ept.filter(mapped);
  if (v01.ept.length === 0) return end - start + 1n;
  let bytes = 0n;
  for (const r of regions) {
    const lo = r.start > start ? r.start : start;
    const hi = r.end < end ? r.end : end;
    if (hi >= lo) bytes += hi - lo + 1n;
  }
  return bytes;
}

/** Undefined when vmcs12 does not enable EPT or lists no EPT12 region (L2's RAM unknown). */
export function ept02StartUp(setup: NestedSetup): Ept02StartUp | undefined {
  const v12 = setup.vmcs12;
  if (!isControlSet(setup.ctx12.controls, CONTROL.proc2.enable_ept)) return undefined;
  const regions = v12.ept.filter(mapped);
  if (regions.length === 0) return undefined;
  let bytes = 0n;
  for (const r of regions) bytes += overlapBytes(r.start, r.end, setup.vmcs01);
  const page = BigInt(EPT_PAGE_SIZE);
  const pages = Number((bytes + page - 1n) / page);
  const costs = setup.program.target.costs;
  const levels = setup.vmcs01.eptp?.levels ?? 4;
  const cyclesPerFault =
    costs.round_trip.cycles + levels * costs.ept_walk_level.cycles + costs.ept02_fault.cycles;
  const cycles = pages * cyclesPerFault;
  const hz = setup.program.target.hz > 0 ? setup.program.target.hz : 1;
  return {
    pages,
    cyclesPerFault,
    cycles,
    seconds: cycles / hz,
    reference: EPT02_REFERENCE,
    note: "one-time, on L2's first touch of each page; 4 KiB mappings (2 MiB ones, when EPT12 and L0's backing are huge, fault 512× less); not in the stationary rates",
  };
}
