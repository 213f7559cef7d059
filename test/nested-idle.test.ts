/**
 * The nested idle model, posted interrupts into L2 and EPT02's start-up figure on hand-computed
 * cases (docs/estimator.md "Nested idle and interrupt delivery", "EPT02 first touch"). Costs
 * are the round numbers of exitFixtures.ts: round_trip 1000, vmread 50, vmwrite 60, inject
 * 100, halt_wake 4000, nested_vmexit 4000, nested_vmentry 5000, vmx_emulate 200, ept02_fault
 * 3000, ept_walk_level 0; hz 2 GHz; no VMCS shadowing unless said.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { reflectedChainCost } from "../core/src/analysis/nested/chain";
import { nestedEstimate } from "../core/src/analysis/nested/estimate";
import { nestedGuestHover, nestedOperationHover } from "../core/src/analysis/nested/hover";
import { nestedSetup } from "../core/src/analysis/nested/reflect";
import { idleMode, idleWindowCycles, nestedDelivery, wakeChain } from "../core/src/analysis/nested/wake";
import { analyze } from "../core/src/index";
import type { GuestOp, GuestSource, HandlerOp, HypervisorIR, Program } from "../core/src/model/ir";
import { defaultHost, l1HaltPoll } from "../core/src/model/statements/host";
import { vmcsFieldByName } from "../core/src/vmx/vmcsFields";
import {
  guest,
  handler,
  irq,
  path,
  RWX,
  S,
  program as single,
  span,
  type VmcsSpec,
  vmcs,
} from "./exitFixtures";
import { vmcs01, vmcs12 } from "./support/nestedFixtures";

const h = (o: Record<string, unknown>): HandlerOp => ({ span: S, ...o }) as HandlerOp;
const op = (o: Record<string, unknown>): GuestOp => ({ span: span(), ...o }) as GuestOp;
const near = (actual: number, expected: number, what: string, tolerance = 1e-6) =>
  assert.ok(
    Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} ≠ ${expected}`,
  );

const VMCS01: VmcsSpec = {
  pin: ["external_interrupt_exiting", "nmi_exiting"],
  proc: ["hlt_exiting", "use_msr_bitmaps", "use_io_bitmaps"],
  proc2: ["enable_ept"],
  ept: [[0n, 0x7fff_ffffn, RWX]],
};
// L0: its HLT blocks (1000 + halt_wake 4000 = 5000), its physical interrupt 1000 + 400.
const L0_HANDLERS = [
  handler("HLT", [h({ op: "halt" })]),
  handler("EXTERNAL_INTERRUPT", [h({ op: "work", cycles: 400 })]),
];
// L1's HLT: KVM's handle_halt blocks the vCPU (`halt`: halt_wake in L1).
const L1_HLT = handler("HLT", [
  h({ op: "vmread", field: vmcsFieldByName("VM_EXIT_REASON")! }),
  h({ op: "halt" }),
  h({ op: "vmresume" }),
]);

function l2(
  spec12: VmcsSpec,
  sources: GuestSource[],
  options: { vmcs01?: VmcsSpec; idle?: "halt" | "poll" } = {},
): Program {
  const v12 = vmcs(spec12, "vmcs12");
  v12.nested = { span: S };
  const g = guest({ sources, vcpus: 1, idle: options.idle ?? "halt" }, "vmcs12", "l2");
  const p = single(v12, g, L0_HANDLERS);
  p.vmcs.set("vmcs01", vmcs(options.vmcs01 ?? VMCS01, "vmcs01"));
  const hv: HypervisorIR = {
    name: "l1",
    span: S,
    nameSpan: S,
    vmcs: "vmcs01",
    vmcsSpan: S,
    handlers: new Map([[L1_HLT.reason.code, L1_HLT]]),
    // L1's own halt polling off (`halt_poll 0`): the cases below check the wake-up through L1's
    // HLT; test/l1-halt-poll.test.ts checks L1's poll.
    haltPoll: { ...l1HaltPoll({}), haltPollNs: { value: 0, span: S } },
  };
  p.hypervisors.set("l1", hv);
  g.span = { start: 0, end: 1_000_000 };
  return p;
}

const nic = (posted = false) =>
  irq("nic", 0x41, { kind: "poisson", ratePerSec: 10_000 }, [op({ op: "compute", cycles: 2000 })], posted);

/**
 * The split of root time by hand (estimate.ts RootSplit), for the files below whose interrupt
 * for L1 runs L1's default EXTERNAL_INTERRUPT handler (L1 300 cycles, its VMREAD trapped: 1,200
 * in L0) and whose L1 injects with a trapped VMWRITE (1,200) + inject 100: an arrival that finds
 * L1 running costs L0's exit from L1 (1,400) + 1,300, one emulating L1's VMREAD 1,300; one on
 * L0's side for L2 the synthesized nested exit (11,500). Given the estimate's shares s1 (L1
 * running) and s2 (L0 for L1): ρ from the closed form with R = Λ·((1 − s1 − s2)·11,500 +
 * s1·2,700 + s2·1,300), and the shares again from the rates — the fixed point the estimate
 * solves. X = EXTERNAL_INTERRUPT chains per second (delivered Λp + synthesized).
 */
