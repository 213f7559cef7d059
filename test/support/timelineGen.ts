/**
 * Synthetic timelines for tests and the rendering benchmark: fills the {@link Timeline} typed
 * arrays the way the simulator does (per vCPU: guest → exit transition → handler → optional user
 * space → guest; HLT exits block in Halted until the next interrupt; injections as markers),
 * globally ordered by start time. The numbers are plausible shapes, not hardware measurements:
 * the panel's rendering and hit testing only need realistic structure and volume.
 */
import { type Timeline, VcpuState } from "../../core/src/sim/timeline";

export interface GeneratedReason {
  name: string;
  code: number;
  /** Relative frequency. */
  weight: number;
  /** Mean handler time in ns. */
  handlerNs: number;
  /** Probability the exit goes to the user-space VMM. */
  userspaceShare?: number;
  userspaceNs?: number;
  /** HLT-like: the vCPU halts after the handler. */
  halts?: boolean;
  /** External-interrupt-like: an injection marker at the following VM entry. */
  injects?: number;
}

export interface GeneratorOptions {
  vcpus: number;
  /** Total exits over all vCPUs. */
  exits: number;
  durationNs: number;
  hz?: number;
  seed?: number;
  reasons?: GeneratedReason[];
}

/** Basic exit reasons (SDM Vol. 3C Appendix C) used by the default mix. */
export const DEFAULT_REASONS: GeneratedReason[] = [
  { name: "EXTERNAL_INTERRUPT", code: 1, weight: 30, handlerNs: 180, injects: 0x41 },
  { name: "EPT_MISCONFIG", code: 49, weight: 25, handlerNs: 900, userspaceShare: 0.9, userspaceNs: 6000 },
  { name: "MSR_WRITE", code: 32, weight: 25, handlerNs: 150 },
  { name: "IO_INSTRUCTION", code: 30, weight: 10, handlerNs: 400, userspaceShare: 0.5, userspaceNs: 4000 },
  { name: "HLT", code: 12, weight: 10, handlerNs: 120, halts: true },
];

