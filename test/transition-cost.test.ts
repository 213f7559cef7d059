/**
 * The transition cost as a function of the VMCS and the target (analysis/transitionCost.ts):
 * each term appears exactly when its configuration asks for it, with the target's cost
 * parameter, overridable; and the simulator's drawn transitions have the estimator's mean, a
 * narrow body and a tail (docs/estimator.md "Transition cost", docs/simulator.md).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { estimateGuest } from "../core/src/analysis/estimate";
import { exitCost, TAIL_CAP, transitionCost } from "../core/src/analysis/transitionCost";
import { analyze } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import { EXIT } from "../core/src/vmx/exitReasons";
import { EPT_WITH_DOORBELL, kvmVmcs } from "./support/kvmVmcs";

interface Opts {
  target?: string;
  proc2?: string;
  exit?: string;
  entry?: string;
  extra?: string;
  handlers?: string;
}

function source(o: Opts = {}): string {
  return `target ${o.target ?? "skylake_server @ 2GHz"}
${kvmVmcs({ proc2: o.proc2, exit: o.exit, entry: o.entry, ept: EPT_WITH_DOORBELL, lines: o.extra ? [o.extra] : [] })}
${o.handlers ?? "handler CPUID { work 200 advance_rip }\nhandler EPT_MISCONFIG { decode work 500 }"}
guest g on v {
  vcpus 1
  pinned
  path p rate 20k/s { compute 10us  cpuid }
  idle poll
}
`;
}

function setup(o: Opts = {}) {
  const a = analyze(source(o));
  const errors = a.diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(
    errors.map((d) => `${d.code} ${d.message}`),
    [],
  );
  const vmcs = a.program.vmcs.get("v");
  assert.ok(vmcs);
  const c = a.program.target.costs;
  const body = (code: number) => transitionCost(a.program, vmcs, code).body;
  return { a, vmcs, c, body };
}

const close = (actual: number, expected: number, what = "") =>
  assert.ok(
    Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
    `${what} ${actual} vs ${expected}`,
  );

describe("transition cost terms", () => {
  it("a KVM-like vmcs costs the round trip; the mean adds the tail share", () => {
    const { a, vmcs, c, body } = setup();
    close(body(EXIT.CPUID), c.round_trip.cycles);
    const t = transitionCost(a.program, vmcs, EXIT.CPUID);
    close(t.mean, c.round_trip.cycles + 0.05 * c.transition_tail.cycles * (1 - Math.exp(-TAIL_CAP)));
    close(exitCost(a.program, vmcs, EXIT.CPUID).transition, t.mean);
  });

  it("MSR-store/load list entries add msr_list_entry each", () => {
    const base = setup().body(EXIT.CPUID);
    const { c, body } = setup({
      extra: `field VM_EXIT_MSR_STORE_COUNT = 2
  field VM_EXIT_MSR_STORE_ADDR = 0x10000
  field VM_EXIT_MSR_LOAD_COUNT = 1
  field VM_EXIT_MSR_LOAD_ADDR = 0x11000
  field VM_ENTRY_MSR_LOAD_COUNT = 3
  field VM_ENTRY_MSR_LOAD_ADDR = 0x12000`,
    });
    close(body(EXIT.CPUID) - base, 6 * c.msr_list_entry.cycles, "6 entries");
  });

  it("save/load controls count against the measured baseline (debug controls)", () => {
    const base = setup().body(EXIT.CPUID);
    const more = setup({
      exit: "save_debug_controls load_ia32_efer save_ia32_efer load_ia32_pat",
      entry: "load_debug_controls load_ia32_efer load_ia32_pat",
    });
    close(more.body(EXIT.CPUID) - base, 5 * more.c.save_load_register.cycles, "5 more registers");
  });

  it("without VPID every exit pays the TLB refill, scaled by the 2-D walk's references", () => {
    const icx = "icelake_server @ 2GHz"; // 5-level EPT from Ice Lake (profiles.ts)
    const base = setup({ target: icx }).body(EXIT.CPUID);
    const four = setup({ target: icx, proc2: "enable_ept unrestricted_guest" });
    close(four.body(EXIT.CPUID) - base, four.c.tlb_refill.cycles, "4-level EPT: 24 references");
    const five = setup({
      target: icx,
      proc2: "enable_ept unrestricted_guest",
      extra: "eptp memtype WB levels 5",
    });
    close(
      setup({ target: icx, extra: "eptp memtype WB levels 5" }).body(EXIT.CPUID),
      base,
      "VPID: no refill",
    );
    close(five.body(EXIT.CPUID) - base, (five.c.tlb_refill.cycles * 29) / 24, "5-level EPT: 29 references");
  });

  it("EPT violations and misconfigurations pay one ept_walk_level per EPT level", () => {
    const four = setup({ target: "icelake_server @ 2GHz" });
    const five = setup({ target: "icelake_server @ 2GHz", extra: "eptp memtype WB levels 5" });
    close(four.body(EXIT.EPT_MISCONFIG) - four.body(EXIT.CPUID), 4 * four.c.ept_walk_level.cycles);
    close(five.body(EXIT.EPT_MISCONFIG) - five.body(EXIT.CPUID), 5 * five.c.ept_walk_level.cycles);
  });

  it("mitigations: VERW and RSB stuffing on every exit, KVM's cond L1D flush after emulation or user space", () => {
    const base = setup();
    const m = setup({
      target: "skylake_server @ 2GHz {\n  mitigations verw rsb l1d_flush\n}",
      handlers: `handler CPUID { work 200 advance_rip }
handler EPT_MISCONFIG { branch { 25% a: userspace 1000  75% b: work 10 } }
handler EXTERNAL_INTERRUPT { work 350 }`,
    });
    const every = m.c.verw.cycles + m.c.rsb_fill.cycles;
    close(m.body(EXIT.CPUID) - base.body(EXIT.CPUID), every, "CPUID: no flush");
    close(
      m.body(EXIT.EPT_MISCONFIG) - base.body(EXIT.EPT_MISCONFIG),
      every + 0.25 * m.c.l1d_flush.cycles,
      "a quarter leave for user space",
    );
    close(
      m.body(EXIT.EXTERNAL_INTERRUPT) - base.body(EXIT.EXTERNAL_INTERRUPT),
      every + m.c.l1d_flush.cycles,
      "host interrupt",
    );
    const always = setup({ target: "skylake_server @ 2GHz { mitigations l1d_flush_always }" });
    close(always.body(EXIT.CPUID) - base.body(EXIT.CPUID), always.c.l1d_flush.cycles, "always");
    const ibpb = setup({
      target: "skylake_server @ 2GHz { mitigations ibpb }",
      handlers: "handler CPUID { work 200 advance_rip }\nhandler HLT { halt }",
    });
    close(ibpb.body(EXIT.HLT) - base.body(EXIT.HLT), ibpb.c.ibpb.cycles, "HLT blocks: vCPU switch");
    close(ibpb.body(EXIT.CPUID), base.body(EXIT.CPUID), "CPUID does not block");
  });

  it("every term's cost is overridable and the override is what the estimate charges", () => {
    const o = setup({
      target:
        "skylake_server @ 2GHz {\n  mitigations verw\n  cost verw = 5000\n  cost transition_tail = 0\n}",
    });
    assert.equal(o.c.verw.provenance, "user");
    close(o.body(EXIT.CPUID), o.c.round_trip.cycles + 5000);
    const cost = exitCost(o.a.program, o.vmcs, EXIT.CPUID);
    close(cost.transition, o.c.round_trip.cycles + 5000, "no tail");
    const e = estimateGuest(o.a.program, "g");
    close(e.byReason.find((r) => r.code === EXIT.CPUID)!.transitionCycles, cost.transition);
  });

  it("mitigation names are checked: unknown is TL114, both L1D flush modes TL101", () => {
    const bad = analyze(source({ target: "skylake_server { mitigations verw l1d_fluhs }" }));
    assert.ok(bad.diagnostics.some((d) => d.code === "TL114" && /l1d_flush/.test(d.message)));
    const both = analyze(source({ target: "skylake_server { mitigations l1d_flush l1d_flush_always }" }));
    assert.ok(both.diagnostics.some((d) => d.code === "TL101"));
    const none = analyze(source({ target: "skylake_server { mitigations none }" }));
    assert.deepEqual(none.program.target.mitigations ?? [], []);
  });
});

describe("transition cost distribution in the simulator", () => {
  // Sandy Bridge, the measured generation: body 1,650 ± 26 (σ), 5 % tail of mean 1,000.
  const text = `target sandy_bridge @ 2.7GHz
${kvmVmcs({ ept: "0x0 .. 0x3_ffff_ffff rwx" })}
handler VMCALL { work 1 }
guest g on v {
  vcpus 1
  pinned
  path p rate 100k/s { compute 2us  vmcall }
  idle poll
}
`;

  it("VMCALL round trips: ~95 % within the measured 100-cycle band, a tail above it, the estimator's mean", () => {
    const a = analyze(text);
    const vmcs = a.program.vmcs.get("v");
    const cost = exitCost(a.program, vmcs, EXIT.VMCALL);
    const r = simulate(a.program, "g", { durationSec: 0.5, seed: 11, timelineIntervals: 0 });
    const row = r.byReason.find((x) => x.code === EXIT.VMCALL)!;
    assert.ok(row.exits > 40_000, `${row.exits} exits`);
    // Mean: the estimator's within the sampling error (σ of one exit ≈ 230 cycles here).
    const rel = Math.abs(row.cyclesPerExit - cost.total) / cost.total;
    assert.ok(rel < 0.005, `mean ${row.cyclesPerExit} vs ${cost.total}`);
    const body = cost.transitionDetail.body + 1; // + the handler's `work 1`
    const hz = a.program.target.hz;
    const p50 = row.duration.p50 * hz;
    const p99 = row.duration.p99 * hz;
    // Median inside the band, p99 in the tail (exponential: P(tail > x) = 0.2 at x = m·ln 5).
    assert.ok(Math.abs(p50 - body) < 30, `p50 ${p50} vs ${body}`);
    assert.ok(p99 > body + 1000, `p99 ${p99}`);
    assert.ok(p99 < body + 2500, `p99 ${p99}`);
  });

  it("a vCPU that may migrate (no `pinned`) has the longer tail, in the estimate and the simulation", () => {
    const a = analyze(text.replace("  pinned\n", ""));
    const vmcs = a.program.vmcs.get("v");
    const c = a.program.target.costs;
    const cost = exitCost(a.program, vmcs, EXIT.VMCALL, true);
    assert.equal(cost.transitionDetail.tailMean, c.transition_tail_migrating.cycles);
    assert.ok(c.transition_tail_migrating.cycles > c.transition_tail.cycles);
    const e = estimateGuest(a.program, "g");
    assert.ok(Math.abs(e.byReason[0]!.cyclesPerExit - cost.total) < 1e-9);
    const r = simulate(a.program, "g", { durationSec: 0.5, seed: 11, timelineIntervals: 0 });
    const row = r.byReason.find((x) => x.code === EXIT.VMCALL)!;
    assert.ok(
      Math.abs(row.cyclesPerExit - cost.total) / cost.total < 0.005,
      `${row.cyclesPerExit} vs ${cost.total}`,
    );
    const p99 = row.duration.p99 * a.program.target.hz;
    assert.ok(p99 > cost.transitionDetail.body + 2500, `p99 ${p99}`);
  });

  it("is deterministic with the seed and changes with it", () => {
    const a = analyze(text);
    const run = (seed: number) =>
      simulate(a.program, "g", { durationSec: 0.05, seed, timelineIntervals: 0 }).byReason[0]!.cyclesPerExit;
    assert.equal(run(3), run(3));
    assert.notEqual(run(3), run(4));
  });

  it("with no jitter and no tail every transition is the body (one number again)", () => {
    const a = analyze(
      text.replace("@ 2.7GHz", "@ 2.7GHz {\n  cost transition_jitter = 0\n  cost transition_tail = 0\n}"),
    );
    const r = simulate(a.program, "g", { durationSec: 0.05, seed: 3, timelineIntervals: 0 });
    const row = r.byReason.find((x) => x.code === EXIT.VMCALL)!;
    const cost = exitCost(a.program, a.program.vmcs.get("v"), EXIT.VMCALL);
    assert.ok(Math.abs(row.cyclesPerExit - cost.total) < 1e-6, `${row.cyclesPerExit} vs ${cost.total}`);
  });
});