function splitByHand(
  e: NonNullable<ReturnType<typeof nestedEstimate>>,
  k: { G: number; D: number; lambda: number; T: number; kk: number; p: number },
) {
  const hz = 2e9;
  const s1 = e.l1SideRoot.l1RunningShare;
  const s2 = e.l1SideRoot.l0ForL1Share;
  const R = k.lambda * ((1 - s1 - s2) * 11_500 + s1 * 2_700 + s2 * 1_300);
  const rho = (k.G + (k.D * k.lambda - R) * k.p + k.kk * k.T) / (hz + k.kk * k.T - R);
  const root = rho - k.p;
  const inRoot = k.lambda * root;
  const X = k.lambda * k.p + inRoot * (1 - s1 - s2);
  near(e.busyShare, rho, "ρ at the estimate's split");
  near(s1, (300 * X) / (root * hz), "L1's running share of root time");
  near(s2, (1_200 * X + inRoot * (s1 * 2_700 + s2 * 1_300)) / (root * hz), "L0-for-L1 share of root time");
  near(e.synthesizedPerSecond, inRoot * (1 - s1 - s2), "synthesized: the arrivals on L0's side for L2");
  near(e.l1SideRoot.deliveriesPerSecond, inRoot * (s1 + s2), "L1's own: the arrivals on L1's side");
  near(e.l1SideRoot.exitsPerSecond, inRoot * (2 * s1 + s2), "their exits into L0: L1's exit, the VMWRITE");
  assert.ok(s1 > 0 && s2 > 0, "both sides of L1's root time");
  return { rho, s1, s2, inRoot, X };
}

