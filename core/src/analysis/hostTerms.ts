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

/** A source whose executions spin: its rate and its `pause_loop`s (spins per execution). */
export interface SpinSource {
  /** Executions per second per vCPU. */
  rate: number;
  sites: { cycles: number; executions: number }[];
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
 * PLE exits per spin of each site with KVM's window growth, for sources in order of `sources`
 * (their sites flattened): a chain over (the vCPU's halt-poll window, its PLE window) stepped
 * once per block. A block is the poll chain's step, and one that sleeps is a sched-in, which
 * shrinks the PLE window (as does a host preemption, at its rate per block); then the busy
 * period up to the next block runs 1 + Poisson(μ) executions (μ = executions per block − 1),
 * each of a source in the ratio of the rates, whose spins exit while the remaining spin is at
 * least the window (SDM Vol. 3C §26.1.3), the window growing after each exit. Sleeps cluster
 * (a sleep shrinks the poll window, making the next one likelier), which the joint chain keeps.
 * Without blocks, each execution is a step, after a preemption with its probability.
 */
export function pleGrowthExits(
  sources: readonly SpinSource[],
  /** Executions per second per vCPU of all sources (those without spins too). */
  executionsPerSec: number,
  baseWindow: number,
  host: HostIR,
  poll: PollChain,
  blocksPerSec: number,
  preemptsPerSec: number,
): number[] {
  const grow = host.pleWindowGrow.value;
  const shrink = host.pleWindowShrink.value;
  const max = host.pleWindowMax.value;
  const flat = sources.flatMap((src) => src.sites);
  const fixed = (c: number) => Math.floor(c / Math.max(1, baseWindow));
  if (grow < 1 || baseWindow <= 0) return flat.map((s) => fixed(s.cycles));
  if (!(executionsPerSec > 0) || flat.length === 0) return flat.map(() => 0);
  const windows: number[] = [baseWindow];
  const index = (w: number): number => {
    for (let i = 0; i < windows.length; i++) if (windows[i] === w) return i;
    if (windows.length >= 63) return windows.length - 1;
    windows.push(w);
    return windows.length - 1;
  };
  // One spin of `cycles` from window state k: [exits, state after]. Memoised: the chain asks
  // the same (state, spin) pair on every step.
  const spins = new Map<number, Map<number, [number, number]>>();
  const spin = (k: number, cycles: number): [number, number] => {
    let byCycles = spins.get(k);
    if (byCycles === undefined) {
      byCycles = new Map();
      spins.set(k, byCycles);
    }
    let known = byCycles.get(cycles);
    if (known === undefined) {
      known = spinFrom(k, cycles);
      byCycles.set(cycles, known);
    }
    return known;
  };
  const spinFrom = (k: number, cycles: number): [number, number] => {
    let w = windows[k]!;
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
  const shrunk = (k: number) => index(shrinkPleWindow(windows[k]!, baseWindow, shrink, baseWindow));
  type Dist = Map<number, number>;
  const add = (m: Dist, key: number, p: number) => {
    if (p > 0) m.set(key, (m.get(key) ?? 0) + p);
  };
  const exitsAcc = flat.map(() => 0);
  const spinsAcc = flat.map(() => 0);
  // One execution (a source drawn by rate, its sites in order) on a distribution over k.
  const execute = (d: Dist, count: boolean): Dist => {
    const out: Dist = new Map();
    let other = 1;
    let offset = 0;
    for (const src of sources) {
      const share = src.rate / executionsPerSec;
      other -= share;
      let cur: Dist = new Map();
      for (const [k, p] of d) add(cur, k, p * share);
      src.sites.forEach((site, j) => {
        const idx = offset + j;
        const whole = Math.floor(site.executions);
        const frac = site.executions - whole;
        for (let r = 0; r <= whole; r++) {
          const q = r < whole ? 1 : frac;
          if (q <= 0) continue;
          const next: Dist = new Map();
          for (const [k, p] of cur) {
            const [e, to] = spin(k, site.cycles);
            if (count) {
              exitsAcc[idx]! += p * q * e;
              spinsAcc[idx]! += p * q;
            }
            add(next, to, p * q);
            add(next, k, p * (1 - q));
          }
          cur = next;
        }
      });
      offset += src.sites.length;
      for (const [k, p] of cur) add(out, k, p);
    }
    for (const [k, p] of d) add(out, k, p * Math.max(0, other));
    return out;
  };
  const W = 64;
  const blocks = blocksPerSec > 0;
  const mu = blocks ? Math.max(0, executionsPerSec / blocksPerSec - 1) : 0;
  const pPreempt = blocks
    ? 1 - Math.exp(-preemptsPerSec / blocksPerSec)
    : preemptsPerSec / (preemptsPerSec + executionsPerSec);
  // Poisson(μ) weights for the executions after the first in a busy period.
  const poissonWeights: number[] = [];
  /** P(extra ≥ n): the weight still running before the n-th extra execution. */
  const poissonTail: number[] = [];
  for (let n = 0, p = Math.exp(-mu), cum = 0; n < 64 && cum < 1 - 1e-9; n++) {
    poissonWeights.push(p);
    poissonTail.push(1 - cum);
    cum += p;
    p *= mu / (n + 1);
  }
  // One step of the joint chain (a block, then its busy period); `count` accumulates the exits.
  const step = (dist: Dist, count: boolean): Dist => {
    // Sched-ins: the block (when it sleeps) and host preemptions shrink the window.
    const afterBlock: Dist = new Map();
    for (const [key, p] of dist) {
      const i = Math.floor(key / W);
      const k = key % W;
      const moves = blocks ? poll.next[Math.min(i, poll.next.length - 1)]! : [{ to: i, p: 1, sleeps: false }];
      for (const t of moves) {
        const k1 = t.sleeps ? shrunk(k) : k;
        add(afterBlock, t.to * W + shrunk(k1), p * t.p * pPreempt);
        add(afterBlock, t.to * W + k1, p * t.p * (1 - pPreempt));
      }
    }
    // The busy period's executions, per poll state (executions leave the poll state alone).
    const next: Dist = new Map();
    const byPoll = new Map<number, Dist>();
    for (const [key, p] of afterBlock) {
      const i = Math.floor(key / W);
      if (!byPoll.has(i)) byPoll.set(i, new Map());
      add(byPoll.get(i)!, key % W, p);
    }
    for (const [i, d0] of byPoll) {
      let d = execute(d0, count);
      if (blocks)
        for (let n = 0; n < poissonWeights.length; n++) {
          // Mix: with weight P(extra = n) stop here; the rest runs one more execution.
          const stop = poissonWeights[n]!;
          const remaining = poissonTail[n]!;
          if (remaining <= 1e-12) break;
          const keep = stop / remaining;
          for (const [k, p] of d) add(next, i * W + k, p * keep);
          const rest: Dist = new Map();
          for (const [k, p] of d) add(rest, k, p * (1 - keep));
          if (rest.size === 0) break;
          d = execute(rest, count);
        }
      else for (const [k, p] of d) add(next, i * W + k, p);
    }
    return next;
  };
  // The chain is linear in its distribution and has few states (window × poll states): its
  // stationary distribution is solved directly (πT = π, Σπ = 1) from T's rows, one step of each
  // state; the exits per spin are those of one counted step from it. Power iteration converges
  // too slowly here (~2 % a step). Without a unique solution, 400 steps and 200 counted ones.
  const stationary = stationaryOf(step);
  if (stationary !== undefined) step(stationary, true);
  else {
    let dist: Dist = new Map([[0, 1]]);
    for (let iter = 0; iter < 400; iter++) dist = step(dist, false);
    for (let iter = 0; iter < 200; iter++) dist = step(dist, true);
  }
  return flat.map((_, j) => (spinsAcc[j]! > 0 ? exitsAcc[j]! / spinsAcc[j]! : 0));
}

/**
 * The stationary distribution of the linear chain `step` reaches from state 0, or undefined when
 * it is not unique (a singular system) or the chain has more than 512 states.
 */
function stationaryOf(step: (d: Map<number, number>, count: boolean) => Map<number, number>) {
  const order: number[] = [0];
  const indexOf = new Map<number, number>([[0, 0]]);
  const rows: Map<number, number>[] = [];
  for (let i = 0; i < order.length; i++) {
    if (order.length > 512) return undefined;
    const row = step(new Map([[order[i]!, 1]]), false);
    rows.push(row);
    for (const key of row.keys())
      if (!indexOf.has(key)) {
        indexOf.set(key, order.length);
        order.push(key);
      }
  }
  const n = order.length;
  // (Tᵀ − I) π = 0 with the last equation replaced by Σπ = 1; Gaussian elimination.
  const a = Array.from({ length: n }, () => new Float64Array(n + 1));
  for (let i = 0; i < n; i++) {
    for (const [key, p] of rows[i]!) a[indexOf.get(key)!]![i]! += p;
    a[i]![i]! -= 1;
  }
  a[n - 1]!.fill(1);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    if (Math.abs(a[pivot]![col]!) < 1e-12) return undefined;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    const rowC = a[col]!;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const rowR = a[r]!;
      const f = rowR[col]! / rowC[col]!;
      if (f !== 0) for (let c = col; c <= n; c++) rowR[c]! -= f * rowC[c]!;
    }
  }
  const pi = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const p = a[i]![n]! / a[i]![i]!;
    if (p < -1e-9) return undefined;
    if (p > 0) pi.set(order[i]!, p);
  }
  return pi;
}
