/**
 * The idle L2 (issue #13, docs/simulator.md "Nested idle"): simulator and estimator describe the
 * same wake-up chains (sim/nestedIdle.ts, analysis/nested/wake.ts) and agree within 3 % on
 * hand-built stationary loads covering who blocks the idle L2 — L1 (vmcs12 HLT exiting; with
 * and without vmcs01 HLT exiting for L1's own HLT) or L0 (vmcs01's HLT exiting only) — interrupts
 * L1 posts into L2 with its notification, and VMCS shadowing on and off; the timeline shows each
 * chain's parts at their levels.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { analyze, nestedEstimate, simulate } from "../core/src/index";
import { NOTIFY_LABEL } from "../core/src/sim/nestedPlan";
import { compareNested } from "./support/nestedCompare";

interface Case {
  shadowing: boolean;
  /** vmcs12 HLT exiting: L1 blocks the idle L2; else L0 does (vmcs01's). */
  l1Blocks: boolean;
  /** vmcs12 posted interrupts + virtual-interrupt delivery: L1 posts its `posted` irq into L2. */
  posted: boolean;
  /** vmcs01 HLT exiting (L1's own HLT exits to L0). */
  l0Hlt?: boolean;
  /** L1's own `halt_poll` statement (none: KVM's defaults, L1 polls up to 200 µs). */
  l1HaltPoll?: string;
}

const IDLE_HAND = ({ shadowing, l1Blocks, posted, l0Hlt = true, l1HaltPoll }: Case) => `
target skylake_server @ 2GHz {
  cost round_trip = 1000
  cost nested_vmexit = 4000
  cost nested_vmentry = 5000
  cost vmx_emulate = 200
  cost vmread = 50
  cost vmwrite = 60
  cost vmptrld = 100
  cost invept = 500
  cost advance_rip = 70
  cost transition_jitter = 0
  cost transition_tail = 0
  cost transition_tail_migrating = 0
}
vmcs vmcs01 {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis process_posted_interrupts
  proc  ${l0Hlt ? "hlt_exiting " : ""}use_tsc_offsetting use_tpr_shadow use_io_bitmaps use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest virtualize_x2apic_mode apic_register_virtualization virtual_interrupt_delivery${shadowing ? " vmcs_shadowing" : ""}
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  msr trap write X2APIC_ICR
  posted_interrupt_vector 0xf2
  field VIRTUAL_PROCESSOR_ID = 1
}
vmcs vmcs12 nested {
  pin   external_interrupt_exiting nmi_exiting${posted ? " process_posted_interrupts" : ""}
  proc  ${l1Blocks ? "hlt_exiting " : ""}use_tsc_offsetting use_tpr_shadow use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest virtualize_x2apic_mode${posted ? " apic_register_virtualization virtual_interrupt_delivery" : ""}
  exit  host_address_space_size acknowledge_interrupt_on_exit
  entry ia32e_mode_guest
  ${posted ? "posted_interrupt_vector 0xf2" : ""}
  field VIRTUAL_PROCESSOR_ID = 2
}
handler CPUID { work 800 advance_rip }
handler EXTERNAL_INTERRUPT { work 300 }
handler MSR_WRITE { vmread EXIT_QUALIFICATION  work 300  advance_rip }
handler HLT { work 300  halt }
hypervisor l1 on vmcs01 {
  ${l1HaltPoll ?? ""}
  handler CPUID { vmread VM_EXIT_REASON  vmread EXIT_QUALIFICATION  work 500  advance_rip  invept  vmresume }
  handler EXTERNAL_INTERRUPT { vmread VM_EXIT_REASON  vmread VM_EXIT_INTR_INFO  work 900  vmresume }
  handler HLT { vmread VM_EXIT_REASON  work 400  advance_rip  halt  vmresume }
}
guest l2 on vmcs12 {
  vcpus 2
  path loop rate 20k/s { compute 5us  cpuid }
  irq nic vector 0x40 rate 5k/s { compute 1us }
  irq vnet vector 0x41 rate 10k/s posted { compute 2us }
  idle halt
}
`;