describe("nested idle: L1 blocks the idle L2 (vmcs12 HLT exiting)", () => {
  const p = l2({ pin: ["external_interrupt_exiting"], proc: ["hlt_exiting"] }, [nic()]);
  const setup = nestedSetup(p, p.guests.get("l2")!)!;

  it("the wake-up chain: L1's own HLT to L0, L1's trapped VMWRITE of the injection, L1's inject", () => {
    assert.equal(idleMode(setup), "L1");
    const w = wakeChain(setup, "L1", p.guests.get("l2")!.sources[0]);
    // L0: L1's HLT 5000 + VMWRITE VM_ENTRY_INTR_INFO_FIELD trapped (1000 + 200) = 6,200; L1: inject 100.
    assert.equal(w.l0, 6_200);
    assert.equal(w.l1, 100);
    assert.equal(w.l0Exits, 2);
    assert.match(w.reference, /kvm_vcpu_halt/);
  });

  it("the window up to the block leaves out the VMRESUME and the wake-ups", () => {
    // The HLT chain: L0 1000 + 4000 + trapped VMREAD 1200 + 1000 + 5000 = 12,200, L1 halt_wake 4000.
    const chain = reflectedChainCost(p, setup.hypervisor, 12);
    assert.equal(chain.l0Cycles, 12_200);
    assert.equal(chain.l1WakeCycles, 4_000);
    assert.equal(chain.resumeCycles, 6_000);
    // τ = 16,200 − 6,000 − 4,000 + (L1's HLT 5000 − halt_wake 4000) = 7,200.
    assert.equal(idleWindowCycles(setup, "L1", 16_200), 7_200);
  });

  it("rates: ρ, idle exits, wake-ups and host CPU at L0, by hand", () => {
    const e = nestedEstimate(p, "l2")!;
    // G = 10k × 2000 = 2e7; p = G/hz = 0.01 (the vCPU blocks); D = one exit: L0's 1400 less the
    // round trip the chain pays + chain(EXTERNAL_INTERRUPT, default L1 handler: L0 12,200, L1 300)
    // = 12,900; S = e^(−10⁴ × 7200 / 2e9) = 0.9646403; k = Λ/S; T = 16,200 + S × 6,300. An
    // arrival in root mode (busy outside guest mode, ρ − p) owes the nested exit L0 synthesizes,
    // the chain less its round trip, R = Λ × 11,500 per unit of root share:
    // ρ·hz = G + D·Λ·p + R·(ρ − p) + k(1 − ρ)·T → ρ = (G + (DΛ − R)·p + k·T)/(hz + k·T − R) = 0.1186605;
    // N = k(1 − ρ) = 9,136.46 idle exits/s; wake-ups Λ(1 − ρ) = 8,813.40/s.
    // Before the split of root time (estimate.ts RootSplit: every root arrival synthesized) this
    // gave ρ = 0.1186605, N = 9,136.46, wake-ups 8,813.40; with it, at the estimate's split:
    near(e.guestShare, 0.01, "p");
    const S = 0.9646402934831231;
    const k = splitByHand(e, { G: 2e7, D: 12_900, lambda: 1e4, T: 16_200 + S * 6_300, kk: 1e4 / S, p: 0.01 });
    near(e.idle!.idlePeriodsPerSecond, (1e4 / S) * (1 - k.rho), "N");
    near(e.idle!.wakeUpsPerSecond, 1e4 * (1 - k.rho), "wake-ups");
    near(e.idle!.survival, 0.9646402934831231, "S");
    assert.equal(e.idle!.l0CyclesPerWake, 6_200);
    assert.equal(e.idle!.l0ExitsPerWake, 2);
    const hlt = e.byReason.find((r) => r.reason === "HLT")!;
    assert.equal(hlt.level, "L1");
    near(hlt.exitsPerSecond, (1e4 / S) * (1 - k.rho), "HLT exits");
    // Only the arrivals in guest mode (Λ·p = 100/s) take an exit, one each (no L0 row of its
    // own); the nested one also those in root mode, Λ(ρ − p) = 1,086.60/s, synthesized at the
    // next nested entry (no L2 exit).
    assert.equal(
      e.byReason.some((x) => x.reason === "EXTERNAL_INTERRUPT" && x.level === "L0"),
      false,
    );
    const ext = e.byReason.find((x) => x.reason === "EXTERNAL_INTERRUPT" && x.level === "L1")!;
    near(ext.exitsPerSecond, k.X, "L1");
    // L0: N × 12,200 + 100 × (400 + 12,200) + wake-ups × 6,200 + synthesized × 11,200 + the
    // arrivals on L1's side × (2,600 running, 1,200 emulating), over 2e9.
    const N = (1e4 / S) * (1 - k.rho);
    near(
      e.hostCpu.l0,
      (N * 12_200 +
        100 * 12_600 +
        1e4 * (1 - k.rho) * 6_200 +
        e.synthesizedPerSecond * 11_200 +
        k.inRoot * (k.s1 * 2_600 + k.s2 * 1_200)) /
        2e9,
      "L0 cores",
    );
  });

  it("hovers: the idle line names who blocks and the wake-up per level; the guest hover adds it", () => {
    const g = p.guests.get("l2")!;
    const idle = nestedOperationHover(p, g.idleSpan!)!.join("\n");
    assert.match(idle, /Idle: L1 blocks the idle L2/);
    assert.match(idle, /Wake-up beyond the HLT: 6,200 cycles in L0, 100 in L1/);
    const guestLines = nestedGuestHover(p, g)!.join("\n");
    assert.match(guestLines, /busy 11\.9% of a vCPU/);
  });
});

