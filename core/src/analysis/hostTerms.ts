/**
 * The estimator's host terms (docs/estimator.md, "Host"): KVM's adaptive halt polling and the
 * per-vCPU PLE window growth, each solved in closed form as a small Markov chain over the
 * window KVM keeps per vCPU, with the settings of the file's `target` block or KVM's defaults.
 *
 * - Halt polling (kvm_vcpu_halt, grow_halt_poll_ns, shrink_halt_poll_ns; virt/kvm/kvm_main.c):
 *   the window w starts at 0; a halt of H ≤ w is a poll success (no sleep, no wake-up cost);
 *   H > halt_poll_ns shrinks w (÷ shrink, 0 below grow_start); w < H < halt_poll_ns grows it
 *   (× grow, at least grow_start, capped at halt_poll_ns). H, the time from the block to the
 *   next arrival, has the survival function `haltSurvival` builds.
 * - PLE window (grow_ple_window / shrink_ple_window, arch/x86/kvm/vmx/vmx.c): each PLE exit
 *   grows the window (__grow_ple_window), each sched-in (a halt that slept, a host preemption)
 *   shrinks it (__shrink_ple_window; with ple_window_shrink = 0, back to the base).
 */
import type { GuestOp, HostIR } from "../model/ir";
import { growPleWindow, shrinkPleWindow } from "../vmx/kvmDefaults";

/** One arrival stream that can end a halt: Poisson at `rate`, or periodic with period 1/rate. */
export interface HaltArrival {
  periodic: boolean;
  /** Per second, per vCPU. */
  rate: number;
}

/**
 * P(H > x) for the time H from a block to the next arrival (x in seconds). Poisson streams are
 * memoryless. A periodic stream's next arrival is P − B after the block when its own arrival
 * started the busy period that ended in this block (B: that busy period plus the idle exit,
 * `busySec`), and uniform over its period otherwise; the stream that started the busy period
 * is drawn in proportion to the rates (an estimate: arrivals end idle periods in that ratio).
 */
export function haltSurvival(arrivals: readonly HaltArrival[], busySec: number): (x: number) => number {
  let total = 0;
  let poisson = 0;
  for (const a of arrivals) {
    total += a.rate;
    if (!a.periodic) poisson += a.rate;
  }
  const periodic = arrivals.filter((a) => a.periodic && a.rate > 0);
  return (x: number): number => {
    if (total <= 0) return 1;
    const base = Math.exp(-poisson * x);
    let uniform = 1;
    for (const a of periodic) uniform *= Math.max(0, 1 - a.rate * x);
    let s = (poisson / total) * base * uniform;
    for (const a of periodic) {
      const own = Math.max(0, 1 - a.rate * x);
      const others = own > 0 ? uniform / own : periodic.length === 1 ? 1 : othersProduct(periodic, a, x);
      const alive = x < 1 / a.rate - busySec ? 1 : 0;
      s += (a.rate / total) * base * others * alive;
    }
    return s;
  };
}

function othersProduct(periodic: readonly HaltArrival[], skip: HaltArrival, x: number): number {
  let p = 1;
  for (const a of periodic) if (a !== skip) p *= Math.max(0, 1 - a.rate * x);
  return p;
}

export interface HaltPollTerms {
  /** Share of blocks the poll window catches (the vCPU never sleeps, no wake-up is spent). */
  success: number;
  /** Mean polling time per block, seconds (host CPU time of the vCPU thread). */
  pollSec: number;
  /** Mean poll window at a block, seconds (kvm's vcpu->halt_poll_ns). */
  meanWindowSec: number;
}

const NO_POLL: HaltPollTerms = { success: 0, pollSec: 0, meanWindowSec: 0 };

/** The stationary halt-poll chain for blocks whose time to the next arrival has survival `S`. */
export function haltPollTerms(host: HostIR, S: (x: number) => number): HaltPollTerms {
  const max = host.haltPollNs.value * 1e-9;
  const grow = host.haltPollGrow.value;
  const start = host.haltPollGrowStartNs.value * 1e-9;
  const shrink = host.haltPollShrink.value;
  if (!(max > 0) || grow === 0) return NO_POLL;
  const growOf = (w: number) => Math.min(Math.max(w * grow, start), max);
  const shrinkOf = (w: number) => {
    const v = shrink === 0 ? 0 : w / shrink;
    return v < start ? 0 : v;
  };
  // The windows reachable from 0 by growing and shrinking (a handful: 0, 10 µs … 200 µs).
  const states: number[] = [0];
  const index = (w: number): number => {
    for (let i = 0; i < states.length; i++) if (Math.abs(states[i]! - w) <= 1e-15) return i;
    if (states.length >= 64) return states.length - 1;
    states.push(w);
    return states.length - 1;
  };
  const next: { to: number; p: number }[][] = [];
  const sMax = S(max);
  for (let i = 0; i < states.length; i++) {
    const w = states[i]!;
    const out: { to: number; p: number }[] = [];
    if (w === 0) {
      // No poll: a block shorter than halt_poll_ns grows the window to grow_start.
      out.push({ to: index(growOf(0)), p: 1 - sMax }, { to: i, p: sMax });
    } else {
      const sw = S(w);
      out.push({ to: i, p: 1 - sw }, { to: index(shrinkOf(w)), p: sMax });
      if (w < max) out.push({ to: index(growOf(w)), p: Math.max(0, sw - sMax) });
    }
    next.push(out);
  }
  // Power iteration to the stationary distribution (the chain is small and mixes fast).
  let pi: number[] = states.map((_, i) => (i === 0 ? 1 : 0));
  for (let iter = 0; iter < 2000; iter++) {
    const n = states.map(() => 0);
    for (let i = 0; i < states.length; i++) for (const { to, p } of next[i]!) n[to]! += pi[i]! * p;
    let delta = 0;
    for (let i = 0; i < n.length; i++) delta += Math.abs(n[i]! - pi[i]!);
    pi = n;
    if (delta < 1e-12) break;
  }
  let success = 0;
  let pollSec = 0;
  let meanWindowSec = 0;
  for (let i = 0; i < states.length; i++) {
    const w = states[i]!;
    if (w === 0) continue;
    success += pi[i]! * (1 - S(w));
    pollSec += pi[i]! * integrate(S, w);
    meanWindowSec += pi[i]! * w;
  }
  return { success, pollSec, meanWindowSec };
}

