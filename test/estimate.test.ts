/**
 * The static estimator against hand-computed figures (arithmetic in the comments; the target's
 * round-number costs are in exitFixtures.ts: round_trip 1000, vmread 50, vmwrite 60,
 * decode 800, userspace_round_trip 6000, halt_wake 4000, advance_rip 70).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { handlerCost } from "../core/src/analysis/cost";
import { estimateData, estimateGuest } from "../core/src/analysis/estimate";
import { coalesceModel } from "../core/src/analysis/exits";
import { exitCost } from "../core/src/analysis/transitionCost";
import type { GuestEstimate } from "../core/src/analysis/types";
import { analyze } from "../core/src/index";
import type { GuestOp, HandlerOp } from "../core/src/model/ir";
import { vmcsFieldByName } from "../core/src/vmx/vmcsFields";
import { guest, handler, irq, path, program, S, span, timer, type VmcsSpec, vmcs } from "./exitFixtures";
import { EPT_WITH_DOORBELL, kvmVmcs } from "./support/kvmVmcs";

const close = (actual: number, expected: number, rel = 1e-9) =>
  assert.ok(
    Math.abs(actual - expected) <= rel * Math.max(1, Math.abs(expected)),
    `${actual} is not ${expected}`,
  );
const field = (name: string) => vmcsFieldByName(name)!;
const reasonRate = (e: GuestEstimate, name: string) =>
  e.byReason.find((r) => r.reason === name)?.exitsPerSecond ?? 0;
const compute = (cycles: number): GuestOp => ({ op: "compute", cycles, span: span() });

describe("estimateGuest", () => {
  it("a path with one EPT_MISCONFIG exit handled in user space", () => {
    // 2.1 GHz; handler: vmread + decode + userspace 9 us (= 18,900 cycles at 2.1 GHz).
    // cycles per exit = round_trip 1000 + vmread 50 + decode 800 + userspace_round_trip 6000
    //                 + 18,900 = 26,750 (transition 1000, handler 850, user space 24,900).
    // Path: 10k/s per vCPU, compute 3 us = 6,300 cycles, 2 vCPUs, idle poll.
    // exit cycles/s per vCPU = 10,000 × 26,750 = 267.5 M; guest = 10,000 × 6,300 = 63 M.
    // overhead = 267.5 / (63 + 267.5) = 0.809380; hostCpu = 2 × 267.5 M / 2.1 G = 0.254762;
    // demand = 330.5 M / 2.1 G = 0.157381; exits/s = 2 × 10k = 20k.
    const mmio: GuestOp = { op: "mmio", access: "write", gpa: 0xfebf0018n, span: span() };
    const v = vmcs({ proc2: ["enable_ept"], ept: [[0xfebf0000n, 0xfebfffffn, { kind: "misconfig" }]] });
    const g = guest({
      vcpus: 2,
      idle: "poll",
      sources: [path("send", { kind: "poisson", ratePerSec: 10_000 }, [compute(6300), mmio])],
    });
    const h = handler("EPT_MISCONFIG", [
      { op: "vmread", field: field("GUEST_PHYSICAL_ADDRESS"), span: S },
      { op: "decode", span: S },
      { op: "userspace", cycles: 18_900, span: S },
    ]);
    const p = program(v, g, [h], { hz: 2.1e9 });
    const cost = handlerCost(p, 49);
    assert.deepEqual(
      [cost.transition, cost.handler, cost.userspace, cost.total],
      [1000, 850, 24_900, 26_750],
    );
    const e = estimateGuest(p, "g");
    close(e.exitsPerSecond, 20_000);
    close(e.overhead, 267.5 / 330.5);
    close(e.hostCpu, (2 * 267.5e6) / 2.1e9);
    close(e.demand, 330.5e6 / 2.1e9);
    assert.equal(e.byReason.length, 1);
    assert.equal(e.byReason[0]!.reason, "EPT_MISCONFIG");
    assert.equal(e.byReason[0]!.cyclesPerExit, 26_750);
    assert.equal(e.byReason[0]!.share, 1);
    assert.deepEqual(e.paths[0]!.exits, [{ reason: "EPT_MISCONFIG", code: 49, perExecution: 1 }]);
    assert.equal(e.paths[0]!.cyclesPerExecution, 6300 + 26_750);
    // The MMIO operation's hover figures: 10k exits/s per vCPU, 26,750 cycles each;
    // vcpuShare = 267.5 M / 2.1 G = 0.127381, hostShare = 2 × that.
    const o = e.operations.find((x) => x.span === mmio.span)!;
    close(o.exitsPerSecond, 10_000);
    close(o.cyclesPerExit, 26_750);
    close(o.vcpuShare, 267.5e6 / 2.1e9);
    close(o.hostShare, (2 * 267.5e6) / 2.1e9);
    // Ten times the rate saturates the vCPU: demand = 3,305 M / 2.1 G = 1.5738.
    const g2 = guest({
      vcpus: 2,
      sources: [path("send", { kind: "poisson", ratePerSec: 100_000 }, [compute(6300), mmio])],
    });
    close(estimateGuest(program(v, g2, [h], { hz: 2.1e9 }), "g").demand, 3305e6 / 2.1e9);
  });

  const legacy: VmcsSpec = { pin: ["external_interrupt_exiting"], proc: ["hlt_exiting"] };
  const handlers = () => [
    handler("EXTERNAL_INTERRUPT", [{ op: "work", cycles: 400, span: S }]), // 1000 + 400 = 1400
    handler("HLT", [{ op: "halt", span: S }]), // 1000 + halt_wake 4000 = 5000
  ];

  it("idle halt: interrupts finding the vCPU halted wake it instead of exiting", () => {
    // irq 10k/s, 2,000 guest cycles each, 2 GHz, 1 vCPU, idle halt with HLT exiting
    // (docs/estimator.md "Idle model"). An interrupt exits only in guest mode, i.e. during the
    // 20 M guest cycles/s: p = 20 M / 2 G = 0.01 ⇒ EXTERNAL_INTERRUPT/s = 100.
    // A HLT exit runs 1000 cycles before the vCPU blocks (its 4000-cycle wake-up comes after);
    // an arrival in those τ = 0.5 µs ends the idle period before it starts: N = k·(1−ρ) with
    // k = 10k·e^(10k·0.5 µs) = 10k·e^0.005. ρ·2 G = 20 M + 14 M·p + N·5000
    // ⇒ ρ = (20 M + 0.14 M + 5000·k) / (2 G + 5000·k).
    const g = guest({
      idle: "halt",
      sources: [irq("nic", 0x41, { kind: "poisson", ratePerSec: 10_000 }, [compute(2000)])],
    });
    const e = estimateGuest(program(vmcs(legacy), g, handlers()), "g");
    const k = 10_000 * Math.exp(0.005);
    const rho = (20e6 + 0.14e6 + 5000 * k) / (2e9 + 5000 * k);
    close(reasonRate(e, "EXTERNAL_INTERRUPT"), 100);
    close(reasonRate(e, "HLT"), k * (1 - rho));
    close(e.demand, rho);
    // overhead: exit cycles/s = 100·1400 + N·5000; guest 20 M.
    const exitCycles = 100 * 1400 + k * (1 - rho) * 5000;
    close(e.overhead, exitCycles / (exitCycles + 20e6));
    const idle = e.paths.find((p) => p.kind === "idle")!;
    close(idle.executionsPerSecond, k * (1 - rho));
  });

  it("posted interrupts: no EXTERNAL_INTERRUPT exits, HLT still per idle period", () => {
    // No delivery term: ρ = (20 M + 5000·k) / (2 G + 5000·k), k = 10k·e^0.005 (see above).
    const apicv: VmcsSpec = {
      pin: ["external_interrupt_exiting", "process_posted_interrupts"],
      proc: ["hlt_exiting", "use_tpr_shadow"],
      proc2: ["virtual_interrupt_delivery"],
    };
    const g = guest({
      idle: "halt",
      sources: [irq("nic", 0x41, { kind: "poisson", ratePerSec: 10_000 }, [compute(2000)], true)],
    });
    const e = estimateGuest(program(vmcs(apicv), g, handlers()), "g");
    const k = 10_000 * Math.exp(0.005);
    const rho = (20e6 + 5000 * k) / (2e9 + 5000 * k);
    assert.equal(reasonRate(e, "EXTERNAL_INTERRUPT"), 0);
    close(reasonRate(e, "HLT"), k * (1 - rho));
    // Not posted (no `posted`), same VMCS: exits again.
    const g2 = guest({
      idle: "halt",
      sources: [irq("nic", 0x41, { kind: "poisson", ratePerSec: 10_000 }, [compute(2000)])],
    });
    assert.ok(
      // 10k/s × guest-mode share 0.01 = 100/s, as in the idle-halt case above.
      reasonRate(estimateGuest(program(vmcs(apicv), g2, handlers()), "g"), "EXTERNAL_INTERRUPT") > 90,
    );
  });

  it("halting in the guest (no HLT exiting): every interrupt arriving in guest mode exits", () => {
    // The vCPU is in guest mode except while handling delivery exits: p = 1 − 14 M·p / 2 G
    // ⇒ p = 2 G / (2 G + 14 M); EXTERNAL_INTERRUPT/s = 10k·p = 9,930.49.
    const g = guest({
      idle: "halt",
      sources: [irq("nic", 0x41, { kind: "poisson", ratePerSec: 10_000 }, [compute(2000)])],
    });
    const e = estimateGuest(program(vmcs({ pin: ["external_interrupt_exiting"] }), g, handlers()), "g");
    close(reasonRate(e, "EXTERNAL_INTERRUPT"), (10_000 * 2e9) / (2e9 + 14e6));
    assert.equal(reasonRate(e, "HLT"), 0);
  });

  it("PML against write protection for 16 dirty pages per execution", () => {
    // 2k/s per vCPU, 4 vCPUs, compute 60,000 cycles (30 us at 2 GHz), idle poll.
    // Write protection: 16 EPT_VIOLATION per execution; handler 1000 + 2·50 + 1200 = 2,300.
    //   per vCPU 32k exits/s; all 128k/s; exit cycles/s 73.6 M; overhead 73.6/(120+73.6) = 0.380165.
    // PML: 16/512 = 0.03125 PML_FULL per execution; handler 1000 + 50 + 9000 + 60 = 10,110.
    //   per vCPU 62.5/s; all 250/s; exit cycles/s 631,875; overhead 631,875/120,631,875 = 0.0052381.
    const dirty: GuestOp = { op: "dirty", pages: 16, span: span() };
    const src = () => [path("update", { kind: "poisson", ratePerSec: 2000 }, [compute(60_000), dirty])];
    const hs = [
      handler("EPT_VIOLATION", [
        { op: "vmread", field: field("EXIT_QUALIFICATION"), span: S },
        { op: "vmread", field: field("GUEST_PHYSICAL_ADDRESS"), span: S },
        { op: "work", cycles: 1200, span: S },
      ]),
      handler("PML_FULL", [
        { op: "vmread", field: field("GUEST_PML_INDEX"), span: S },
        { op: "work", cycles: 9000, span: S },
        { op: "vmwrite", field: field("GUEST_PML_INDEX"), span: S },
      ]),
    ];
    const wp = estimateGuest(
      program(vmcs({ proc2: ["enable_ept"] }), guest({ vcpus: 4, sources: src() }), hs),
      "g",
    );
    close(reasonRate(wp, "EPT_VIOLATION"), 128_000);
    close(wp.overhead, 73.6 / 193.6);
    const pml = estimateGuest(
      // PML logs only with EPT A/D flags (EPTP bit 6; issue 12.5): WB, 4 levels, A/D = 0x5e.
      program(
        vmcs({ proc2: ["enable_ept", "enable_pml"], fields: { EPT_POINTER: 0x5en } }),
        guest({ vcpus: 4, sources: src() }),
        hs,
      ),
      "g",
    );
    close(reasonRate(pml, "PML_FULL"), 250);
    assert.equal(reasonRate(pml, "EPT_VIOLATION"), 0);
    close(pml.overhead, 631_875 / 120_631_875);
  });

  it("PAUSE-loop exiting in a probabilistic spin", () => {
    // 20k/s; 10% spin 40,000 cycles (20 us) → floor(40000/4096) = 9 exits; 90% spin 600 → 0.
    // exits per execution 0.9 → 18,000/s per vCPU, 8 vCPUs → 144,000/s.
    // PAUSE handler work 600 + kick 2000: 1000 + 2600 = 3,600 cycles per exit.
    // Spinning is guest time: 0.1·40,000 + 0.9·600 = 4,540 guest cycles per execution.
    const spin = (cycles: number): GuestOp => ({ op: "pause_loop", cycles, span: span() });
    const b: GuestOp = {
      op: "branch",
      span: span(),
      arms: [
        { probability: 0.1, ops: [spin(40_000)], span: S },
        { probability: 0.9, ops: [spin(600)], span: S },
      ],
    };
    const v = vmcs({ proc2: ["pause_loop_exiting"], ple: { gap: 128, window: 4096 } });
    const g = guest({ vcpus: 8, sources: [path("cs", { kind: "poisson", ratePerSec: 20_000 }, [b])] });
    const hs = [
      handler("PAUSE_INSTRUCTION", [
        { op: "work", cycles: 600, span: S },
        { op: "kick", span: S },
      ] satisfies HandlerOp[]),
    ];
    const e = estimateGuest(program(v, g, hs), "g");
    close(reasonRate(e, "PAUSE_INSTRUCTION"), 144_000);
    close(e.paths[0]!.guestCyclesPerExecution, 4540);
    close(e.paths[0]!.exitCyclesPerExecution, 0.9 * 3600);
  });

  it("tickless timer: one deadline write and timer interrupt per busy period", () => {
    // Housekeeping 20/s × 80,000 cycles; timer ops: wrmsr IA32_TSC_DEADLINE (trapped) + compute
    // 4,000 + eoi (x2APIC, trapped). MSR_WRITE: 1000 + 300 + 70 = 1,370; EXTERNAL_INTERRUPT:
    // 1000 + 350 = 1,350; HLT 5,000.
    // Tickless cycles per busy period = 4,000 + 2·1,370 + 1,350 = 8,090; per idle period with
    // the HLT exit: T = 13,090, of which tc = 4,000 guest. Up to the block τ = (13,090 − 4,000
    // wake-up) cycles = 4.545 µs: k = 20·e^(20·τ). Guest-mode share p = (1.6 M + N·4,000)/2 G
    // (housekeeping is a path: no delivery exits, D = 0), so ρ = (1.6 M + k·T)/(2 G + k·T).
    // Rates per second: HLT = timer executions = N = k·(1−ρ); MSR_WRITE 2× that; ext. int. 1×.
    const v = vmcs({
      pin: ["external_interrupt_exiting"],
      proc: ["hlt_exiting", "use_msr_bitmaps"],
      msr: [
        { msr: 0x6e0, read: false, write: true },
        { msr: 0x80b, read: false, write: true },
      ],
    });
    const timerOps = (): GuestOp[] => [
      { op: "wrmsr", msr: 0x6e0, span: span() },
      compute(4000),
      { op: "eoi", span: span() },
    ];
    const hs = [
      handler("MSR_WRITE", [
        { op: "work", cycles: 300, span: S },
        { op: "advance_rip", span: S },
      ]),
      handler("EXTERNAL_INTERRUPT", [{ op: "work", cycles: 350, span: S }]),
      handler("HLT", [{ op: "halt", span: S }]),
    ];
    const housekeeping = () => path("hk", { kind: "poisson", ratePerSec: 20 }, [compute(80_000)]);
    const tickless = guest({
      idle: "halt",
      sources: [timer({ kind: "tickless", hz: 250 }, timerOps()), housekeeping()],
    });
    const e = estimateGuest(program(v, tickless, hs), "g");
    // While busy the tick runs at HZ = 250 (tick-sched.c stops it only on idle entry): ρ·250
    // more ticks of 8,090 cycles each, so ρ = (1.6 M + k·T)/(2 G + k·T − 250·8,090).
    const k = 20 * Math.exp((20 * 9090) / 2e9);
    const rho = (1.6e6 + k * 13_090) / (2e9 + k * 13_090 - 250 * 8090);
    const n = k * (1 - rho);
    const busy = 250 * rho;
    close(reasonRate(e, "HLT"), n);
    close(reasonRate(e, "MSR_WRITE"), 2 * (n + busy));
    close(reasonRate(e, "EXTERNAL_INTERRUPT"), n + busy);
    close(e.exitsPerSecond, 4 * n + 3 * busy);
    // Periodic 1000 Hz: ≥ 1000 timer interrupts and deadline writes every second, idle or not.
    const periodic = guest({
      idle: "halt",
      sources: [timer({ kind: "periodic", periodSec: 0.001 }, timerOps()), housekeeping()],
    });
    const p = estimateGuest(program(v, periodic, hs), "g");
    close(reasonRate(p, "MSR_WRITE"), 2000);
    assert.ok(reasonRate(p, "HLT") > 1000 && reasonRate(p, "HLT") < 1020);
    assert.ok(p.exitsPerSecond > 10 * e.exitsPerSecond);
  });

  it("returns an empty estimate for an unknown guest instead of throwing", () => {
    const e = estimateGuest(program(vmcs({}), guest({})), "nope");
    assert.equal(e.exitsPerSecond, 0);
    assert.deepEqual(e.byReason, []);
  });

  it("from source text: the spec's netperf doorbell through parse and lower", () => {
    // cycles per EPT_MISCONFIG = round_trip + vmread + decode
    //   + 0.95 × (userspace_round_trip + 9 us × 2.1 GHz = 18,900) + 0.05 × 900, from the profile.
    const text = `target skylake_server @ 2.1GHz
${kvmVmcs({ name: "kvm", ept: EPT_WITH_DOORBELL })}
handler EPT_MISCONFIG {
  vmread GUEST_PHYSICAL_ADDRESS
  decode
  branch { 95% doorbell: userspace 9us  5% other: work 900 }
}
guest netperf on kvm {
  vcpus 2
  path send rate 10k/s { compute 3us  mmio write 0xfebf_0018 }
  idle poll
}
`;
    const a = analyze(text);
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    const c = a.program.target.costs;
    const perExit =
      c.round_trip.cycles +
      c.vmread.cycles +
      c.decode.cycles +
      0.95 * (c.userspace_round_trip.cycles + 18_900) +
      0.05 * 900;
    close(handlerCost(a.program, 49).total, perExit);
    // The vmcs's transition adds the EPT walk of a misconfiguration (4 levels) and the
    // distribution's tail share (docs/estimator.md, "Transition cost").
    // The guest is not pinned: its vCPUs may migrate, so the tail is transition_tail_migrating.
    const transitionExtra =
      4 * c.ept_walk_level.cycles + 0.05 * c.transition_tail_migrating.cycles * (1 - Math.exp(-10));
    const vmcs = a.program.vmcs.get("kvm");
    close(exitCost(a.program, vmcs, 49, true).total, perExit + transitionExtra);
    const e = estimateGuest(a.program, "netperf");
    close(e.exitsPerSecond, 20_000);
    const exitCycles = 10_000 * (perExit + transitionExtra);
    close(e.overhead, exitCycles / (exitCycles + 10_000 * 6300));
    close(e.hostCpu, (2 * exitCycles) / 2.1e9);
    const mmioStart = text.indexOf("mmio write");
    const o = e.operations.find((x) => x.span.start <= mmioStart && x.span.end > mmioStart)!;
    assert.equal(o.decision.exits[0]!.reason.name, "EPT_MISCONFIG");
    close(o.exitsPerSecond, 10_000);
  });

  it("coalesce: expected batch E[min(N, 1 + K)], K ~ Poisson(λT), by hand", () => {
    // N = 2, λT = 0.5: E[B] = P(K ≥ 0) + P(K ≥ 1) = 1 + (1 − e^−0.5) = 2 − e^−0.5 = 1.39347.
    const two = coalesceModel(2, 50e-6, { kind: "poisson", ratePerSec: 10_000 });
    close(two.batchSize, 2 - Math.exp(-0.5));
    close(two.flushProbability, 1 / (2 - Math.exp(-0.5)));
    // The timeout closes the batch when K < N − 1 = 1: P(K = 0) = e^−0.5.
    close(two.timeoutShare, Math.exp(-0.5));
    // N = 4, λT = 1: 1 + (1 − e^−1) + (1 − 2e^−1) + (1 − 2.5e^−1) = 4 − 5.5/e = 1.97666;
    // timeout share P(K ≤ 2) = e^−1 (1 + 1 + 1/2) = 2.5/e.
    const four = coalesceModel(4, 50e-6, { kind: "poisson", ratePerSec: 20_000 });
    close(four.batchSize, 4 - 5.5 / Math.E);
    close(four.timeoutShare, 2.5 / Math.E);
    // The issue's case: λ = 100k/s, N = 16, T = 50 µs, λT = 5. E[min(16, 1 + K)] = 1 + E[K] −
    // E[(K − 15)⁺] = 6 − Σ_{k≥16} (k − 15)·e^−5·5^k/k! = 6 − 9.6145e−5 = 5.9999039 (the sum
    // computed term by term); the count limit nearly never closes a batch: P(K ≥ 15) = 2.26e−4.
    const issue = coalesceModel(16, 50e-6, { kind: "poisson", ratePerSec: 100_000 });
    close(issue.batchSize, 5.999903855246951, 1e-12);
    close(issue.timeoutShare, 1 - 0.0002262536761766798, 1e-9);
    // Count-dominated: λT = 100 ≫ 16, every batch fills: E[B] = 16, no timeouts.
    const full = coalesceModel(16, 200e-6, { kind: "poisson", ratePerSec: 500_000 });
    assert.equal(full.batchSize, 16);
    assert.ok(full.timeoutShare < 1e-15);
    // e^−1500 underflows: the pmf is stepped in log space. N − 1 = 1999 is 12.9σ above the
    // mean, so E[B] = 1 + E[K] = 1501 to double precision.
    close(coalesceModel(2000, 1, { kind: "poisson", ratePerSec: 1500 }).batchSize, 1501, 1e-12);
    // A branch arm thins the stream: 25 % of 80k/s = 20k/s at the site, as the N = 4 case.
    close(coalesceModel(4, 50e-6, { kind: "poisson", ratePerSec: 80_000 }, 0.25).batchSize, 4 - 5.5 / Math.E);
  });

  it("coalesce: periodic executions are deterministic, tickless an upper bound", () => {
    // Every 7 µs, T = 50 µs: executions at 0, 7, …, 49 µs join: ⌈50/7⌉ = 8 per batch.
    const seven = coalesceModel(16, 50e-6, { kind: "periodic", periodSec: 7e-6 });
    assert.equal(seven.batchSize, 8);
    assert.equal(seven.timeoutShare, 1);
    // Every 10 µs: the execution at 50 µs comes after the deadline: 5, not 6.
    assert.equal(coalesceModel(16, 50e-6, { kind: "periodic", periodSec: 10e-6 }).batchSize, 5);
    const count = coalesceModel(4, 50e-6, { kind: "periodic", periodSec: 10e-6 });
    assert.equal(count.batchSize, 4);
    assert.equal(count.timeoutShare, 0);
    // repeat 2 in an `every 10us` path: spacing 5 µs ⇒ 10 per batch.
    assert.equal(coalesceModel(16, 50e-6, { kind: "periodic", periodSec: 10e-6 }, 2).batchSize, 10);
    assert.equal(coalesceModel(16, 50e-6, { kind: "tickless", hz: 250 }).flushProbability, 1);
    // No arrival given (decideExit alone): the count limit.
    assert.equal(coalesceModel(16, 50e-6, undefined).flushProbability, 1 / 16);
  });

  it("coalesce: a source's exits, compute and operation estimates scale by 1/E[B]", () => {
    const text = `target skylake_server @ 2GHz
vmcs kvm {
  proc hlt_exiting use_tsc_offsetting use_msr_bitmaps use_io_bitmaps activate_secondary_controls
  proc2 enable_ept
  io trap 0xc050
  ept { 0x0 .. 0xffff_ffff rwx }
}
handler IO_INSTRUCTION { work 1000 }
guest virtio on kvm {
  vcpus 2
  idle poll
  path tx rate 100k/s { compute 2000  coalesce 16 or 50us { out 0xc050  compute 400 } }
}
`;
    const a = analyze(text);
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity === "error").map((d) => d.message),
      [],
    );
    const batch = 5.999903855246951;
    const e = estimateGuest(a.program, "virtio");
    close(reasonRate(e, "IO_INSTRUCTION"), (2 * 100_000) / batch, 1e-12);
    const tx = e.paths.find((p) => p.name === "tx")!;
    close(tx.exits[0]!.perExecution, 1 / batch, 1e-12);
    close(tx.guestCyclesPerExecution, 2000 + 400 / batch, 1e-12);
    const at = (needle: string) => e.operations.find((o) => o.span.start === text.indexOf(needle))!;
    close(at("out 0xc050").exitsPerSecond, 100_000 / batch, 1e-12);
    const site = at("coalesce 16");
    close(site.exitsPerSecond, 100_000 / batch, 1e-12);
    assert.match(site.decision.rule, /once per 6\.00 executions/);
    assert.match(site.decision.detail ?? "", /λT = 5, E\[batch\]/);
  });
});

describe("estimate breakdowns solved on first read", () => {
  const text = `target skylake_server @ 2GHz
vmcs kvm {
  pin external_interrupt_exiting
  proc hlt_exiting use_io_bitmaps activate_secondary_controls
  proc2 enable_ept
  io trap 0x3f8
  ept { 0x0 .. 0xffff_ffff rwx }
}
handler IO_INSTRUCTION { work 600  advance_rip }
handler EXTERNAL_INTERRUPT { work 350 }
handler HLT { halt }
guest serial on kvm {
  vcpus 2
  path log rate 1k/s { compute 2us  out 0x3f8 }
  irq nic vector 0x41 rate 5k/s { compute 1us }
  idle halt
}
`;

  it("the kept exit-reason codes are the breakdown's, and reads give the same figures each time", () => {
    const a = analyze(text);
    const e = a.estimates.get("serial")!;
    // Read before the breakdown is solved: the codes the diagnostic pass uses.
    const codes = [...e.exitingReasonCodes];
    const byReason = e.byReason;
    assert.deepEqual(
      codes,
      byReason.filter((r) => r.exitsPerSecond > 0).map((r) => r.code),
    );
    assert.deepEqual(new Set(codes), new Set([30, 1, 12])); // IO_INSTRUCTION, EXTERNAL_INTERRUPT, HLT
    assert.equal(e.byReason, byReason, "solved once, then kept");
    // The totals are the breakdown's sums.
    close(
      e.exitsPerSecond,
      byReason.reduce((sum, r) => sum + r.exitsPerSecond, 0),
    );
    // A fresh estimate of the same program solves to the same figures.
    const again = estimateGuest(a.program, "serial");
    assert.deepEqual(JSON.parse(JSON.stringify(again)), JSON.parse(JSON.stringify(e)));
  });

  it("plain data survives a structured clone (the playground's panel) and JSON alike", () => {
    const e = analyze(text).estimates.get("serial")!;
    const cloned = structuredClone(estimateData(e, false));
    assert.deepEqual(cloned.byReason, JSON.parse(JSON.stringify(e.byReason)));
    assert.deepEqual(cloned.paths, JSON.parse(JSON.stringify(e.paths)));
    assert.equal("operations" in cloned, false);
    const json = JSON.parse(JSON.stringify(e));
    assert.deepEqual(Object.keys(json), [
      "guest",
      "target",
      "vcpus",
      "exitsPerSecond",
      "overhead",
      "hostCpu",
      "demand",
      "host",
      "exitingReasonCodes",
      "byReason",
      "paths",
      "operations",
    ]);
    assert.equal(json.operations.length, e.operations.length);
  });
});