describe("nested idle: L0's halt polling where L0 blocks the vCPU", () => {
  const withPolling = (spec12: VmcsSpec, vmcs01?: VmcsSpec) => {
    const p = l2(spec12, [nic()], { vmcs01 });
    p.target.host = defaultHost(); // KVM's halt_poll_ns (200 µs), adaptive
    return nestedEstimate(p, "l2")!;
  };

  it("L1 blocks and its HLT exits to L0: a caught arrival saves L0's halt_wake of the wake-up", () => {
    const e = withPolling({ pin: ["external_interrupt_exiting"], proc: ["hlt_exiting"] });
    const success = e.idle!.haltPollSuccess;
    assert.ok(success > 0 && success <= 1, `${success}`);
    // The wake-up chain without polling: 6,200 cycles in L0 (L1's HLT 5,000 with halt_wake 4,000).
    near(e.idle!.l0CyclesPerWake, 6_200 - success * 4_000, "L0 cycles per wake-up");
  });

  it("L1 blocks and its HLT does not exit (vmcs01 without HLT exiting): L0 does not block, no poll", () => {
    const e = withPolling(
      { pin: ["external_interrupt_exiting"], proc: ["hlt_exiting"] },
      { ...VMCS01, proc: ["use_msr_bitmaps", "use_io_bitmaps"] },
    );
    assert.equal(e.idle!.mode, "L1");
    assert.equal(e.idle!.haltPollSuccess, 0);
  });

  it("L0 blocks: the poll saves the same halt_wake", () => {
    const e = withPolling({ pin: ["external_interrupt_exiting"] });
    const success = e.idle!.haltPollSuccess;
    assert.ok(success > 0);
    near(e.idle!.l0CyclesPerWake, 11_200 - success * 4_000, "L0 cycles per wake-up");
  });
});

