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
  /** The chain, for the PLE window's sched-ins (a block that sleeps is one). */
  chain: PollChain;
}

/** kvm_vcpu_halt's window as a Markov chain: per state, where a block goes and whether it slept. */
export interface PollChain {
  /** Windows in seconds (state 0 is 0: no polling). */
  states: number[];
  next: { to: number; p: number; sleeps: boolean }[][];
  /** Stationary distribution over states at a block. */
  pi: number[];
}

/** No polling: every block sleeps. */
const SLEEP_ALWAYS: PollChain = { states: [0], next: [[{ to: 0, p: 1, sleeps: true }]], pi: [1] };
const NO_POLL: HaltPollTerms = { success: 0, pollSec: 0, meanWindowSec: 0, chain: SLEEP_ALWAYS };

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
  const next: PollChain["next"] = [];
  const sMax = S(max);
  for (let i = 0; i < states.length; i++) {
    const w = states[i]!;
    const out: PollChain["next"][number] = [];
    if (w === 0) {
      // No poll: a block shorter than halt_poll_ns grows the window to grow_start.
      out.push({ to: index(growOf(0)), p: 1 - sMax, sleeps: true }, { to: i, p: sMax, sleeps: true });
    } else {
      const sw = S(w);
      out.push({ to: i, p: 1 - sw, sleeps: false }, { to: index(shrinkOf(w)), p: sMax, sleeps: true });
      if (w < max) out.push({ to: index(growOf(w)), p: Math.max(0, sw - sMax), sleeps: true });
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
  return { success, pollSec, meanWindowSec, chain: { states, next, pi } };
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
 * PLE exits per spin of each site with KVM's window growth: a chain over (the vCPU's halt-poll
 * window, its PLE window), driven by the vCPU's events in the ratio of their rates — a block
 * (the poll chain's step; a block that sleeps is a sched-in, which shrinks the PLE window), a
 * host preemption (a sched-in), or a spin, which exits while its remaining spin is at least the
 * window (SDM Vol. 3C §26.1.3), the window growing after each exit. Sleeps cluster (a sleep
 * shrinks the poll window, making the next sleep likelier), which a chain over the PLE window
 * alone would miss. Returns per-site exits per spin.
 */
export function pleGrowthExits(
  sites: readonly SpinSite[],
  baseWindow: number,
  host: HostIR,
  poll: PollChain,
  blocksPerSec: number,
  preemptsPerSec: number,
): number[] {
  const grow = host.pleWindowGrow.value;
  const shrink = host.pleWindowShrink.value;
  const max = host.pleWindowMax.value;
  const fixed = (c: number) => Math.floor(c / Math.max(1, baseWindow));
  if (grow < 1 || baseWindow <= 0) return sites.map((s) => fixed(s.cycles));
  const spinRate = sites.reduce((a, s) => a + s.rate, 0);
  if (!(spinRate > 0)) return sites.map(() => 0);
  const windows: number[] = [baseWindow];
  const index = (w: number): number => {
    for (let i = 0; i < windows.length; i++) if (windows[i] === w) return i;
    if (windows.length >= 64) return windows.length - 1;
    windows.push(w);
    return windows.length - 1;
  };
  // One spin of `cycles` from window state k: [exits, state after].
  const spinMemo = new Map<number, [number, number]>();
  const spin = (k: number, j: number): [number, number] => {
    const key = k * sites.length + j;
    const hit = spinMemo.get(key);
    if (hit) return hit;
    let w = windows[k]!;
    let left = sites[j]!.cycles;
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
    const out: [number, number] = [n, index(w)];
    spinMemo.set(key, out);
    return out;
  };
  const shrunk = (k: number) => index(shrinkPleWindow(windows[k]!, baseWindow, shrink, baseWindow));
  const total = blocksPerSec + preemptsPerSec + spinRate;
  const pBlock = blocksPerSec / total;
  const pPreempt = preemptsPerSec / total;
  const nP = poll.states.length;
  // Distribution over (poll state i, PLE state k), index i·64 + k.
  const W = 64;
  let dist = new Map<number, number>([[0, 1]]);
  let exits = sites.map(() => 0);
  const add = (m: Map<number, number>, key: number, p: number) => m.set(key, (m.get(key) ?? 0) + p);
  for (let iter = 0; iter < 1000; iter++) {
    const n = new Map<number, number>();
    const perSite = sites.map(() => 0);
    let spinMass = 0;
    for (const [key, mass] of dist) {
      const i = Math.floor(key / W);
      const k = key % W;
      if (pBlock > 0)
        for (const t of poll.next[Math.min(i, nP - 1)]!)
          add(n, t.to * W + (t.sleeps ? shrunk(k) : k), mass * pBlock * t.p);
      if (pPreempt > 0) add(n, i * W + shrunk(k), mass * pPreempt);
      const pSpin = 1 - pBlock - pPreempt;
      spinMass += mass * pSpin;
      for (let j = 0; j < sites.length; j++) {
        const q = (mass * pSpin * sites[j]!.rate) / spinRate;
        const [e, to] = spin(k, j);
        perSite[j]! += mass * e;
        add(n, i * W + to, q);
      }
    }
    let delta = 0;
    for (const [key, p] of n) delta += Math.abs(p - (dist.get(key) ?? 0));
    for (const [key, p] of dist) if (!n.has(key)) delta += p;
    dist = n;
    exits = perSite;
    void spinMass;
    if (delta < 1e-10) break;
  }
  return exits;
}
