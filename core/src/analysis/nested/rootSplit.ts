/**
 * The split of an L2 vCPU's root-mode time (busy time outside L2's guest mode) by the side an
 * interrupt for L1 finds (wake.ts RootSide; docs/estimator.md "Root mode: L0's side for L2, L1's
 * side"): on L0's side for L2 it is the nested exit L0 synthesizes at the next entry
 * (vmx_check_nested_events), on L1's side L1's own interrupt (kvm_check_and_inject_events
 * injects it into L1: is_guest_mode false; wake.ts l1SideDelivery). estimate.ts solves the
 * nested estimate at a split and reads the split its rates imply: a fixed point.
 */
import type { WakeChain } from "./wake";

/**
 * Shares of root-mode time on L1's side: L1 itself running (`l1`: its handlers' own steps) and L0
 * running on behalf of L1 (`l0ForL1`: the emulation of L1's trapped VMX instructions, and the
 * L1-side deliveries themselves). The rest is L0's for L2: its exits, the emulated exits into L1
 * and VMRESUMEs, the wake-up chains, L1's notification exits.
 */
export interface RootSplit {
  l1: number;
  l0ForL1: number;
}

/** An interrupt for L1's delivery when it finds L1 running / L0 running for L1 (wake.ts l1SideDelivery). */
export interface L1SideDeliveries {
  l1: WakeChain;
  l0ForL1: WakeChain;
}

/** The share of root-mode time on L0's side for L2. */
export const l2Side = (split: RootSplit) => Math.max(0, 1 - split.l1 - split.l0ForL1);

/**
 * The estimate at the split it implies: `solve` at a split returns its estimate and the split its
 * rates give; an interrupt caught on L1's side costs less than a synthesized nested exit, so the
 * split moves the rates that set it. A few passes reach 1e-9.
 */
export function atFixedSplit<T>(solve: (split: RootSplit) => { estimate: T; split: RootSplit }): T {
  let split: RootSplit = { l1: 0, l0ForL1: 0 };
  let solved = solve(split);
  for (let pass = 0; pass < 8; pass++) {
    const next = solved.split;
    const moved = Math.abs(next.l1 - split.l1) + Math.abs(next.l0ForL1 - split.l0ForL1);
    split = next;
    solved = solve(split);
    if (moved < 1e-9) break;
  }
  return solved.estimate;
}

/**
 * Cycles an interrupt for L1 costs per arrival in root mode at `split`: `synthesized` (the nested
 * exit's, per exit into L1 it owes) on L0's side for L2, the L1-side deliveries on L1's.
 */
export function rootArrivalCycles(
  split: RootSplit,
  synthesized: number,
  toL1: number,
  onL1Side: L1SideDeliveries | undefined,
): number {
  const cycles = (w: WakeChain) => w.l0 + w.l1;
  return (
    l2Side(split) * synthesized +
    (onL1Side ? toL1 * (split.l1 * cycles(onL1Side.l1) + split.l0ForL1 * cycles(onL1Side.l0ForL1)) : 0)
  );
}

/**
 * The split a solution implies: the cycles per second on L1's side — L1 running, L0 for L1 (its
 * trapped instructions' emulation and the L1-side deliveries' cycles) — over the root time.
 */
export function impliedSplit(l1Running: number, l0ForL1: number, rootCycles: number): RootSplit {
  if (!(rootCycles > 0)) return { l1: 0, l0ForL1: 0 };
  const split = { l1: Math.min(1, l1Running / rootCycles), l0ForL1: Math.min(1, l0ForL1 / rootCycles) };
  const sum = split.l1 + split.l0ForL1;
  if (sum > 1) {
    split.l1 /= sum;
    split.l0ForL1 /= sum;
  }
  return split;
}