describe("nested idle: L0 keeps the HLT (vmcs01's HLT exiting only)", () => {
  const p = l2({ pin: ["external_interrupt_exiting"] }, [nic()]);
  const setup = nestedSetup(p, p.guests.get("l2")!)!;

  it("the wake-up is the nested EXTERNAL_INTERRUPT exit vmx_check_nested_events synthesizes, less a round trip", () => {
    assert.equal(idleMode(setup), "L0");
    const w = wakeChain(setup, "L0", p.guests.get("l2")!.sources[0]);
    assert.equal(w.l0, 12_200 - 1_000);
    assert.equal(w.l1, 300);
    assert.equal(w.l0Exits, 2); // the trapped VMREAD and the VMRESUME
    assert.match(w.reference, /vmx_check_nested_events/);
    assert.equal(idleWindowCycles(setup, "L0", 5_000), 1_000);
  });

  it("rates by hand", () => {
    const e = nestedEstimate(p, "l2")!;
    // S = e^(−10⁴ × 1000/2e9) = 0.9950125; T = 5000 + S × 11,500; with the delivery and the
    // nested exits owed in root mode as above (D = 12,900, R = 11,500) ρ = 0.0904234;
    // N = 9,141.36; wake-ups 9,095.77; root arrivals Λ(ρ − p) = 804.23/s;
    // L0 = (N × 5000 + 100 × 12,600 + wake-ups × 11,200 + 804.23 × 11,200)/2e9 = 0.0789234 cores;
    // L1 = (100 + wake-ups + 804.23) × 300/2e9 = (100 + Λ(1 − p)) × 300/2e9.
    // Before the split of root time (every root arrival synthesized): ρ = 0.0904234, N =
    // 9,141.36, L0 0.0789234 cores, L1 0.0015; with it, at the estimate's split:
    const S = 0.9950124791926823;
    const k = splitByHand(e, { G: 2e7, D: 12_900, lambda: 1e4, T: 5_000 + S * 11_500, kk: 1e4 / S, p: 0.01 });
    near(e.idle!.idlePeriodsPerSecond, (1e4 / S) * (1 - k.rho), "N");
    const wakeUps = 1e4 * (1 - k.rho);
    near(
      e.hostCpu.l0,
      ((1e4 / S) * (1 - k.rho) * 5_000 +
        100 * 12_600 +
        wakeUps * 11_200 +
        e.synthesizedPerSecond * 11_200 +
        k.inRoot * (k.s1 * 2_600 + k.s2 * 1_200)) /
        2e9,
      "L0 cores",
    );
    // L1: every EXTERNAL_INTERRUPT chain's 300 (deliveries, wake-ups, synthesized) + 100 per inject on L1's side.
    near(
      e.hostCpu.l1,
      ((100 + wakeUps + e.synthesizedPerSecond) * 300 + k.inRoot * (k.s1 + k.s2) * 100) / 2e9,
      "L1 cores",
    );
    assert.equal(e.byReason.find((r) => r.reason === "HLT")!.level, "L0");
  });

  it("without external-interrupt exiting in vmcs12 L0 injects into L2 itself: no wake-up cost", () => {
    const q = l2({}, [nic()]);
    const w = wakeChain(nestedSetup(q, q.guests.get("l2")!)!, "L0", q.guests.get("l2")!.sources[0]);
    assert.equal(w.l0 + w.l1, 0);
  });

  it("an L2 that polls, or whose HLT no level intercepts, does not block", () => {
    const polling = l2({ pin: ["external_interrupt_exiting"] }, [nic()], { idle: "poll" });
    assert.equal(idleMode(nestedSetup(polling, polling.guests.get("l2")!)!), "none");
    const noHlt = l2({}, [nic()], { vmcs01: { ...VMCS01, proc: ["use_msr_bitmaps"] } });
    const e = nestedEstimate(noHlt, "l2")!;
    assert.equal(e.idle!.mode, "none");
    assert.equal(e.idle!.wakeUpsPerSecond, 0);
  });
});

