/**
 * Per-path figures (issue 12): exits and host cycles per execution, the latency an execution's
 * exits add (mean, p50, p99) and a coalesce site's wait, in the estimate (by hand) and against
 * the simulator; rates written `per vcpu` or `per guest`, and the wording of a rate's unit.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { estimateJson, estimateText } from "../cli/src/estimate";
import { coalesceModel } from "../core/src/analysis/coalesceModel";
import { coalesceWait } from "../core/src/analysis/pathLatency";
import type { PathEstimate } from "../core/src/analysis/types";
import { analyze } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import type { SimPathStats } from "../core/src/sim/types";
import { formatRateScope } from "../core/src/util/format";
import { cleanProgram } from "./support/cleanProgram";

// A deterministic transition (no jitter, no tail): each exit costs round_trip + its handler.
const FLAT = `
target skylake_server @ 2GHz {
  cost round_trip = 1000
  cost transition_jitter = 0
  cost transition_tail = 0
  cost transition_tail_migrating = 0
}
vmcs v {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tsc_offsetting use_tpr_shadow use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest
  exit  host_address_space_size acknowledge_interrupt_on_exit save_debug_controls
  entry ia32e_mode_guest load_debug_controls
  msr trap write IA32_TSC_DEADLINE, X2APIC_EOI
  field VIRTUAL_PROCESSOR_ID = 1
  ept { 0x0 .. 0x3_ffff_ffff rwx }
}
handler CPUID { work 1000 }
handler MSR_WRITE { work 3000 }
handler EXTERNAL_INTERRUPT { work 350 }
handler HLT { halt }
`;

// The repository's usual shape: drawn transitions (normal body, 5 % tail).
const DRAWN = `
target skylake_server @ 2GHz
vmcs v {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tsc_offsetting use_tpr_shadow use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest
  exit  host_address_space_size acknowledge_interrupt_on_exit save_debug_controls
  entry ia32e_mode_guest load_debug_controls
  msr trap write IA32_TSC_DEADLINE, X2APIC_EOI
  field VIRTUAL_PROCESSOR_ID = 1
  ept { 0x0 .. 0x3_ffff_ffff rwx }
}
handler CPUID { work 200 advance_rip }
handler MSR_WRITE {
  branch {
    90% fast: work 300
    10% slow: userspace 2000
  }
}
handler EXTERNAL_INTERRUPT { work 350 }
handler HLT { halt }
`;

function pathOf(paths: PathEstimate[], name: string): PathEstimate {
  const p = paths.find((x) => x.name === name);
  assert.ok(p, `no path ${name}`);
  return p;
}

function simPathOf(paths: SimPathStats[], name: string): SimPathStats {
  const p = paths.find((x) => x.name === name);
  assert.ok(p, `no simulated path ${name}`);
  return p;
}

function within(actual: number, expected: number, tolerance: number, what: string): void {
  const err = Math.abs(actual - expected) / Math.max(1e-12, Math.abs(expected));
  assert.ok(
    err <= tolerance,
    `${what}: ${actual} vs ${expected} (${(err * 100).toFixed(2)}% > ${tolerance * 100}%)`,
  );
}

describe("per-path figures in the estimate, by hand", () => {
  it("exits, host cycles and latency per execution of straight, repeated and branching paths", () => {
    const a = cleanProgram(`${FLAT}
guest g on v {
  vcpus 2
  path one rate 10k/s { compute 1000  cpuid }
  path three rate 10k/s { repeat 3 { cpuid } }
  path some rate 10k/s { cpuid  branch {
    10% msr: wrmsr IA32_TSC_DEADLINE
  } }
  idle poll
}`);
    const paths = a.estimates.get("g")!.paths;
    // CPUID: round trip 1,000 + work 1,000 = 2,000 cycles = 1 µs at 2 GHz.
    const one = pathOf(paths, "one");
    assert.equal(one.exitsPerExecution, 1);
    assert.equal(one.exitCyclesPerExecution, 2000);
    assert.deepEqual(one.latency, { mean: 1e-6, p50: 1e-6, p99: 1e-6 });
    assert.equal(one.guestExecutionsPerSecond, 20_000);
    const three = pathOf(paths, "three");
    assert.equal(three.exitsPerExecution, 3);
    assert.equal(three.exitCyclesPerExecution, 6000);
    assert.deepEqual(three.latency, { mean: 3e-6, p50: 3e-6, p99: 3e-6 });
    // 90 %: one CPUID (2,000); 10 %: + an MSR_WRITE (1,000 + 3,000) = 6,000 cycles.
    const some = pathOf(paths, "some");
    within(some.exitsPerExecution, 1.1, 1e-12, "exits");
    within(some.exitCyclesPerExecution, 2000 + 0.1 * 4000, 1e-12, "host cycles");
    within(some.latency!.mean, 2400 / 2e9, 1e-9, "mean");
    within(some.latency!.p50, 2000 / 2e9, 1e-9, "p50");
    within(some.latency!.p99, 6000 / 2e9, 1e-9, "p99");
  });

  it("coalesce: the wait until the flush, Poisson (N = 2) and periodic, by hand", () => {
    // N = 2, λ = 100k/s, T = 5 µs (λT = 0.5): the first execution waits min(Exp(λ), T), the
    // second (there with 1 − e^−λT) none: E[W] = ((1 − e^−0.5)/λ) / E[B], E[B] = 2 − e^−0.5.
    const arrival = { kind: "poisson" as const, ratePerSec: 100e3 };
    const model = coalesceModel(2, 5e-6, arrival);
    const w = coalesceWait(2, 5e-6, model, arrival);
    within(w.batchSize, 2 - Math.exp(-0.5), 1e-9, "E[B]");
    within(w.wait.mean, (1 - Math.exp(-0.5)) / 100e3 / (2 - Math.exp(-0.5)), 1e-4, "mean wait");
    assert.equal(w.wait.max, 5e-6);
    // P(W > w) = e^(−λw)/E[B] for w < T: the median solves e^(−λw) = E[B]/2.
    within(w.wait.p50, -Math.log((2 - Math.exp(-0.5)) / 2) / 100e3, 1e-6, "p50 wait");
    // p99 is the atom at T (the first execution of a batch the timeout closes: e^−0.5/E[B] = 43.5 %).
    assert.equal(w.wait.p99, 5e-6);
    // Every 10 µs, `coalesce 4 or 25us`: ⌈25/10⌉ = 3 executions, closed by the timeout at 25 µs
    // after the first: waits 25, 15, 5 µs.
    const periodic = { kind: "periodic" as const, periodSec: 10e-6 };
    const p = coalesceWait(4, 25e-6, coalesceModel(4, 25e-6, periodic), periodic);
    assert.equal(p.batchSize, 3);
    within(p.wait.mean, 15e-6, 1e-9, "periodic mean");
    within(p.wait.max, 25e-6, 1e-9, "periodic max");
    within(p.wait.p50, 15e-6, 1e-9, "periodic p50");
  });
});

describe("per-path figures: estimate against simulation", () => {
  it("agree within 3 % (means) and 5 % (p99) on stationary loads", () => {
    const a = cleanProgram(`${DRAWN}
guest g on v {
  vcpus 2
  path req rate 20k/s { compute 2us  cpuid  compute 1us  branch {
    30% msr: wrmsr IA32_TSC_DEADLINE
  }
   repeat 2 { cpuid } }
  path note rate 50k/s { compute 1us  coalesce 4 or 50us { wrmsr IA32_TSC_DEADLINE } }
  irq nic vector 0x41 rate 20k/s { compute 1us  cpuid }
  idle poll
}`);
    // nic at 20k/s: 40k executions put about 400 samples past its p99 (at 5k/s seeds 3 and 4 were
    // 5–8 % off, the sampling noise of 100 tail samples, not a bias: the means agree within 0.5 %).
    const est = a.estimates.get("g")!;
    const sim = simulate(a.program, "g", { durationSec: 1, seed: 3, timelineIntervals: 0 });
    for (const name of ["req", "note", "nic"]) {
      const e = pathOf(est.paths, name);
      const s = simPathOf(sim.paths, name);
      within(s.exitsPerExecution, e.exitsPerExecution, 0.03, `${name} exits per execution`);
      within(s.exitCyclesPerExecution, e.exitCyclesPerExecution, 0.03, `${name} host cycles per execution`);
      if (e.latency!.mean > 0) within(s.latency.mean, e.latency!.mean, 0.03, `${name} latency mean`);
      if (e.latency!.p99 > 0) within(s.latency.p99, e.latency!.p99, 0.05, `${name} latency p99`);
    }
    // req: p50 is CPUID×3 with one MSR write in 30 % of executions — a mixture the estimate reads
    // from the branch outcomes, so p50 and p99 differ.
    const req = pathOf(est.paths, "req");
    assert.ok(req.latency!.p99 > req.latency!.p50 * 1.2, JSON.stringify(req.latency));
    within(simPathOf(sim.paths, "req").latency.p50, req.latency!.p50, 0.05, "req p50");
    // The coalesce site: notifications per execution and the wait.
    const c = pathOf(est.paths, "note").coalesce![0]!;
    const sc = simPathOf(sim.paths, "note").coalesce![0]!;
    within(sc.flushesPerExecution, c.flushesPerExecution, 0.03, "flushes per execution");
    within(sc.batchSize, c.batchSize, 0.03, "batch size");
    within(sc.wait.mean, c.wait.mean, 0.03, "wait mean");
    within(sc.wait.p50, c.wait.p50, 0.05, "wait p50");
    within(sc.wait.p99, c.wait.p99, 0.05, "wait p99");
  });

  it("examples/e1000-vs-virtio: the trade-off per packet, in both", () => {
    const a = analyze(readFileSync(new URL("../examples/e1000-vs-virtio.vmcs", import.meta.url), "utf8"));
    const e1000 = pathOf(a.estimates.get("e1000")!.paths, "send");
    const virtio = pathOf(a.estimates.get("virtio")!.paths, "send");
    // e1000: one trapped MMIO write to QEMU per packet; virtio: a kick per ~7.8 packets, in the kernel.
    assert.equal(e1000.exitsPerExecution, 1);
    assert.ok(virtio.exitsPerExecution < 0.15, `${virtio.exitsPerExecution}`);
    assert.ok(virtio.exitCyclesPerExecution * 40 < e1000.exitCyclesPerExecution);
    // … but a packet waits for its batch's kick: tens of µs, up to the 200 µs bound.
    const wait = virtio.coalesce![0]!.wait;
    assert.ok(wait.mean > 50e-6 && wait.mean < 100e-6, `${wait.mean}`);
    assert.equal(wait.max, 200e-6);
    for (const guest of ["e1000", "virtio"]) {
      const est = pathOf(a.estimates.get(guest)!.paths, "send");
      const sim = simPathOf(
        simulate(a.program, guest, { durationSec: 0.5, seed: 11, timelineIntervals: 0 }).paths,
        "send",
      );
      within(sim.exitsPerExecution, est.exitsPerExecution, 0.03, `${guest} exits per packet`);
      within(sim.exitCyclesPerExecution, est.exitCyclesPerExecution, 0.03, `${guest} host cycles per packet`);
      within(sim.latency.mean, est.latency!.mean, 0.03, `${guest} latency mean`);
    }
  });
});

describe("rates per vCPU or per guest", () => {
  const rates = (per: string) =>
    cleanProgram(`${DRAWN}
guest g on v {
  vcpus 4
  path p ${per} { compute 1us  cpuid }
  irq nic vector 0x41 ${per.replace("100k/s", "20k/s").replace("400k/s", "80k/s")} { eoi }
  idle halt
}`);

  it("`rate 400k/s per guest` on 4 vCPUs is `rate 100k/s` (and `per vcpu`), in the estimate and the simulation", () => {
    const base = rates("rate 100k/s");
    const perVcpu = rates("rate 100k/s per vcpu");
    const perGuest = rates("rate 400k/s per guest");
    const figures = (x: ReturnType<typeof rates>) => {
      const j = estimateJson(x.estimates.get("g")!) as { paths: Record<string, unknown>[] };
      return { ...j, paths: j.paths.map(({ ratePer: _, ...rest }) => rest) };
    };
    assert.deepEqual(figures(perVcpu), figures(base));
    assert.deepEqual(figures(perGuest), figures(base));
    assert.equal(pathOf(perGuest.estimates.get("g")!.paths, "p").ratePer, "guest");
    assert.equal(pathOf(perGuest.estimates.get("g")!.paths, "p").executionsPerSecond, 100e3);
    assert.equal(pathOf(perGuest.estimates.get("g")!.paths, "p").guestExecutionsPerSecond, 400e3);
    const run = (x: ReturnType<typeof rates>) =>
      simulate(x.program, "g", { durationSec: 0.02, seed: 2, timelineIntervals: 0 }).exits;
    assert.equal(run(perGuest), run(base));
  });

  it("`vcpus` after the source still divides a per-guest rate", () => {
    const a = cleanProgram(`${DRAWN}
guest g on v {
  path p rate 300k/s per guest { cpuid }
  vcpus 3
  idle poll
}`);
    assert.equal(pathOf(a.estimates.get("g")!.paths, "p").executionsPerSecond, 100e3);
  });

  it("bad scopes are diagnosed where they are written", () => {
    const a = analyze(`${DRAWN}
guest g on v {
  path p every 10us per guest { cpuid }
  path q rate 1k/s per host { cpuid }
  path r rate 1k/s per { cpuid }
}`);
    const messages = a.diagnostics.map(
      (d) => `${d.code} ${a.text.slice(d.span.start, d.span.end)}: ${d.message}`,
    );
    assert.ok(
      messages.some((m) => /^TL201 per: `per guest` applies to `rate R`/.test(m)),
      messages.join("\n"),
    );
    assert.ok(
      messages.some((m) => /^TL114 host: unknown rate scope/.test(m)),
      messages.join("\n"),
    );
    assert.ok(
      messages.some((m) => /^TL201 per: expected `vcpu` or `guest` after `per`/.test(m)),
      messages.join("\n"),
    );
  });

  it("the wording says per vCPU and for the guest", () => {
    assert.equal(formatRateScope(100e3, 4), "100k/s per vCPU (400k/s for the guest's 4 vCPUs)");
    assert.equal(formatRateScope(50e3, 1), "50k/s per vCPU (the guest's only vCPU)");
    const text = estimateText(rates("rate 400k/s per guest").estimates.get("g")!, "v");
    assert.match(
      text,
      /path p: rate 100k\/s per vCPU \(400k\/s for the guest's 4 vCPUs\); written `per guest`: 400k\/s over 4 vCPUs/,
    );
    assert.match(text, /added µs mean/);
  });
});