/** mulberry32: small, fast, seedable; good enough for test data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateTimeline(options: GeneratorOptions): Timeline {
  const { vcpus, exits, durationNs } = options;
  const hz = options.hz ?? 2.1e9;
  const reasons = options.reasons ?? DEFAULT_REASONS;
  const random = rng(options.seed ?? 1);
  const totalWeight = reasons.reduce((sum, r) => sum + r.weight, 0);
  let accumulated = 0;
  const cumulative = reasons.map((r) => (accumulated += r.weight / totalWeight));
  const pickReason = (): GeneratedReason => {
    const u = random();
    for (let i = 0; i < cumulative.length; i++) if (u < cumulative[i]!) return reasons[i]!;
    return reasons[reasons.length - 1]!;
  };
  const exitsPerVcpu = Math.max(1, Math.ceil(exits / vcpus));
  // Mean time between exits so the run ends near durationNs (it runs until every exit is
  // generated, so the actual duration is whatever that takes).
  const meanCycleNs = durationNs / exitsPerVcpu;
  const transitionNs = (1200 / hz) * 1e9; // ~1200 cycles round trip: an estimate, not measured
  const meanExitNs =
    transitionNs +
    reasons.reduce(
      (sum, r) =>
        sum +
        (r.weight / totalWeight) *
          (r.handlerNs + (r.userspaceShare ?? 0) * (r.userspaceNs ?? 0) + (r.halts ? meanCycleNs * 0.2 : 0)),
      0,
    );
  const meanGuestNs = Math.max(meanCycleNs - meanExitNs, meanCycleNs * 0.1);

  // Upper bound on intervals: guest + exit + handler + userspace + handler-return + halted.
  const capacity = exitsPerVcpu * vcpus * 5 + vcpus;
  const start = new Float64Array(capacity);
  const duration = new Float64Array(capacity);
  const vcpu = new Uint16Array(capacity);
  const state = new Uint8Array(capacity);
  const reason = new Int16Array(capacity);
  const source = new Int32Array(capacity);
  const markerCap = exitsPerVcpu * vcpus + 1;
  const markerTime = new Float64Array(markerCap);
  const markerVcpu = new Uint16Array(markerCap);
  const markerKind = new Uint8Array(markerCap);
  const markerVector = new Int16Array(markerCap);
  let count = 0;
  let markers = 0;

  const sources = reasons.map((r, i) => ({
    label: `handler ${r.name}`,
    line: 10 + i,
    character: 8,
    start: 100 + i * 40,
    end: 100 + i * 40 + r.name.length,
  }));
  const guestSource = sources.length;
  sources.push({ label: "path send: mmio write 0xfebf_0018", line: 3, character: 4, start: 40, end: 64 });

  const push = (t: number, d: number, v: number, s: VcpuState, r: number, src: number): void => {
    start[count] = t;
    duration[count] = d;
    vcpu[count] = v;
    state[count] = s;
    reason[count] = r;
    source[count] = src;
    count++;
  };
  const exponential = (mean: number): number => -Math.log(1 - random()) * mean;

  // Generate lane by lane into one buffer, then order globally by start (as an event-driven
  // simulator emits them) with a k-way merge.
  const laneStarts: number[] = [];
  const laneEnds: number[] = [];
  for (let v = 0; v < vcpus; v++) {
    laneStarts.push(count);
    let t = 0;
    for (let e = 0; e < exitsPerVcpu; e++) {
      const r = pickReason();
      const guestNs = Math.max(1, exponential(meanGuestNs));
      push(t, guestNs, v, VcpuState.Guest, -1, guestSource);
      t += guestNs;
      const handlerNs = Math.max(10, exponential(r.handlerNs));
      push(t, transitionNs / 2, v, VcpuState.Exit, r.code, -1);
      t += transitionNs / 2;
      const reasonIndex = reasons.indexOf(r);
      push(t, handlerNs, v, VcpuState.Handler, r.code, reasonIndex);
      t += handlerNs;
      if (r.userspaceShare && random() < r.userspaceShare) {
        const userNs = Math.max(100, exponential(r.userspaceNs ?? 5000));
        push(t, userNs, v, VcpuState.Userspace, r.code, reasonIndex);
        t += userNs;
      }
      if (r.halts) {
        const haltNs = exponential(meanCycleNs * 0.2);
        push(t, haltNs, v, VcpuState.Halted, -1, -1);
        t += haltNs;
      }
      push(t, transitionNs / 2, v, VcpuState.Exit, r.code, -1);
      t += transitionNs / 2;
      if (r.injects !== undefined) {
        markerTime[markers] = t;
        markerVcpu[markers] = v;
        markerKind[markers] = 0;
        markerVector[markers] = r.injects;
        markers++;
      }
    }
    laneEnds.push(t);
  }
  laneStarts.push(count);
  // The run lasts until the last vCPU's last exit (close to the requested duration).
  const endNs = Math.max(...laneEnds);

  const order = mergeByStart(start, laneStarts);
  const permute = <T extends Float64Array | Uint16Array | Uint8Array | Int16Array | Int32Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(count);
    for (let i = 0; i < count; i++) out[i] = a[order[i]!]!;
    return out;
  };
  const markerOrder = Array.from({ length: markers }, (_, i) => i).sort(
    (a, b) => markerTime[a]! - markerTime[b]!,
  );
  const permuteMarkers = <T extends Float64Array | Uint16Array | Uint8Array | Int16Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(markers);
    for (let i = 0; i < markers; i++) out[i] = a[markerOrder[i]!]!;
    return out;
  };
  return {
    vcpus,
    hz,
    durationNs: endNs,
    count,
    start: permute(start),
    duration: permute(duration),
    vcpu: permute(vcpu),
    state: permute(state),
    reason: permute(reason),
    source: permute(source),
    sources,
    markers: {
      count: markers,
      time: permuteMarkers(markerTime),
      vcpu: permuteMarkers(markerVcpu),
      kind: permuteMarkers(markerKind),
      vector: permuteMarkers(markerVector),
    },
    decimated: false,
  };
}

function mergeByStart(start: Float64Array, laneStarts: number[]): Int32Array {
  const lanes = laneStarts.length - 1;
  const cursor = laneStarts.slice(0, lanes);
  const total = laneStarts[lanes]!;
  const order = new Int32Array(total);
  for (let out = 0; out < total; out++) {
    let best = -1;
    let bestStart = Number.POSITIVE_INFINITY;
    for (let lane = 0; lane < lanes; lane++) {
      const i = cursor[lane]!;
      if (i < laneStarts[lane + 1]! && start[i]! < bestStart) {
        bestStart = start[i]!;
        best = lane;
      }
    }
    order[out] = cursor[best]!;
    cursor[best]!++;
  }
  return order;
}

/** Basic exit-reason names of the default mix, by code. */
export function reasonNames(reasons: GeneratedReason[] = DEFAULT_REASONS): Map<number, string> {
  return new Map(reasons.map((r) => [r.code, r.name]));
}