describe("posted interrupts into L2 (vmcs12 process posted interrupts + virtual-interrupt delivery)", () => {
  const spec12: VmcsSpec = {
    pin: ["external_interrupt_exiting", "process_posted_interrupts"],
    proc: ["hlt_exiting"],
    proc2: ["virtual_interrupt_delivery"],
  };
  // L0 traps L1's ICR writes (no IPI virtualization): the notification is an MSR_WRITE exit.
  const vmcs01: VmcsSpec = { ...VMCS01, msr: [{ msr: 0x830, read: false, write: true }] };

  it("a posted irq takes no exit on L2's vCPU; it avoids the one exit and its chain into L1", () => {
    const p = l2(spec12, [nic(true)], { vmcs01 });
    const setup = nestedSetup(p, p.guests.get("l2")!)!;
    const d = nestedDelivery(setup, p.guests.get("l2")!.sources[0]!);
    assert.equal(d.posted, true);
    assert.deepEqual(d.exits, []);
    // One L2 exit: L0's 1,400 less the round trip + the chain's 12,500.
    assert.equal(d.avoidedExits, 1);
    assert.equal(d.avoidedCycles, 12_900);
    // The ICR write: MSR_WRITE with L0's default handler, 1000 + 50 + 300.
    assert.equal(d.notifyExits, 1);
    assert.equal(d.notifyCycles, 1_350);
    assert.match(d.reference, /vmx_deliver_nested_posted_interrupt/);
    const e = nestedEstimate(p, "l2")!;
    assert.equal(
      e.byReason.some((r) => r.reason === "EXTERNAL_INTERRUPT"),
      false,
    );
    assert.equal(e.posted!.postedPerSecond, 10_000);
    assert.deepEqual(e.l1Notify, { sendsPerSecond: 10_000, exitsPerSecond: 10_000, cyclesPerExit: 1_350 });
    near(e.posted!.inGuestModePerSecond, 100, "in guest mode (p = 0.01)");
    near(e.posted!.avoidedExitsPerSecond, 100, "avoided");
  });

  it("not posted without the source's `posted`, or without virtual-interrupt delivery in vmcs12", () => {
    const p = l2(spec12, [nic(false)], { vmcs01 });
    assert.equal(
      nestedDelivery(nestedSetup(p, p.guests.get("l2")!)!, p.guests.get("l2")!.sources[0]!).posted,
      false,
    );
    const q = l2({ ...spec12, proc2: [] }, [nic(true)], { vmcs01 });
    assert.equal(
      nestedDelivery(nestedSetup(q, q.guests.get("l2")!)!, q.guests.get("l2")!.sources[0]!).posted,
      false,
    );
  });

  it("wake-ups: L1 syncs the PIR (VMWRITE GUEST_INTR_STATUS, trapped here); with L0 blocking, no exit into L1", () => {
    const p = l2(spec12, [nic(true)], { vmcs01 });
    const w = wakeChain(nestedSetup(p, p.guests.get("l2")!)!, "L1", p.guests.get("l2")!.sources[0]);
    // L1's HLT 5000 + trapped VMWRITE 1200; no inject bookkeeping.
    assert.equal(w.l0, 6_200);
    assert.equal(w.l1, 0);
    assert.match(w.steps.map((s) => s.label).join(" "), /GUEST_INTR_STATUS/);
    const q = l2({ ...spec12, proc: [] }, [nic(true)], { vmcs01 });
    const w0 = wakeChain(nestedSetup(q, q.guests.get("l2")!)!, "L0", q.guests.get("l2")!.sources[0]);
    assert.equal(w0.l0, 60); // vmx_complete_nested_posted_interrupt's VMWRITE
    assert.equal(w0.l0Exits, 0);
  });

  it("the hover of an operation of the posted source says so", () => {
    const p = l2(spec12, [nic(true)], { vmcs01 });
    const g = p.guests.get("l2")!;
    // The guest's hover gives the posted figures; an operation of the source (one that exits) its delivery.
    const lines = nestedGuestHover(p, g)!.join("\n");
    assert.match(lines, /Posted into L2: 10k\/s interrupts/);
    const eoiSource = irq("nic", 0x41, { kind: "poisson", ratePerSec: 1000 }, [op({ op: "cpuid" })], true);
    const q = l2(spec12, [eoiSource], { vmcs01 });
    const cpuidLines = nestedOperationHover(q, eoiSource.ops[0]!.span)!.join("\n");
    assert.match(cpuidLines, /Its interrupt \(`nic`\): posted by L1 into L2/);
  });
});