/** ∫₀^w S(x) dx = E[min(H, w)] (Simpson's rule; S is smooth but for a periodic step). */
function integrate(S: (x: number) => number, w: number): number {
  const n = 128;
  const h = w / n;
  let sum = S(0) + S(w);
  for (let k = 1; k < n; k++) sum += (k % 2 === 1 ? 4 : 2) * S(k * h);
  return (sum * h) / 3;
}

/** A `pause_loop` whose PAUSE-loop exits the fixed-window model counted. */
export interface SpinSite {
  /** Spin length, TSC cycles. */
  cycles: number;
  /** Spins per second per vCPU. */
  rate: number;
}

/** Every `pause_loop` of `ops`, with its executions per execution of the ops. */
export function spinLoops(
  ops: readonly GuestOp[],
  executions = 1,
  out: { cycles: number; executions: number }[] = [],
) {
  for (const op of ops) {
    if (op.op === "pause_loop") out.push({ cycles: op.cycles, executions });
    else if (op.op === "branch")
      for (const arm of op.arms) spinLoops(arm.ops, executions * arm.probability, out);
    else if (op.op === "repeat") spinLoops(op.ops, executions * op.count, out);
    else if (op.op === "tsx") spinLoops(op.ops, executions, out);
    else if (op.op === "coalesce") spinLoops(op.ops, executions / Math.max(1, op.count), out);
  }
  return out;
}

/**
 * PLE exits per spin of each site with KVM's window growth: a chain over the vCPU's current
 * window, where each spin starts after a sched-in (window shrunk) with probability
 * schedIns / (schedIns + spins), then exits while its remaining spin is at least the window
 * (SDM Vol. 3C §26.1.3), the window growing after each exit. Returns per-site exits per spin.
 */
export function pleGrowthExits(
  sites: readonly SpinSite[],
  baseWindow: number,
  host: HostIR,
  schedInsPerSec: number,
): number[] {
  const grow = host.pleWindowGrow.value;
  const shrink = host.pleWindowShrink.value;
  const max = host.pleWindowMax.value;
  const fixed = (c: number) => Math.floor(c / Math.max(1, baseWindow));
  if (grow < 1 || baseWindow <= 0) return sites.map((s) => fixed(s.cycles));
  const spinRate = sites.reduce((a, s) => a + s.rate, 0);
  if (!(spinRate > 0)) return sites.map(() => 0);
  const states: number[] = [baseWindow];
  const index = (w: number): number => {
    for (let i = 0; i < states.length; i++) if (states[i] === w) return i;
    if (states.length >= 64) return states.length - 1;
    states.push(w);
    return states.length - 1;
  };
  // One spin of `cycles` from window state i: (exits, state after).
  const spin = (i: number, cycles: number): [number, number] => {
    let w = states[i]!;
    let left = cycles;
    let n = 0;
    while (left >= w && n < 4096) {
      left -= w;
      n++;
      const g = growPleWindow(w, baseWindow, grow, max);
      if (g === w) {
        n += Math.floor(left / w);
        break;
      }
      w = g;
    }
    return [n, index(w)];
  };
  const reset = Math.min(1, schedInsPerSec / (schedInsPerSec + spinRate));
  let pi = [1];
  let exits = sites.map(() => 0);
  for (let iter = 0; iter < 500; iter++) {
    const before = states.map((_, i) => pi[i] ?? 0);
    // A sched-in before the spin shrinks the window.
    const start = states.map(() => 0);
    for (let i = 0; i < before.length; i++) {
      const p = before[i]!;
      if (p === 0) continue;
      start[i]! += p * (1 - reset);
      const to = index(shrinkPleWindow(states[i]!, baseWindow, shrink, baseWindow));
      start[to] = (start[to] ?? 0) + p * reset;
    }
    const after = states.map(() => 0);
    const perSite = sites.map(() => 0);
    for (let i = 0; i < start.length; i++) {
      const p = start[i] ?? 0;
      if (p === 0) continue;
      sites.forEach((site, j) => {
        const [n, to] = spin(i, site.cycles);
        perSite[j]! += p * n;
        while (after.length < states.length) after.push(0);
        after[to]! += (p * site.rate) / spinRate;
      });
    }
    let delta = 0;
    for (let i = 0; i < after.length; i++) delta += Math.abs((after[i] ?? 0) - (pi[i] ?? 0));
    pi = after;
    exits = perSite;
    if (delta < 1e-10) break;
  }
  return exits;
}