const label = (c: Case) =>
  `${c.l1Blocks ? "L1 blocks" : "L0 blocks"}${c.l0Hlt === false ? " (L1's HLT not exiting)" : ""}, ${c.posted ? "posted into L2" : "not posted"}, shadowing ${c.shadowing ? "on" : "off"}${c.l1HaltPoll ? `, L1 \`${c.l1HaltPoll}\`` : ""}`;

const CASES: Case[] = [];
for (const shadowing of [false, true])
  for (const l1Blocks of [true, false])
    for (const posted of [false, true]) CASES.push({ shadowing, l1Blocks, posted });
CASES.push({ shadowing: false, l1Blocks: true, posted: false, l0Hlt: false });
CASES.push({ shadowing: true, l1Blocks: true, posted: true, l0Hlt: false });
// L1's own halt polling: off, and a window shorter than most idle gaps (some caught, some not).
CASES.push({ shadowing: false, l1Blocks: true, posted: false, l1HaltPoll: "halt_poll 0" });
CASES.push({ shadowing: true, l1Blocks: true, posted: true, l1HaltPoll: "halt_poll 0" });
CASES.push({
  shadowing: false,
  l1Blocks: true,
  posted: false,
  l1HaltPoll: "halt_poll 20us grow 2 start 5us shrink 2",
});
CASES.push({
  shadowing: false,
  l1Blocks: true,
  posted: false,
  l0Hlt: false,
  l1HaltPoll: "halt_poll 20us grow 2 start 5us shrink 2",
});

/**
 * After each Halted interval of a vCPU, or Polling one that caught its event (L0's halt poll:
 * `polled`), its records up to L2's next guest time: level and label.
 */
function wakeSequences(text: string, seed: number) {
  const a = analyze(text);
  const r = simulate(a.program, "l2", { durationSec: 0.005, seed });
  const tl = r.timeline;
  assert.ok(tl.level);
  const level = tl.level;
  const sequences: { before: string; polled: boolean; levels: number[]; labels: string[] }[] = [];
  for (let i = 0; i < tl.count; i++) {
    if (tl.state[i] !== 4 && tl.state[i] !== 5) continue; // Halted, Polling
    const polled = tl.state[i] === 5;
    const v = tl.vcpu[i];
    let before = i - 1;
    // The record before the block (past the poll window of a poll that failed).
    while (before >= 0 && (tl.vcpu[before] !== v || tl.state[before] === 5)) before--;
    const levels: number[] = [];
    const labels: string[] = [];
    let k = i + 1;
    let blockedAfterPoll = false;
    for (; k < tl.count; k++) {
      if (tl.vcpu[k] !== v) continue;
      if (tl.state[k] === 4) {
        blockedAfterPoll = true; // the poll window ended: the Halted interval's own sequence
        break;
      }
      // Up to L2's guest time or the next exit's transition (a nested exit owed by an interrupt
      // that arrived meanwhile, or L1's notification of an interrupt it sends, due while the
      // vCPU was blocked): the wake-up chain's records all name their step.
      if (
        tl.state[k] === 0 ||
        (tl.state[k] === 1 && (tl.source[k] < 0 || tl.sources[tl.source[k]].label === NOTIFY_LABEL))
      )
        break;
      levels.push(level[k]);
      labels.push(tl.source[k] >= 0 ? tl.sources[tl.source[k]].label : "");
    }
    if (k === tl.count || blockedAfterPoll) continue; // the run ended inside the wake-up
    const src = before >= 0 ? tl.source[before] : -1;
    sequences.push({ before: src >= 0 ? tl.sources[src].label : "", polled, levels, labels });
  }
  return { sequences, result: r, program: a.program };
}

describe("simulator: the idle L2's wake-up chains", () => {
  for (const c of CASES)
    it(`${label(c)}: simulator and estimator within 3 %`, () => compareNested(IDLE_HAND(c), "l2", 2));

  it("the estimator's idle mode is the case's: L1 blocks with vmcs12 HLT exiting, L0 without", () => {
    for (const c of CASES) {
      const a = analyze(IDLE_HAND(c));
      assert.equal(nestedEstimate(a.program, "l2")?.idle?.mode, c.l1Blocks ? "L1" : "L0", label(c));
    }
  });

  it("L1 blocks: L1's HLT exits before the block; L0 wakes L1, L1 its thread, injects (trapped VMWRITE), VMRESUMEs", () => {
    // L1's own halt polling off: every block goes through L1's HLT (l1-halt-poll.test.ts has it on).
    const { sequences, result } = wakeSequences(
      IDLE_HAND({ shadowing: false, l1Blocks: true, posted: false, l1HaltPoll: "halt_poll 0" }),
      2,
    );
    assert.ok(sequences.length > 10, "wake-ups recorded");
    const n = result.nested!;
    assert.ok(n.wakeUpsPerSecond > 0);
    for (const s of sequences) assert.match(s.before, /L1 idles, its HLT → L0/);
    // L0's halt_wake (none when L0's poll caught the arrival), L1's thread, then for an interrupt
    // the trapped VMWRITE and the injection; the VMRESUME round trip and the emulated entry.
    const seen = new Set<string>();
    for (const s of sequences) {
      const wake = s.polled ? [] : [0];
      const byInterrupt = [...wake, 1, 0, 1, 0, 0].join(",");
      const byPath = [...wake, 1, 0, 0].join(",");
      const key = s.levels.join(",");
      assert.ok(key === byInterrupt || key === byPath, `levels ${key}: ${s.labels.join(" | ")}`);
      const at = wake.length;
      if (!s.polled) assert.match(s.labels[0], /L1 idles/);
      assert.match(s.labels[at], /L1 wakes the vCPU's thread/);
      if (key === byInterrupt) {
        assert.match(s.labels[at + 1], /VMWRITE VM_ENTRY_INTR_INFO_FIELD traps to L0/);
        assert.match(s.labels[at + 2], /injects the interrupt into L2/);
      }
      assert.match(s.labels[s.labels.length - 2], /VMRESUME/);
      seen.add(`${s.polled ? "polled" : "woken"} by ${key === byInterrupt ? "an interrupt" : "path work"}`);
    }
    assert.ok(seen.has("polled by an interrupt") && seen.has("polled by path work"), [...seen].join(", "));
  });

  it("L1 blocks with VMCS shadowing: the injection's VMWRITE runs in L1 (no trap)", () => {
    const { sequences } = wakeSequences(IDLE_HAND({ shadowing: true, l1Blocks: true, posted: false }), 2);
    assert.ok(sequences.length > 10);
    for (const s of sequences) assert.ok(!s.labels.some((l) => /traps to L0/.test(l)), s.labels.join(" | "));
    assert.ok(sequences.some((s) => s.labels.some((l) => /injects the interrupt/.test(l))));
  });

  it("L0 blocks: L0's halt_wake, then the synthesized nested EXTERNAL_INTERRUPT chain into L1 for an interrupt", () => {
    const { sequences } = wakeSequences(IDLE_HAND({ shadowing: false, l1Blocks: false, posted: false }), 2);
    assert.ok(sequences.length > 10);
    let synthesized = 0;
    for (const s of sequences) {
      // L0's halt_wake unless its poll caught the arrival.
      const wake = s.polled ? 0 : 1;
      if (!s.polled) assert.match(s.labels[0], /L0 wakes the vCPU/);
      if (s.levels.length === wake) continue; // woken by path work: nothing for L1
      synthesized++;
      // The chain of the reflected EXTERNAL_INTERRUPT without its first round trip: L0's
      // emulated exit, L1's handler cut by its two trapped VMREADs, the VMRESUME, the entry.
      assert.deepEqual(s.levels.slice(wake), [0, 1, 0, 1, 0, 1, 0, 0]);
      assert.ok(s.labels.some((l) => /L1 handler EXTERNAL_INTERRUPT/.test(l)));
    }
    assert.ok(synthesized > 0, "interrupts woke it");
  });

  it("posted into L2: no L2 exit for the posted irq, L1's notification per arrival on the sender's vCPU", () => {
    const a = analyze(IDLE_HAND({ shadowing: true, l1Blocks: true, posted: true }));
    const r = simulate(a.program, "l2", { durationSec: 0.2, seed: 1 });
    const n = r.nested!;
    const vnet = r.paths.find((s) => s.name === "vnet")!;
    // One MSR_WRITE exit (vmcs01 traps X2APIC_ICR) per arrival of the irq L1 sends, taken on
    // the sender's vCPU as a stream of the same rate (nestedPlan.ts notifyStream): within the
    // Poisson noise of the two counts (three standard deviations of their difference).
    const notified = n.notifyExitsPerSecond * r.duration;
    assert.ok(
      Math.abs(notified - vnet.arrivals) <= 3 * Math.sqrt(2 * vnet.arrivals),
      `${notified} notifications, ${vnet.arrivals} arrivals`,
    );
    // On the timeline: an Exit at level 0 labelled as the notification, then L0's MSR_WRITE handler.
    const tl = r.timeline;
    const at = [...Array(tl.count).keys()].find(
      (i) => tl.state[i] === 1 && tl.source[i] >= 0 && tl.sources[tl.source[i]].label === NOTIFY_LABEL,
    );
    assert.ok(at !== undefined, "a notification on the timeline");
    assert.equal(tl.level![at], 0);
    assert.equal(tl.reason[at], 32);
    assert.equal(tl.state[at + 1], 2, "L0's handler follows");
    assert.equal(tl.level![at + 1], 0);
    // The L2 EXTERNAL_INTERRUPT exits are the nic's only (5k/s per vCPU at most).
    const ext = n.byReason.filter((x) => x.reason === "EXTERNAL_INTERRUPT" && x.level === "L0");
    for (const x of ext) assert.ok(x.exitsPerSecond <= 2 * 5000 * 1.2, `${x.exitsPerSecond}`);
  });
});
