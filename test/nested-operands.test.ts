/**
 * Handlers specialised by operand in a nested file (issue #13): an L2 exit reflected to L1 runs
 * L1's `handler REASON OPERAND` when its operand matches, else L1's general handler; an exit L0
 * keeps runs L0's specialised handler the same way (model/handlers.ts is the one choice point).
 * The chain costs below are computed by hand from the file's `cost` overrides; the simulator
 * agrees with the estimate within 3 % (idle poll, as test/sim-nested.test.ts); the hover names
 * the handler; the lints check the handler the operand chooses.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reflectedChainCost } from "../core/src/analysis/nested/chain";
import { analyze, nestedEstimate, nestedOperationHover, simulate } from "../core/src/index";
import { hoverAt } from "../server/src/features/hover";
import { DocumentModel } from "../server/src/model";
import { vmcs01, vmcs12 } from "./support/nestedFixtures";

const MSR_WRITE = 32;
const IO_INSTRUCTION = 30;

const FILE = (opts: { l1General?: boolean; l0General?: boolean; misc?: boolean } = {}) => `
target skylake_server @ 2GHz {
  cost round_trip = 1000
  cost nested_vmexit = 4000
  cost nested_vmentry = 5000
  cost vmx_emulate = 200
  cost vmread = 50
  cost vmwrite = 60
  cost advance_rip = 70
  cost transition_jitter = 0
  cost transition_tail = 0
  cost transition_tail_migrating = 0
}
${vmcs01()}${vmcs12({ extra: ["msr trap write IA32_TSC_DEADLINE, IA32_MISC_ENABLE"] })}handler IO_INSTRUCTION port 0x80 { work 100 }
${opts.l0General === false ? "" : "handler IO_INSTRUCTION { work 2000 }"}
hypervisor l1 on vmcs01 {
  handler MSR_WRITE IA32_TSC_DEADLINE { vmread EXIT_QUALIFICATION  work 200  vmwrite GUEST_RIP  vmresume }
  ${opts.l1General === false ? "" : "handler MSR_WRITE { vmread VM_EXIT_REASON  vmread EXIT_QUALIFICATION  work 1500  advance_rip  vmresume }"}
}
guest l2 on vmcs12 {
  vcpus 2
  path tsc rate 10k/s { compute 5us  wrmsr IA32_TSC_DEADLINE }
  ${opts.misc === false ? "" : "path misc rate 2k/s { compute 5us  wrmsr IA32_MISC_ENABLE }"}
  path post rate 5k/s { compute 2us  out 0x80 }
  path cmos rate 1k/s { compute 2us  out 0x70 }
  idle poll
}
`;

// By hand, no VMCS shadowing (every VMREAD/VMWRITE of L1 exits: round_trip + vmx_emulate = 1,200):
//  specialised MSR_WRITE IA32_TSC_DEADLINE: L0 = 1,000 + 4,000 + 2 × 1,200 + 1,000 + 5,000 = 13,400;
//    L1 = 200; into L0 per chain: 2 + 2 = 4.
//  general MSR_WRITE: L0 = 1,000 + 4,000 + 4 × 1,200 (two VMREADs, advance_rip's VMREAD and
//    VMWRITE) + 1,000 + 5,000 = 15,800; L1 = 1,500 + 70 = 1,570; into L0: 2 + 4 = 6.
const SPECIAL = { l0: 13_400, l1: 200, transitions: 4 };
const GENERAL = { l0: 15_800, l1: 1_570, transitions: 6 };

describe("nested: handlers specialised by operand", () => {
  it("the chain of a reflected exit runs L1's handler for the operand (hand-computed)", () => {
    const a = analyze(FILE());
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    const l1 = a.program.hypervisors.get("l1")!;
    const special = reflectedChainCost(a.program, l1, MSR_WRITE, 0);
    const general = reflectedChainCost(a.program, l1, MSR_WRITE);
    assert.equal(special.l0Cycles, SPECIAL.l0);
    assert.equal(special.l1Cycles, SPECIAL.l1);
    assert.equal(special.l0Transitions, SPECIAL.transitions);
    assert.equal(special.handlerTitle, "MSR_WRITE IA32_TSC_DEADLINE");
    assert.equal(special.variant, 0);
    assert.equal(general.l0Cycles, GENERAL.l0);
    assert.equal(general.l1Cycles, GENERAL.l1);
    assert.equal(general.l0Transitions, GENERAL.transitions);
    assert.equal(general.handlerTitle, "MSR_WRITE");

    const e = nestedEstimate(a.program, "l2")!;
    const opAt = (needle: string) => {
      const at = FILE().indexOf(needle);
      return e.operations.find((o) => o.span.start === at)!;
    };
    const tsc = opAt("wrmsr IA32_TSC_DEADLINE");
    assert.equal(tsc.exits[0]!.level, "L1");
    assert.equal(tsc.exits[0]!.handler, "MSR_WRITE IA32_TSC_DEADLINE");
    assert.equal(tsc.l0CyclesPerExecution, SPECIAL.l0);
    assert.equal(tsc.l1CyclesPerExecution, SPECIAL.l1);
    const misc = opAt("wrmsr IA32_MISC_ENABLE");
    assert.equal(misc.exits[0]!.handler, "MSR_WRITE");
    assert.equal(misc.l0CyclesPerExecution, GENERAL.l0);
    assert.equal(misc.l1CyclesPerExecution, GENERAL.l1);

    // The MSR_WRITE row: 2 vCPUs × (10k + 2k)/s, per exit the rate-weighted mean of the two chains.
    const row = e.byReason.find((r) => r.code === MSR_WRITE && r.level === "L1")!;
    assert.ok(Math.abs(row.exitsPerSecond - 24_000) < 1e-6);
    assert.ok(Math.abs(row.l0CyclesPerExit - (10 * 13_400 + 2 * 15_800) / 12) < 1e-6);
    assert.ok(Math.abs(row.l1CyclesPerExit - (10 * 200 + 2 * 1_570) / 12) < 1e-6);
    assert.ok(Math.abs(row.l0TransitionsPerExit - (10 * 4 + 2 * 6) / 12) < 1e-9);
    // L1's exits into L0 (trapped instructions and VMRESUMEs): per chain transitions − 1.
    assert.ok(Math.abs(e.l1ExitsPerSecond - 2 * (10_000 * 3 + 2_000 * 5)) < 1e-6);
    // Both chains are listed for the report.
    assert.deepEqual(e.chains.map((c) => c.handlerTitle).sort(), [
      "MSR_WRITE",
      "MSR_WRITE IA32_TSC_DEADLINE",
    ]);
  });

  it("an exit L0 keeps runs L0's handler for the operand", () => {
    const a = analyze(FILE());
    const e = nestedEstimate(a.program, "l2")!;
    const at = (needle: string) => e.operations.find((o) => o.span.start === FILE().indexOf(needle))!;
    const post = at("out 0x80");
    const cmos = at("out 0x70");
    assert.equal(post.exits[0]!.level, "L0");
    assert.equal(post.exits[0]!.code, IO_INSTRUCTION);
    assert.equal(post.exits[0]!.handler, "IO_INSTRUCTION port 0x80");
    assert.equal(cmos.exits[0]!.handler, "IO_INSTRUCTION");
    // Same transition (vmcs01's), handlers of 100 and 2,000 cycles.
    assert.equal(cmos.l0CyclesPerExecution - post.l0CyclesPerExecution, 1_900);
    assert.equal(post.l1CyclesPerExecution, 0);
  });

  it("the simulator runs the same handlers: per-level figures within 3 % of the estimate", () => {
    const a = analyze(FILE());
    const e = nestedEstimate(a.program, "l2")!;
    const r = simulate(a.program, "l2", { durationSec: 1, seed: 5 });
    const n = r.nested!;
    const within = (sim: number, est: number, what: string) =>
      assert.ok(Math.abs(sim / est - 1) <= 0.03, `${what}: simulated ${sim}, estimated ${est}`);
    for (const k of [
      "l2ExitsPerSecond",
      "reflectedPerSecond",
      "l1ExitsPerSecond",
      "l0ExitsPerSecond",
    ] as const)
      within(n[k], e[k], k);
    for (const k of ["l0", "l1", "total"] as const) within(n.hostCpu[k], e.hostCpu[k], `hostCpu.${k}`);
    for (const b of e.byReason) {
      const s = n.byReason.find((x) => x.code === b.code && x.level === b.level)!;
      assert.ok(s, `${b.reason} at ${b.level} simulated`);
      within(s.exitsPerSecond, b.exitsPerSecond, `${b.reason} ${b.level} exits/s`);
      within(s.l0CyclesPerExit, b.l0CyclesPerExit, `${b.reason} ${b.level} L0 cycles`);
      if (b.l1CyclesPerExit > 0) within(s.l1CyclesPerExit, b.l1CyclesPerExit, `${b.reason} L1 cycles`);
      within(s.l0TransitionsPerExit, b.l0TransitionsPerExit, `${b.reason} ${b.level} into L0 per exit`);
    }
    // Had the simulator run L1's general handler for every MSR write, its L1 cycles per exit
    // would be 1,570, far from the mix's 428.
    const msr = n.byReason.find((x) => x.code === MSR_WRITE)!;
    assert.ok(msr.l1CyclesPerExit < 600, `L1 cycles per MSR_WRITE ${msr.l1CyclesPerExit}`);
    // The single-level per-handler rows see both of L1's handlers too.
    const row = r.byReason.find((x) => x.reason === "MSR_WRITE");
    assert.ok(row?.handlers?.some((h) => h.operand === "IA32_TSC_DEADLINE"));
  });

  it("the hover of an L2 operation names the handler its operand chooses and the chain's cost", () => {
    const text = FILE();
    const a = analyze(text);
    const span = a.program.guests.get("l2")!.sources[0]!.ops[1]!.span;
    const lines = nestedOperationHover(a.program, span)!.join("\n");
    assert.match(
      lines,
      /MSR_WRITE: handled by L1 .*runs L1's handler specialised by operand `MSR_WRITE IA32_TSC_DEADLINE`/,
    );
    assert.match(lines, /13,400 cycles in L0, 200 in L1/);
    // Through the language server, on the operation.
    const model = new DocumentModel(a);
    const misc = hoverAt(model, text.indexOf("wrmsr IA32_MISC_ENABLE") + 1);
    const value = (misc!.contents as { value: string }).value;
    assert.match(value, /runs L1's handler `MSR_WRITE`/);
    assert.match(value, /15,800 cycles in L0, 1,570 in L1/);
    const post = hoverAt(model, text.indexOf("out 0x80") + 1);
    assert.match(
      (post!.contents as { value: string }).value,
      /runs L0's handler specialised by operand `IO_INSTRUCTION port 0x80`/,
    );
  });

  it("lints: an operand no L1 handler takes is TL330, one a specialised handler takes is not", () => {
    const codes = (text: string) =>
      analyze(text)
        .diagnostics.filter((d) => d.code === "TL330" || d.code === "TL310")
        .map((d) => `${d.code} ${d.message}`);
    // Only the specialised L1 handler, and only IA32_TSC_DEADLINE written: nothing to report.
    assert.deepEqual(codes(FILE({ l1General: false, misc: false })), []);
    // IA32_MISC_ENABLE reaches L1 too: no handler of L1 takes it.
    const withMisc = codes(FILE({ l1General: false }));
    assert.equal(withMisc.length, 1);
    assert.match(
      withMisc[0]!,
      /^TL330 .*MSR_WRITE.* for this operand \(the specialised MSR_WRITE handlers take IA32_TSC_DEADLINE only\)/,
    );
    // L0's side: port 0x70 has no L0 handler when only port 0x80's is written.
    const l0 = codes(FILE({ l0General: false }));
    assert.equal(l0.length, 1);
    assert.match(
      l0[0]!,
      /^TL310 .*IO_INSTRUCTION.* for this operand \(the specialised IO_INSTRUCTION handlers take port 0x80 only\)/,
    );
  });
});