describe("EPT02 first touch (a start-up figure, not a rate)", () => {
  const sources = [path("p", { kind: "poisson", ratePerSec: 1000 }, [op({ op: "compute", cycles: 100 })])];

  it("pages EPT12 maps that EPT01 maps too, × (round trip + EPT walk + ept02_fault)", () => {
    const p = l2({ proc2: ["enable_ept"], ept: [[0n, 0xffffn, RWX]] }, sources);
    const e = nestedEstimate(p, "l2")!;
    assert.equal(e.ept02!.pages, 16);
    assert.equal(e.ept02!.cyclesPerFault, 4_000);
    assert.equal(e.ept02!.cycles, 64_000);
    assert.equal(e.ept02!.seconds, 64_000 / 2e9);
    assert.match(e.ept02!.reference, /kvm_init_shadow_ept_mmu/);
    assert.match(e.ept02!.reference, /PTTYPE_EPT/);
    // Not in the rates: no EPT exits.
    assert.equal(
      e.byReason.some((r) => r.reason === "EPT_VIOLATION"),
      false,
    );
  });

  it("only the part EPT01 maps; none without EPT in vmcs12", () => {
    const vmcs01 = { ...VMCS01, ept: [[0x1_0000n, 0x7fff_ffffn, RWX]] as VmcsSpec["ept"] };
    const p = l2({ proc2: ["enable_ept"], ept: [[0n, 0x1_ffffn, RWX]] }, sources, { vmcs01 });
    assert.equal(nestedEstimate(p, "l2")!.ept02!.pages, 16);
    const q = l2({ ept: [[0n, 0xffffn, RWX]] }, sources);
    assert.equal(nestedEstimate(q, "l2")!.ept02, undefined);
  });

  it("the cost is overridable (`target { cost ept02_fault = N }`)", () => {
    const a = analyze(`target skylake_server @ 2GHz {
  cost ept02_fault = 10000
  cost round_trip = 1000
  cost ept_walk_level = 0
}
${vmcs01()}${vmcs12({ extra: ["ept { 0x0 .. 0x3f_ffff rwx }"] })}handler HLT { halt }
hypervisor l1 on vmcs01 {
  handler HLT { vmread VM_EXIT_REASON  halt  vmresume }
}
guest l2 on vmcs12 {
  path p rate 1k/s { compute 1us }
  idle halt
}
`);
    const e = nestedEstimate(a.program, "l2")!;
    // 4 MiB = 1,024 pages × (1000 + 10,000).
    assert.equal(e.ept02!.pages, 1024);
    assert.equal(e.ept02!.cyclesPerFault, 11_000);
  });
});

describe("the nested examples: clean, and every L2 operation's hover names the new terms", () => {
  const dir = new URL("../examples/", import.meta.url);
  const files = readdirSync(dir).filter((f) => f.startsWith("nested-") && f.endsWith(".vmcs"));

  it("there are the seven nested examples", () => assert.equal(files.length, 7));

  for (const file of files)
    it(file, () => {
      const a = analyze(readFileSync(new URL(file, dir), "utf8"));
      assert.deepEqual(
        a.diagnostics.filter((d) => d.severity === "error" || d.severity === "warning").map((d) => d.code),
        [],
      );
      let l2s = 0;
      for (const g of a.program.guests.values()) {
        const e = nestedEstimate(a.program, g.name);
        if (!e) continue;
        l2s++;
        assert.ok(e.busyShare > 0 && e.busyShare < 1, `${g.name} busy ${e.busyShare}`);
        for (const o of e.operations) {
          const lines = nestedOperationHover(a.program, o.span)?.join("\n") ?? "";
          for (const x of o.exits) assert.match(lines, new RegExp(`${x.reason}.*handled by ${x.level}`));
          const isIdle = g.idleSpan && o.span.start === g.idleSpan.start;
          if (isIdle) assert.match(lines, /Idle: L[01] blocks the idle L2/);
        }
        if (e.idle && e.idle.mode !== "none")
          assert.ok(
            e.operations.some((o) => o.span.start === g.idleSpan?.start),
            "the idle line has its hover",
          );
        const summary = nestedGuestHover(a.program, g)!.join("\n");
        assert.match(summary, /busy .* of a vCPU/);
        if (e.ept02) assert.match(summary, /EPT02 start-up .* pages/);
        if (e.posted) assert.match(summary, /Posted into L2/);
      }
      assert.ok(l2s > 0, "an L2 guest");
    });
});
