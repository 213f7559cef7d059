/**
 * Every simulation ends within its budgets and says so (issue 15): pure-compute loops folded in
 * closed form, loops with exits or branches counted against a step budget and sliced as events,
 * repeat nesting to the language's 64 levels, deep fn chains, absurd rates through the API.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { estimateGuest } from "../core/src/analysis/estimate";
import { analyze } from "../core/src/index";
import { SimulationError, simulate, simulateAsync } from "../core/src/sim/index";
import { cleanProgram } from "./support/cleanProgram";

const HEAD = `
target skylake_server @ 2GHz
vmcs v {
  pin   external_interrupt_exiting
  proc  hlt_exiting use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept
  ept { 0x0 .. 0x3_ffff_ffff rwx }
}
handler CPUID { work 100 advance_rip }
handler EXTERNAL_INTERRUPT { work 350 }
handler HLT { halt }
`;

const program = cleanProgram;

function nested(levels: number, count: number, body: string): string {
  return `${"repeat ".concat(String(count), " { ").repeat(levels)}${body}${" }".repeat(levels)}`;
}

describe("bounded simulations", () => {
  it("folds a loop of computes only: issue 15's 10^12-iteration file ends at once with the time it asks for", () => {
    const text = `
target skylake_server
vmcs kvm { proc hlt_exiting use_io_bitmaps activate_secondary_controls
 proc2 enable_ept
 io trap 0x3f8
 ept { 0xfebf_0000 .. 0xfebf_ffff misconfig } }
handler IO_INSTRUCTION { work 100 }
guest g on kvm { vcpus 64 path p rate 1k/s { repeat 1000000 { repeat 1000000 { repeat 2 { compute 1 } } } } }`;
    const a = analyze(text);
    const t0 = Date.now();
    const r = simulate(a.program, "g", { durationSec: 0.1, timelineIntervals: 0 });
    assert.ok(Date.now() - t0 < 5000, "ends in bounded time");
    assert.equal(r.stopped, undefined);
    // 2·10^12 cycles per execution: every vCPU that got an arrival is busy to the end.
    const busy = r.paths[0].arrivals > 0 ? r.time.guest : 0;
    assert.ok(busy > 0.05 * 64 * 0.1, `guest time ${busy}`);
    assert.equal(r.paths[0].executions, 0);
  });

  it("runs all 9 (and 64) nested repeat levels: exits as the estimator counts them", () => {
    const text9 = `${HEAD}guest g on v { path p rate 1k/s { ${nested(9, 2, "compute 1 cpuid")} } }`;
    const a = program(text9);
    const r = simulate(a.program, "g", { durationSec: 1, timelineIntervals: 0 });
    const cpuid = r.byReason.find((x) => x.reason === "CPUID")?.exitsPerSecond ?? 0;
    const est = estimateGuest(a.program, "g");
    const expected = est.byReason.find((x) => x.reason === "CPUID")?.exitsPerSecond ?? 0;
    assert.ok(expected > 500_000, `estimate ${expected}`);
    const err = Math.abs(cpuid - expected) / expected;
    assert.ok(err < 0.1, `simulated ${cpuid}/s vs estimated ${expected}/s`);
    // 60 levels of `repeat 1` (the language caps blocks at 64 deep, guest and path included) around one CPUID: one exit each.
    const text64 = `${HEAD}guest g on v { path p rate 1k/s { ${nested(60, 1, "cpuid")} } }`;
    const b = program(text64);
    const r64 = simulate(b.program, "g", { durationSec: 0.1, timelineIntervals: 0 });
    assert.equal(r64.byReason.find((x) => x.reason === "CPUID")?.exits, r64.paths[0].executions);
    assert.ok(r64.paths[0].executions > 50);
  });

  it("a loop with branches and no exits stops at the step budget, and the result says so (sync = async)", async () => {
    const text = `${HEAD}guest g on v { path p every 1ms { repeat 1000000 { repeat 1000000 { branch { 50% a: compute 1 } } } } }`;
    const a = program(text);
    const options = { durationSec: 1, maxSteps: 2_000_000, timelineIntervals: 1000 };
    const t0 = Date.now();
    const r = simulate(a.program, "g", options);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(r.stopped?.budget, "steps");
    assert.equal(r.stopped?.limit, 2_000_000);
    assert.equal(r.stopped?.requestedSec, 1);
    assert.ok(r.duration < 1 && r.duration === r.stopped?.atSec, `duration ${r.duration}`);
    assert.ok(r.warnings.some((w) => /step budget/.test(w)));
    const sliced = await simulateAsync(a.program, "g", options);
    assert.deepEqual({ ...sliced, timeline: undefined }, { ...r, timeline: undefined });
    // Without a budget in the way it runs to its end, the loop sliced into events.
    const whole = simulate(a.program, "g", { durationSec: 0.004, timelineIntervals: 0 });
    assert.equal(whole.stopped, undefined);
    assert.ok(whole.counters.events > 10);
  });

  it("a run that reaches the event budget stops with its statistics instead of failing", () => {
    const text = `${HEAD}guest g on v { path p rate 100k/s { cpuid } }`;
    const a = program(text);
    const r = simulate(a.program, "g", { durationSec: 0.01, maxEvents: 1500, timelineIntervals: 0 });
    assert.equal(r.stopped?.budget, "events");
    assert.ok(r.duration > 0 && r.duration < 0.01);
    assert.ok(r.counters.events >= 1500 && r.counters.events < 1500 + 10_000);
    assert.ok(r.exits > 0 && Number.isFinite(r.exitsPerSecond));
  });

  it("walks fn chains a thousand deep and diamond call graphs in linear work", () => {
    // The plan's walk is iterative at any depth; analysis/cost.ts's handlerCost, which the plan
    // scales to, still recurses per call (about 2000 levels overflow it).
    const chain: string[] = [];
    for (let i = 0; i < 1000; i++) chain.push(`fn f${i} { call f${i + 1} }`);
    chain.push("fn f1000 { work 7 halt }");
    const deep = `${chain.join("\n")}\n${HEAD.replace("handler HLT { halt }", "handler HLT { call f0 }")}guest g on v { path p rate 1k/s { compute 1us } }`;
    const a = analyze(deep);
    const r = simulate(a.program, "g", { durationSec: 0.01, timelineIntervals: 0 });
    // The halt 1000 calls down is found: the idle vCPU blocks.
    assert.ok(r.time.halted > 0.005, `halted ${r.time.halted}`);
    const diamond: string[] = [];
    for (let i = 0; i < 40; i++) diamond.push(`fn d${i} { call d${i + 1} call d${i + 1} }`);
    diamond.push("fn d40 { work 1 }");
    const b = analyze(
      `${diamond.join("\n")}\n${HEAD.replace("handler CPUID { work 100 advance_rip }", "handler CPUID { branch { 50% d: call d30 } advance_rip }")}guest g on v { path p rate 1k/s { cpuid } }`,
    );
    const t0 = Date.now();
    const rb = simulate(b.program, "g", { durationSec: 0.01, timelineIntervals: 0 });
    assert.ok(Date.now() - t0 < 5000);
    assert.ok(rb.exits > 0);
  });

  it("refuses absurd rates and options through the API with an input error", () => {
    const base = `${HEAD}guest g on v { path p rate 1k/s { cpuid } irq net vector 0x40 rate 1k/s { compute 1us } }`;
    for (const arrival of [
      { kind: "poisson" as const, ratePerSec: Number.POSITIVE_INFINITY },
      { kind: "poisson" as const, ratePerSec: Number.NaN },
      { kind: "poisson" as const, ratePerSec: -5 },
      { kind: "periodic" as const, periodSec: Number.NaN },
    ]) {
      const a = program(base);
      a.program.guests.get("g")!.sources[1]!.arrival = arrival;
      assert.throws(
        () => simulate(a.program, "g", { durationSec: 0.01 }),
        (e: unknown) => e instanceof SimulationError && e.kind === "input" && /finite/.test(e.message),
      );
    }
    const a = program(base);
    a.program.guests.get("g")!.sources[1]!.arrival = { kind: "poisson", ratePerSec: 1e300 };
    assert.throws(
      () => simulate(a.program, "g", { durationSec: 0.01 }),
      (e: unknown) => e instanceof SimulationError && e.kind === "budget",
    );
    const b = program(base);
    assert.throws(
      () =>
        simulate(b.program, "g", { durationSec: 1, hostPreemption: { ratePerSec: 1e12, durationSec: 1e-6 } }),
      (e: unknown) => e instanceof SimulationError && e.kind === "budget",
    );
    assert.throws(
      () => simulate(b.program, "g", { durationSec: 1, haltPollNs: Number.NaN }),
      (e: unknown) => e instanceof SimulationError && e.kind === "input",
    );
    assert.throws(
      () => simulate(b.program, "g", { durationSec: 1, timelineIntervals: 1e12 }),
      (e: unknown) => e instanceof SimulationError && e.kind === "input",
    );
  });
});
