/**
 * An interrupt for L1 delivered while L2 runs (issue #13): ONE hardware exit. L0 takes the
 * physical EXTERNAL_INTERRUPT exit from L2 (nested_vmx_l0_wants_exit keeps it; the host handler
 * runs, vmx_handle_exit_irqoff → handle_external_interrupt_irqoff), and at the next entry
 * vmx_check_nested_events turns the interrupt, pending for L1, into the emulated exit into L1
 * (nested_vmx_vmexit with EXIT_REASON_EXTERNAL_INTERRUPT) — no second exit, one round trip. One
 * that finds the vCPU outside L2 is the nested exit L0 synthesizes at the next entry: the chain
 * less its round trip and no L2 exit. Estimator, simulator and trace export count it the same
 * way; the chain costs are computed by hand from the file's `cost` overrides.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reflectedChainCost, synthesizedExitCost } from "../core/src/analysis/nested/chain";
import { exitCost } from "../core/src/analysis/nested/estimate";
import { nestedSetup } from "../core/src/analysis/nested/reflect";
import { L1_RUNNING_IRQ_EXIT, L1_RUNNING_IRQ_INJECT, nestedDelivery } from "../core/src/analysis/nested/wake";
import { analyze, nestedEptOf, nestedEstimate, simulate } from "../core/src/index";
import { importTrace, timelineToTraceCmd } from "../core/src/trace/index";
import { compareNested } from "./support/nestedCompare";
import { vmcs01, vmcs12 } from "./support/nestedFixtures";

const EXTERNAL_INTERRUPT = 1;

const FILE = `
target skylake_server @ 2GHz {
  cost round_trip = 1000
  cost nested_vmexit = 4000
  cost nested_vmentry = 5000
  cost vmx_emulate = 200
  cost vmread = 50
  cost vmwrite = 60
  cost inject = 100
  cost transition_jitter = 0
  cost transition_tail = 0
  cost transition_tail_migrating = 0
}
${vmcs01({ tprShadow: false })}${vmcs12()}handler EXTERNAL_INTERRUPT { work 400 }
hypervisor l1 on vmcs01 {
  handler EXTERNAL_INTERRUPT { vmread VM_EXIT_REASON  vmread VM_EXIT_INTR_INFO  work 350  inject 0x41  vmresume }
}
guest l2 on vmcs12 {
  vcpus 2
  irq nic vector 0x41 rate 20k/s { compute 2us }
  path app rate 10k/s { compute 5us }
  idle poll
}
`;

// By hand, no VMCS shadowing (each VMREAD/VMWRITE of L1 exits: round_trip + vmx_emulate = 1,200):
//  L0's EXTERNAL_INTERRUPT exit under vmcs01: round trip 1,000 + its handler's work 400 = 1,400.
//  L1's chain: L0 = 1,000 + 4,000 + 3 × 1,200 (two VMREADs, inject's VMWRITE) + 1,000 + 5,000
//    = 14,600; L1 = 350 + inject 100 = 450; into L0 per chain 2 + 3 = 5.
//  Delivered while L2 runs: one exit, one round trip: L0 = 1,400 − 1,000 + 14,600 = 15,000,
//    L1 450, into L0 5 (the L2 exit, 3 trapped, the VMRESUME). Before issue #13's fix: the L0
//    exit's 1,400 on top of the whole chain (16,000 in L0) and 6 exits into L0, 2 of them L2's.
//  Synthesized at an entry: L0 = 14,600 − 1,000 = 13,600, L1 450, into L0 4 (no L2 exit).
const CHAIN = { l0: 14_600, l1: 450, transitions: 5 };
const DELIVERED = { l0: 15_000, l1: 450, transitions: 5 };
const SYNTHESIZED = { l0: 13_600, l1: 450, transitions: 4 };

const near = (actual: number, expected: number, what: string, eps = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= eps, `${what}: ${actual} ≠ ${expected}`);

describe("nested: an interrupt for L1 delivered while L2 runs is one exit", () => {
  const a = analyze(FILE);
  const setup = nestedSetup(a.program, a.program.guests.get("l2")!)!;

  it("the chain and the delivery by hand: one L2 exit, the round trip paid once", () => {
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    const chain = reflectedChainCost(a.program, a.program.hypervisors.get("l1")!, EXTERNAL_INTERRUPT);
    assert.equal(chain.l0Cycles, CHAIN.l0);
    assert.equal(chain.l1Cycles, CHAIN.l1);
    assert.equal(chain.l0Transitions, CHAIN.transitions);
    assert.equal(exitCost(setup, EXTERNAL_INTERRUPT, "L0").l0, 1_400);
    const d = nestedDelivery(setup, a.program.guests.get("l2")!.sources[0]!);
    assert.deepEqual(
      d.exits.map((x) => `${x.reason.name}@${x.level}×${x.perExecution}`),
      ["EXTERNAL_INTERRUPT@L1×1"],
    );
    assert.equal(d.l0IrqCycles, 400);
    assert.equal(d.l0, DELIVERED.l0);
    assert.equal(d.l1, DELIVERED.l1);
    assert.match(d.rule, /one exit/);
    const s = synthesizedExitCost(a.program, chain);
    assert.deepEqual(s, {
      l0Cycles: SYNTHESIZED.l0,
      l1Cycles: SYNTHESIZED.l1,
      l0Transitions: SYNTHESIZED.transitions,
    });
  });

  it("the estimate: one row into L1, the L2 exits are the deliveries in guest mode", () => {
    const e = nestedEstimate(a.program, "l2")!;
    assert.deepEqual(
      e.byReason.map((r) => `${r.reason}@${r.level}`),
      ["EXTERNAL_INTERRUPT@L1"],
    );
    const row = e.byReason[0]!;
    // Every arrival (2 vCPUs × 20k/s) is L1's: the share p in guest mode is delivered, one on
    // L0's side of root mode synthesized, one on L1's side (L1's handler running: share s1 of root
    // time; L0 emulating its trapped VMREAD/VMWRITE: s2) L1's own interrupt — L0's exit from L1
    // (1,400) + L1's trapped injection VMWRITE (1,200) + inject 100, 2 exits into L0; or 1,300
    // and 1 — no nested exit (estimate.ts RootSplit). The shares by hand: each chain (X per
    // vCPU-second) spends 450 in L1 and 3 × 1,200 emulating L1, over the root time (1 − p)·hz,
    // plus the L1-side deliveries' own cycles.
    const p = e.guestShare;
    const s1 = e.l1SideRoot.l1RunningShare;
    const s2 = e.l1SideRoot.l0ForL1Share;
    const inRoot = 20_000 * (1 - p);
    const Xv = 20_000 * p + inRoot * (1 - s1 - s2);
    near(s1, (450 * Xv) / ((1 - p) * 2e9), "L1's running share of root time");
    near(s2, (3_600 * Xv + inRoot * (s1 * 2_700 + s2 * 1_300)) / ((1 - p) * 2e9), "L0-for-L1 share");
    const synthesized = e.synthesizedPerSecond;
    const delivered = 40_000 * p;
    const side = e.l1SideRoot.deliveriesPerSecond;
    near(synthesized, 2 * inRoot * (1 - s1 - s2), "synthesized: root arrivals on L0's side for L2");
    near(side, 2 * inRoot * (s1 + s2), "L1's own: root arrivals on L1's side");
    near(row.exitsPerSecond, delivered + synthesized, "nested exits into L1");
    near(e.l2ExitsPerSecond, delivered, "one L2 exit per delivery");
    near(e.reflectedPerSecond, delivered + synthesized, "reflected");
    near(e.l0HandledPerSecond, 0, "no L0 row");
    near(
      row.l0CyclesPerExit,
      (delivered * DELIVERED.l0 + synthesized * SYNTHESIZED.l0) / (delivered + synthesized),
      "L0 cycles",
    );
    near(row.l1CyclesPerExit, 450, "L1 cycles");
    const sideExits = 2 * inRoot * (2 * s1 + s2);
    near(e.l1SideRoot.exitsPerSecond, sideExits, "L1-side exits into L0");
    const intoL0 = delivered * DELIVERED.transitions + synthesized * SYNTHESIZED.transitions;
    near(row.l0TransitionsPerExit, intoL0 / (delivered + synthesized), "exits into L0 per exit");
    near(e.l0ExitsPerSecond, intoL0 + sideExits, "exits into L0");
    near(
      e.l1ExitsPerSecond,
      intoL0 + sideExits - delivered,
      "L1's exits into L0: trapped + VMRESUME + L1 side",
    );
    // L0: the chains, L0's exit from L1 and the trapped VMWRITEs on L1's side.
    near(
      e.hostCpu.l0,
      (delivered * DELIVERED.l0 + synthesized * SYNTHESIZED.l0 + 2 * inRoot * (s1 * 2_600 + s2 * 1_200)) /
        2e9,
      "L0 cores",
    );
    near(e.hostCpu.l1, ((delivered + synthesized) * 450 + side * 100) / 2e9, "L1 cores");
  });

  it("the simulation: the same counts and cycles per exit (no jitter: exact from the run's counts)", () => {
    const r = simulate(a.program, "l2", { durationSec: 0.05, seed: 3 });
    const n = r.nested!;
    const d = r.duration;
    const row = n.byReason.find((x) => x.code === EXTERNAL_INTERRUPT && x.level === "L1")!;
    assert.equal(n.byReason.length, 1, "no L0 row");
    const exits = Math.round(row.exitsPerSecond * d);
    const synthesized = Math.round(n.synthesizedPerSecond * d);
    const delivered = exits - synthesized;
    assert.ok(synthesized > 0 && delivered > 0, `${delivered} delivered, ${synthesized} synthesized`);
    // Interrupts for L1 on L1's side of root mode: 2 exits into L0 when L1 ran (its exit, the
    // trapped VMWRITE), 1 when L0 was emulating L1's instruction.
    const side = Math.round(n.l1SideDeliveriesPerSecond * d);
    const sideExits = Math.round(n.l1SideExitsPerSecond * d);
    const l1Running = sideExits - side;
    assert.ok(
      l1Running > 0 && side - l1Running > 0,
      `${l1Running} while L1 ran, ${side - l1Running} while L0 emulated`,
    );
    // Their cycles: 2,600 in L0 and 100 in L1 when L1 ran, 1,200 and 100 otherwise.
    near(
      n.hostCpu.l1 * d * 2e9,
      exits * 450 + side * 100,
      "L1 cycles: the chains' 450, the L1-side injections' 100",
      1e-3,
    );
    assert.equal(Math.round(n.l2ExitsPerSecond * d), delivered);
    near(
      row.l0CyclesPerExit,
      (delivered * DELIVERED.l0 + synthesized * SYNTHESIZED.l0) / exits,
      "L0 cycles",
      1e-6,
    );
    near(row.l1CyclesPerExit, 450, "L1 cycles");
    const intoL0 = delivered * DELIVERED.transitions + synthesized * SYNTHESIZED.transitions + sideExits;
    assert.equal(Math.round(n.l0ExitsPerSecond * d), intoL0);
    assert.equal(Math.round(n.trappedPerSecond * d), 3 * exits);
    assert.equal(Math.round(n.vmresumesPerSecond * d), exits);

    // The trace export: each hardware exit into L0 is one kvm_exit, so their count is the
    // simulation's exits into L0; a delivery is one kvm_exit EXTERNAL_INTERRUPT.
    const text = timelineToTraceCmd(r.timeline, { nestedEpt: nestedEptOf(a.program, n.vmcs12) });
    const trace = importTrace(text);
    assert.equal(trace.exits.totalCount, intoL0);
    // kvm_exit EXTERNAL_INTERRUPT: the deliveries from L2 and the exits from L1 on L1's side.
    assert.equal(trace.exits.rows.find((x) => x.code === EXTERNAL_INTERRUPT)?.count, delivered + l1Running);
    assert.equal(trace.eventCounts.kvm_nested_vmexit, delivered);
    assert.equal(trace.eventCounts.kvm_nested_vmexit_inject, exits);

    // One delivery's lines, as KVM traces it, and its duration: from the kvm_exit to the entry
    // into L2, 15,000 + 450 cycles = 7,725 ns at 2 GHz — one round trip.
    const lines = text.split("\n").filter((l) => l.includes("CPU 0/KVM"));
    const event = (l: string) => {
      const m = /: (kvm_\w+): +(?:vcpu \d+ reason (\w+))?/.exec(l)!;
      return m[2] ? `${m[1]} ${m[2]}` : m[1]!;
    };
    const at = lines.findIndex(
      (l, i) =>
        / kvm_exit: +vcpu 0 reason EXTERNAL_INTERRUPT /.test(l) &&
        / kvm_nested_vmexit: /.test(lines[i + 1] ?? "") &&
        !lines.slice(i + 1, i + 13).some((x) => / kvm_exit: +vcpu 0 reason EXTERNAL_INTERRUPT /.test(x)),
    );
    assert.ok(at >= 0, "a delivered interrupt on vCPU 0");
    const episode = lines.slice(at, at + 13);
    assert.deepEqual(episode.map(event), [
      "kvm_exit EXTERNAL_INTERRUPT",
      "kvm_nested_vmexit EXTERNAL_INTERRUPT",
      "kvm_nested_vmexit_inject",
      "kvm_entry",
      "kvm_exit VMREAD",
      "kvm_entry",
      "kvm_exit VMREAD",
      "kvm_entry",
      "kvm_exit VMWRITE",
      "kvm_entry",
      "kvm_exit VMRESUME",
      "kvm_nested_vmenter",
      "kvm_entry",
    ]);
    assert.match(episode[2]!, /kvm_nested_vmexit_inject: reason EXTERNAL_INTERRUPT /);
    const seconds = (l: string) => Number(/ (\d+\.\d+): /.exec(l)![1]);
    near((seconds(episode[12]!) - seconds(episode[0]!)) * 1e9, 7_725, "delivery ns", 2);
  });
});

// An L2 whose CPUID exits run a long L1 handler (20,000 cycles, no VMX instruction: the chain is
// L0 1,000 + 4,000 + 1,000 + 5,000 = 11,000, L1 20,000): an interrupt for L1 that arrives while
// that handler runs finds L1 itself running (is_guest_mode false). L0 takes its exit from L1
// (vmcs01 external-interrupt exiting: 1,000 + its handler 400 = 1,400) and injects it into L1
// (kvm_check_and_inject_events → vmx_inject_irq on vmcs01); L1 injects it into L2 at its
// VMRESUME: its trapped VMWRITE of VM_ENTRY_INTR_INFO_FIELD (1,200) + inject 100 — 2,700 cycles,
// 2 exits into L0, no nested exit, no extra VMRESUME.
const LONG_L1 = FILE.replace(
  "hypervisor l1 on vmcs01 {",
  "hypervisor l1 on vmcs01 {\n  handler CPUID { work 20000  vmresume }",
).replace(
  /guest l2 on vmcs12 \{[^}]*\}[^}]*\}[^}]*\}/,
  `guest l2 on vmcs12 {
  vcpus 1
  path loop rate 10k/s { compute 2us  cpuid }
  irq nic vector 0x41 rate 2k/s { compute 1us }
  idle poll
}`,
);

describe("nested: an interrupt for L1 that arrives while L1 runs is L1's, not a nested exit", () => {
  const a = analyze(LONG_L1);
  const CPUID = 10;

  it("the estimate: the root share split, L1's handler time paying the L1 path", () => {
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    const chain = reflectedChainCost(a.program, a.program.hypervisors.get("l1")!, CPUID);
    assert.equal(chain.l0Cycles, 11_000);
    assert.equal(chain.l1Cycles, 20_000);
    const e = nestedEstimate(a.program, "l2")!;
    const p = e.guestShare;
    const s1 = e.l1SideRoot.l1RunningShare;
    const s2 = e.l1SideRoot.l0ForL1Share;
    const root = (1 - p) * 2e9;
    const inRoot = 2_000 * (1 - p);
    // EXTERNAL_INTERRUPT chains per second: the deliveries in guest mode and the synthesized ones.
    const X = 2_000 * p + inRoot * (1 - s1 - s2);
    // L1 runs 20,000 per CPUID chain and 450 per EXTERNAL_INTERRUPT chain; L0 emulates 3,600 of
    // L1's per EXTERNAL_INTERRUPT chain, and the L1-side deliveries are on L1's side themselves.
    near(s1, (10_000 * 20_000 + X * 450) / root, "L1's running share");
    near(s2, (X * 3_600 + inRoot * (s1 * 2_700 + s2 * 1_300)) / root, "L0-for-L1 share");
    assert.ok(s1 > 0.5, `L1's long handler is most of root time (${s1})`);
    near(e.synthesizedPerSecond, inRoot * (1 - s1 - s2), "synthesized");
    near(e.l1SideRoot.deliveriesPerSecond, inRoot * (s1 + s2), "L1's own interrupts");
    near(e.l1SideRoot.exitsPerSecond, inRoot * (2 * s1 + s2), "their exits into L0");
    // L0: CPUID chains 11,000, deliveries 15,000, synthesized 13,600, the L1 side 2,600 / 1,200.
    near(
      e.hostCpu.l0,
      (10_000 * 11_000 +
        2_000 * p * 15_000 +
        e.synthesizedPerSecond * 13_600 +
        inRoot * (s1 * 2_600 + s2 * 1_200)) /
        2e9,
      "L0 cores",
    );
  });

  it("the simulation agrees, and the timeline inserts the L1 path before L1's VMRESUME", () => {
    compareNested(LONG_L1, "l2", 1);
    const r = simulate(a.program, "l2", { durationSec: 0.05, seed: 5 });
    const tl = r.timeline;
    const label = (i: number) => (tl.source[i] >= 0 ? tl.sources[tl.source[i]]!.label : "");
    const exitAt = (i: number) => label(i) === `L0: ${L1_RUNNING_IRQ_EXIT}`;
    let found = 0;
    for (let i = 0; i < tl.count; i++) {
      if (!exitAt(i)) continue;
      found++;
      // The exit from L1 at L0 (1,400 cycles = 700 ns), L1's trapped VMWRITE (600 ns), L1's
      // injection (50 ns), then the chain's VMRESUME — all of the CPUID episode, back to back.
      const next = [i + 1, i + 2, i + 3];
      assert.equal(tl.level![i], 0);
      assert.equal(tl.reason[i], CPUID);
      near(tl.duration[i]!, 700, "exit from L1 ns", 1e-6);
      assert.match(label(next[0]!), /VMWRITE VM_ENTRY_INTR_INFO_FIELD traps to L0/);
      near(tl.duration[next[0]!]!, 600, "trapped VMWRITE ns", 1e-6);
      assert.equal(label(next[1]!), `L1: ${L1_RUNNING_IRQ_INJECT}`);
      assert.equal(tl.level![next[1]!], 1);
      near(tl.duration[next[1]!]!, 50, "inject ns", 1e-6);
      for (const k of next) assert.equal(tl.vcpu[k], tl.vcpu[i]);
      near(tl.start[next[0]!]!, tl.start[i]! + 700, "contiguous", 1e-6);
      break;
    }
    assert.ok(found > 0, "an arrival while L1's CPUID handler ran");
    // Counted as L1's exits into L0, not as synthesized nested exits.
    const n = r.nested!;
    assert.ok(n.l1SideDeliveriesPerSecond > 0);
    // The trace: a kvm_exit EXTERNAL_INTERRUPT inside a CPUID episode, between its
    // kvm_nested_vmexit_inject and L1's VMRESUME, with no kvm_nested_vmexit of its own.
    const text = timelineToTraceCmd(tl, { nestedEpt: nestedEptOf(a.program, n.vmcs12) });
    const lines = text.split("\n").filter((l) => l.includes("CPU 0/KVM"));
    const at = lines.findIndex(
      (l, i) =>
        / kvm_exit: +vcpu 0 reason EXTERNAL_INTERRUPT /.test(l) &&
        / kvm_entry: /.test(lines[i + 1] ?? "") &&
        / reason VMWRITE /.test(lines[i + 2] ?? ""),
    );
    assert.ok(at > 0, "L1's own interrupt exit in the trace");
    let j = at - 1;
    while (j > 0 && !/ kvm_nested_vmexit_inject: /.test(lines[j]!)) j--;
    assert.match(lines[j]!, /reason CPUID /);
    assert.ok(!lines.slice(j, at).some((l) => / kvm_nested_vmexit: .*EXTERNAL_INTERRUPT/.test(l)));
    assert.match(lines.slice(at, at + 6).join("\n"), /reason VMRESUME/);
    const trace = importTrace(text);
    assert.equal(trace.exits.totalCount, Math.round(n.l0ExitsPerSecond * r.duration));
  });
});
