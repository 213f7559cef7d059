/**
 * The estimator's busy-share solution (docs/estimator.md "Idle model"), which the host terms
 * (hostEstimate.ts) feed and read: the busy share ρ of a vCPU and the share p of interrupt
 * arrivals that take their delivery exit, solved together in closed form.
 *
 * An interrupt exits only when it arrives in guest mode (SDM Vol. 3C §26.2: external-interrupt
 * exiting acts in VMX non-root operation); in root mode it waits for the next VM entry and is
 * injected there without another exit; while the vCPU is halted in the host it wakes it.
 * With G = Σ λ·compute, X = Σ λ·op-exit cycles, D = Σ λ·delivery-exit cycles, N idle periods/s,
 * each costing T = idle exit + the tickless one-shot (tc guest, tx exits), and a tickless tick
 * at HZ while busy (CONFIG_NO_HZ_IDLE: tick_nohz_idle_stop_tick stops it only on idle entry,
 * kernel/time/tick-sched.c), costing ρ·HZ·(tc + tx):
 *   ρ·hz = G + X + D·p + N·T + ρ·HZ·(tc + tx)
 *   p·hz = G + N·tc + ρ·HZ·tc                      when the idle vCPU blocks in the host
 *   p = 1 − (X + D·p + N·(T − tc) + ρ·HZ·tx)/hz    otherwise (all but root-mode time)
 * An L2's interrupt for L1 that arrives in root mode costs its nested exit at the next entry
 * (vmx_check_nested_events): R = Σ λ·those cycles, times the root share r (ρ − p when the idle
 * vCPU blocks, 1 − p otherwise), is one more term of ρ·hz (and of the root time in p's).
 * N = Λ(1−ρ)/S: Λ(1−ρ) arrivals find the vCPU idle (PASTA), and an idle exit whose window τ
 * (tickless + idle exit up to the block) already saw an arrival returns to work without an
 * idle period, so N·S = Λ(1−ρ) with S = P(no arrival within τ) = e^(−Λ_poisson·τ) ·
 * Π_periodic (1 − λ_i·τ).
 */
import type { GuestSource, TargetIR } from "../model/ir";
import type { ExitContext } from "./exits";
import type { ExitDecision } from "./types";

export interface SourceModel {
  source: GuestSource;
  /** Arrivals per second per vCPU (tickless: solved with the idle model). */
  rate: number;
  tickless: boolean;
  computeCycles: number;
  /** Exits of the source's operations, per execution. */
  opExits: ExitDecision["exits"];
  opExitCycles: number;
  /** Exits of delivering the interrupt to a vCPU in guest mode, per arrival. */
  delivery: ExitDecision;
  deliveryExitCycles: number;
  /** `coalesce` flushes per execution that run at a timeout, as work of their own (§2.6). */
  deferredFlushes: number;
  /** The context the source's operations are decided in (re-walked for `operations`). */
  context: ExitContext;
  /** A tickless tick's rate while the vCPU is busy (its HZ); 0 for other sources. */
  busyTicks: number;
}

export interface ShareSolution {
  rho: number;
  /** Share of interrupt arrivals that take their delivery exit. */
  pRun: number;
  saturated: boolean;
  /** Idle exits per second per vCPU. */
  idlePeriods: number;
  /** Share of idle exits that block (no arrival within τ). */
  survival: number;
  /** Λ: arrivals per second per vCPU that can end an idle period. */
  arrivals: number;
  /** Offered busy share before saturation clamps it (ρ, or +∞). */
  demand: number;
}

/**
 * Solves ρ and p with `perIdleExit` cycles per idle exit, less `saved` (the wake-up cycles a
 * successful halt poll saves, per idle exit: they come after the block, so the window τ up to
 * the block does not change).
 */
export function solveShares(
  models: readonly SourceModel[],
  perIdleExit: number,
  saved: number,
  blocked: boolean,
  target: TargetIR,
  hz: number,
  /** R: Σ λ·cycles of the nested exit an arrival owes when it finds the vCPU in root mode (L2 only). */
  rootDelivery = 0,
): ShareSolution {
  let guestBase = 0; // G
  let exitBase = 0; // X
  let deliverySum = 0; // D
  let arrivals = 0; // Λ
  let poissonRate = 0;
  let ticklessGuest = 0; // tc, per idle period
  let ticklessExits = 0; // tx, per idle period
  let busyGuest = 0; // HZ·tc
  let busyExits = 0; // HZ·tx
  for (const m of models) {
    if (m.tickless) {
      ticklessGuest += m.computeCycles;
      ticklessExits += m.opExitCycles + m.deliveryExitCycles;
      busyGuest += m.busyTicks * m.computeCycles;
      busyExits += m.busyTicks * (m.opExitCycles + m.deliveryExitCycles);
      continue;
    }
    guestBase += m.rate * m.computeCycles;
    exitBase += m.rate * m.opExitCycles;
    deliverySum += m.rate * m.deliveryExitCycles;
    arrivals += m.rate;
    if (m.source.arrival.kind === "poisson") poissonRate += m.rate;
    // A coalesce flush at its timeout is work arriving of its own: it ends an idle period like
    // an arrival (taken as Poisson for the idle window's survival).
    if (m.deferredFlushes > 0) {
      arrivals += m.rate * m.deferredFlushes;
      poissonRate += m.rate * m.deferredFlushes;
    }
  }
  const perIdlePeriod = perIdleExit - saved + ticklessGuest + ticklessExits; // T
  // The wake-up handlerCost charges to a halting idle exit is spent after the block.
  const wake = blocked ? (target.costs.halt_wake?.cycles ?? 0) : 0;
  const window = Math.max(0, perIdlePeriod + saved - wake) / hz; // τ in seconds
  let survival = Math.exp(-poissonRate * window);
  for (const m of models) {
    if (!m.tickless && m.source.arrival.kind === "periodic") survival *= Math.max(0, 1 - m.rate * window);
  }
  const k = arrivals / Math.max(survival, 1e-9); // N = k·(1−ρ)
  // Linear system a11·ρ + a12·p = b1, a21·ρ + a22·p = b2.
  // R·r: blocked, R·(ρ − p); otherwise R·(1 − p).
  const R = rootDelivery;
  const a11 = hz + k * perIdlePeriod - busyGuest - busyExits - (blocked ? R : 0);
  const a12 = -deliverySum + R;
  const b1 = guestBase + exitBase + k * perIdlePeriod + (blocked ? 0 : R);
  const rootPerIdle = perIdlePeriod - ticklessGuest;
  const a21 = blocked ? k * ticklessGuest - busyGuest : -k * rootPerIdle + busyExits;
  const a22 = blocked ? hz : hz + deliverySum - R;
  const b2 = blocked ? guestBase + k * ticklessGuest : hz - exitBase - k * rootPerIdle - R;
  const det = a11 * a22 - a12 * a21;
  let rho = det > 0 ? (b1 * a22 - a12 * b2) / det : Number.POSITIVE_INFINITY;
  let pRun = det > 0 ? (a11 * b2 - a21 * b1) / det : 1;
  const demand = rho;
  const saturated = !(rho < 1);
  if (saturated) {
    // No idle periods: the guest-mode share without them.
    rho = 1;
    pRun = blocked ? (guestBase + busyGuest) / hz : (hz - exitBase - busyExits - R) / (hz + deliverySum - R);
  }
  pRun = Math.min(1, Math.max(0, pRun));
  return { rho, pRun, saturated, idlePeriods: k * (1 - rho), survival, arrivals, demand };
}
