/**
 * An interrupt for L1 that arrives while the vCPU is on L1's side of root mode (analysis/nested/
 * wake.ts RootSide; docs/simulator.md "Nested virtualization"): L1 running its handler of a
 * reflected exit, or L0 emulating one of L1's trapped VMX instructions. is_guest_mode is false
 * there, so at the entry into L1 kvm_check_and_inject_events (arch/x86/kvm/x86.c) injects it into
 * L1 through vmcs01 (vmx_inject_irq) instead of vmx_check_nested_events synthesizing a nested
 * exit: it exits from L1 as vmcs01 decides (when L1 ran), and L1 injects it into L2 at the
 * VMRESUME it was going to do (wake.ts l1SideDelivery) — no nested exit, no extra VMRESUME.
 *
 * Per vCPU this keeps the reflected chain in progress (its segments' start, scale and end, set by
 * EngineState.exitStatistics): an arrival looks up the segment it falls in (NestedExitPlan.segSide)
 * and, on L1's side, inserts the delivery's segments before the chain's VMRESUME — the episode's
 * recorded VMRESUME segments move later by its cycles, and so does the entry.
 */
import { type L1SidePath, type NestedExitPlan, SIDE_L0_FOR_L1, SIDE_L1, SIDE_L2 } from "./nestedPlan";
import type { EngineState } from "./state";

export class L1SideRuntime {
  /** The episode's plan (−1: none tracked), where its segments start, their scale, where its VMRESUME starts, its end. */
  readonly plan: Int32Array;
  readonly segStart: Float64Array;
  readonly scale: Float64Array;
  readonly resumeAt: Float64Array;
  readonly end: Float64Array;
  /** The timeline records of the episode: from this index on (the recorder's). */
  readonly recordFrom: Int32Array;
  constructor(nV: number) {
    this.plan = new Int32Array(nV).fill(-1);
    this.segStart = new Float64Array(nV);
    this.scale = new Float64Array(nV);
    this.resumeAt = new Float64Array(nV);
    this.end = new Float64Array(nV);
    this.recordFrom = new Int32Array(nV);
  }

  /**
   * An exit episode of plan `planIndex` begins on `v`: its segments fill `duration` from
   * `segStart`, its entry is at `end`; record
   * index `recordFrom` is the first of its timeline records.
   */
  episode(
    v: number,
    planIndex: number,
    nested: NestedExitPlan | null,
    segStart: number,
    duration: number,
    end: number,
    recordFrom: number,
  ): void {
    if (!nested?.segSide || !(nested.segTotal > 0) || nested.segResumeFrom === undefined) {
      this.plan[v] = -1;
      return;
    }
    const scale = duration / nested.segTotal;
    let before = 0;
    for (let k = 0; k < nested.segResumeFrom; k++) before += nested.segCycles[k];
    this.plan[v] = planIndex;
    this.segStart[v] = segStart;
    this.scale[v] = scale;
    this.resumeAt[v] = segStart + before * scale;
    // The entry's time exactly as the engine schedules it (EngineState.exitStatistics' total).
    this.end[v] = end;
    this.recordFrom[v] = recordFrom;
  }
}

/** The side of root mode vCPU `v` is on at `t` (SIDE_*): L0's for L2 outside a tracked chain. */
export function sideAt(e: EngineState, v: number, t: number): number {
  const r = e.l1Side;
  if (!r) return SIDE_L2;
  const planIndex = r.plan[v];
  // The episode must still be the vCPU's current one (its entry not yet taken).
  if (planIndex < 0 || e.vcpuTime[v] !== r.end[v] || t < r.segStart[v] || t >= r.resumeAt[v]) return SIDE_L2;
  const nested = e.p.exits[planIndex].nested!;
  const side = nested.segSide!;
  const resumeFrom = nested.segResumeFrom!;
  let at = r.segStart[v];
  for (let k = 0; k < resumeFrom; k++) {
    at += nested.segCycles[k] * r.scale[v];
    if (t < at) return side[k];
  }
  // Past the chain's own segments: a delivery inserted earlier (all L0 for L1, or L1 injecting).
  return SIDE_L0_FOR_L1;
}

/**
 * An interrupt of source `s` for L1 found vCPU `v` on L1's side (`side`): its delivery runs before
 * the chain's VMRESUME, which (and the entry) moves later by its cycles. The interrupt stays
 * queued and is injected into L2 at the entry (no owed nested exit).
 */
export function deliverOnL1Side(e: EngineState, v: number, s: number, side: number): void {
  const r = e.l1Side!;
  const paths = e.p.nestedSources!.l1Side[s];
  if (!paths) return;
  const path: L1SidePath = side === SIDE_L1 ? paths.l1 : paths.l0ForL1;
  const d = path.segments.segTotal;
  const at = r.resumeAt[v];
  const code = e.p.exits[r.plan[v]].code;
  e.recorder.shiftFrom(r.recordFrom[v], v, at, d);
  e.recorder.recordSegments(at, d, v, code, path.segments);
  r.resumeAt[v] = at + d;
  r.end[v] += d;
  e.vcpuTime[v] = r.end[v];
  e.stats.nestedL1Side(path);
}
