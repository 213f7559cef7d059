/**
 * Inputs that crashed, hung or gave figures that are not numbers, each kept as a regression test
 * in its smallest form: those listed in issue 15 and the counterexamples the fuzz harness
 * (test/fuzz.test.ts, scripts/fuzz.ts) shrank to.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MAX_SOURCE_BYTES } from "../cli/src/command";
import { nodeIO } from "../cli/src/node";
import { opsContainHalt } from "../core/src/analysis/exitDelivery";
import { analyze, applyEdits, handlerCost, lower, parse } from "../core/src/index";
import { runCliCaptured } from "./support/cliIO";
import { estimateProblems } from "./support/fuzz";

/** `fn f0 { call f1 call f1 } … fn f{n-1} { call fn call fn }  fn fn { work 1 }`. */
function diamond(levels: number): string {
  let text = "";
  for (let i = 0; i < levels; i++) text += `fn f${i} { call f${i + 1} call f${i + 1} }\n`;
  return `${text}fn f${levels} { work 1 }\n`;
}

const HALTING = `vmcs kvm { proc hlt_exiting }
handler HLT { call f0 halt }
guest g on kvm { path p rate 1k/s { compute 1us } }
`;

describe("fn call graphs cost linear time in their size", () => {
  it("a diamond of 24 levels (2^24 expanded calls) is costed once per fn", () => {
    const analysis = analyze(diamond(24) + HALTING);
    assert.deepEqual(
      analysis.diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    const costs = analysis.program.target.costs;
    const cost = handlerCost(analysis.program, 12);
    // 2^24 executions of `work 1`, then the halt's wake-up: the memo must not change the sum.
    assert.equal(cost.total, costs.round_trip.cycles + 2 ** 24 + costs.halt_wake.cycles);
    const estimate = analysis.estimates.get("g")!;
    assert.ok(Number.isFinite(estimate.hostCpu) && estimate.hostCpu >= 0);
  });

  it("a chain of 5,000 fns (each calling the next) does not overflow the stack", () => {
    let text = "";
    for (let i = 0; i < 5_000; i++) text += `fn f${i} { call f${i + 1} work 1 }\n`;
    text += `fn f5000 { work 1 }\n${HALTING}`;
    const analysis = analyze(text);
    assert.deepEqual(
      analysis.diagnostics.filter((d) => d.code === "TL999"),
      [],
    );
    const costs = analysis.program.target.costs;
    assert.equal(
      handlerCost(analysis.program, 12).total,
      costs.round_trip.cycles + 5_001 + costs.halt_wake.cycles,
    );
  });

  it("a cyclic graph (TL110) is costed once per fn, a call back into the chain counting 0", () => {
    // f0 → f1 → f0 and f1 → f1, below a diamond, so an exponential walk would not end.
    const text = `${diamond(22).replace("fn f22 { work 1 }", "fn f22 { call fa work 1 }")}
fn fa { call fb work 10 }
fn fb { call fa call fb work 100 }
${HALTING}`;
    const { program, diagnostics } = lower(parse(text));
    assert.ok(diagnostics.some((d) => d.code === "TL110"));
    const costs = program.target.costs;
    // fa = 10 + fb, fb = 100 (its calls of fa and of itself are cycles): f22 = 1 + 110.
    assert.equal(
      handlerCost(program, 12).total,
      costs.round_trip.cycles + 2 ** 22 * 111 + costs.halt_wake.cycles,
    );
    const analysis = analyze(text);
    assert.deepEqual(
      analysis.diagnostics.filter((d) => d.code === "TL999"),
      [],
    );
  });
});

describe("whether an MWAIT handler halts is exact at any call depth, linear in the call graph", () => {
  const MWAIT = `vmcs kvm { proc mwait_exiting }
handler MWAIT_INSTRUCTION { work 5 call f0 }
guest g on kvm { idle mwait  path p rate 1k/s { compute 1us } }
`;
  /** `fn f0 { call f1 } … fn f{n-1} { call fn }  fn fn { <last> }`. */
  const chain = (n: number, last: string) => {
    let text = "";
    for (let i = 0; i < n; i++) text += `fn f${i} { work 1 call f${i + 1} }\n`;
    return `${text}fn f${n} { ${last} }\n`;
  };
  const mwaitHandler = (program: ReturnType<typeof lower>["program"]) =>
    [...program.handlers.values()].find((h) => h.ops.some((o) => o.op === "call"))!;

  it("a halt 40 calls deep (past the old cap of 16) halts; the same chain ending in work does not", () => {
    for (const [last, halts] of [
      ["halt", true],
      ["work 1", false],
    ] as const) {
      const text = chain(40, last) + MWAIT;
      const { program } = lower(parse(text));
      assert.equal(opsContainHalt(mwaitHandler(program).ops, program), halts, last);
      const analysis = analyze(text);
      const idleNote = analysis.estimates.get("g")!;
      assert.ok(Number.isFinite(idleNote.hostCpu));
    }
    // 5,000 deep: no stack overflow, still exact.
    const { program } = lower(parse(chain(5_000, "repeat 0 { branch { 0% halt } }") + MWAIT));
    assert.equal(opsContainHalt(mwaitHandler(program).ops, program), true);
  });

  it("a diamond of 30 levels without a halt answers at once (2^30 paths, 31 fns)", () => {
    let text = "";
    for (let i = 0; i < 30; i++) text += `fn f${i} { call f${i + 1} call f${i + 1} }\n`;
    const { program } = lower(parse(`${text}fn f30 { work 1 }\n${MWAIT}`));
    assert.equal(opsContainHalt(mwaitHandler(program).ops, program), false);
  });

  it("in a cyclic graph (TL110) a halt anywhere on the cycle is found from wherever it is entered", () => {
    // f0 → fa → fb → fa; the halt sits in fa after its call of fb, so a walk that stops at the
    // back edge fb → fa and memoizes fb as "no halt" would answer wrongly when entered at fb.
    for (const entry of ["fa", "fb"]) {
      const text = `fn f0 { call ${entry} }
fn fa { call fb halt }
fn fb { work 1 call fa }
${MWAIT}`;
      const { program, diagnostics } = lower(parse(text));
      assert.ok(diagnostics.some((d) => d.code === "TL110"));
      assert.equal(opsContainHalt(mwaitHandler(program).ops, program), true, entry);
      // Both orders on the same program (the per-program memo does not depend on the entry).
      assert.equal(opsContainHalt(program.fns.get("fb")!.ops, program), true);
      assert.equal(opsContainHalt(program.fns.get("fa")!.ops, program), true);
    }
    const { program } = lower(
      parse(`fn f0 { call fa }\nfn fa { call fb }\nfn fb { call fa work 1 }\n${MWAIT}`),
    );
    assert.equal(opsContainHalt(mwaitHandler(program).ops, program), false);
  });
});

describe("estimate figures are finite and non-negative, or a located diagnostic says why", () => {
  it("a period shorter than 1 ns (`every 0.<300 zeros>1ns`) is TL206 at the literal, as a rate above 1G/s is", () => {
    const tiny = `0.${"0".repeat(300)}1ns`;
    const text = `vmcs kvm { proc hlt_exiting }
guest g on kvm { path p every ${tiny} { compute 1 }
  timer periodic 0.5ns { compute 1 }
  path ok every 1ns { compute 1 } }
`;
    const analysis = analyze(text);
    const tl206 = analysis.diagnostics.filter((d) => d.code === "TL206");
    assert.deepEqual(
      tl206.map((d) => text.slice(d.span.start, d.span.end)),
      [tiny, "0.5ns"],
    );
    const estimate = analysis.estimates.get("g")!;
    for (const figure of [estimate.exitsPerSecond, estimate.overhead, estimate.hostCpu])
      assert.ok(Number.isFinite(figure) && figure >= 0, String(figure));
  });
});

describe("branch arms above 100 % (TL204) are scaled to 100 % by lowering, so no figure goes negative", () => {
  // Shrunk from 29 inputs of `npm run fuzz -- 30000 7` (generated files with errors): three
  // empty arms of 100 % inside a `tsx` made its per-attempt exit probability 1 − 300 % = −2,
  // and the path's guest cycles −5,000 per execution (demand −0.09 %).
  const text = `vmcs kvm { proc hlt_exiting }
handler CPUID { branch { 100% work 1000 100% work 3000 } }
guest g on kvm { path p rate 1k/s { tsx { compute 1000 branch { 100% 100% 100% } } }
  path q rate 1k/s { branch { 100% cpuid 100% compute 500 } } }
`;

  it("the estimate of the file is finite and non-negative; TL204 is located at the branch", () => {
    const analysis = analyze(text);
    const sums = analysis.diagnostics.filter((d) => d.code === "TL204");
    assert.deepEqual(
      sums.map((d) => text.slice(d.span.start, d.span.end)),
      ["branch", "branch", "branch"],
    );
    assert.ok(sums.every((d) => d.severity === "error" && /more than 100%/.test(d.message)));
    const estimate = analysis.estimates.get("g")!;
    assert.deepEqual(estimateProblems("g", estimate), []);
    const p = estimate.paths.find((x) => x.name === "p")!;
    // The tsx body never exits: the path is its 1,000 cycles of compute, once.
    assert.equal(p.guestCyclesPerExecution, 1000);
  });

  it("each arm weighs its share of the sum: 100 % + 100 % is 50 % each, in handlers and guests", () => {
    const { program } = lower(parse(text));
    const costs = program.target.costs;
    assert.equal(handlerCost(program, 10).total, costs.round_trip.cycles + (1000 + 3000) / 2);
    const q = program.guests.get("g")!.sources.find((s) => s.name === "q")!;
    const branch = q.ops[0]!;
    assert.ok(branch.op === "branch");
    assert.deepEqual(
      branch.arms.map((a) => a.probability),
      [0.5, 0.5],
    );
  });
});

describe("the CLI reads only regular files of a bounded size", () => {
  /** `trapline check PATH` with the real file system, output captured. */
  async function check(path: string): Promise<{ status: number; stdout: string; stderr: string }> {
    const { status, stdout, stderr } = await runCliCaptured(["check", path], {}, { base: nodeIO });
    return { status, stdout, stderr };
  }

  function assertRefused(result: { status: number; stdout: string; stderr: string }, reason: RegExp): void {
    assert.equal(result.status, 2);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, reason);
  }

  it("/dev/zero and /dev/urandom (devices that never end) are refused before a byte is read", async () => {
    assertRefused(await check("/dev/zero"), /cannot read \/dev\/zero: not a regular file/);
    assertRefused(await check("/dev/urandom"), /cannot read \/dev\/urandom: not a regular file/);
  });

  it("a FIFO without a writer is refused, not waited on; a directory and a file past the limit too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trapline-cli-"));
    try {
      const fifo = join(dir, "pipe.vmcs");
      execFileSync("mkfifo", [fifo]);
      assertRefused(await check(fifo), /not a regular file/);
      assertRefused(await check(dir), /is a directory/);
      const big = join(dir, "big.vmcs");
      writeFileSync(big, "");
      truncateSync(big, MAX_SOURCE_BYTES + 1); // sparse: no 64 MiB written
      assertRefused(await check(big), /larger than the 64 MiB limit/);
      const fits = join(dir, "ok.vmcs");
      writeFileSync(fits, "vmcs kvm { proc hlt_exiting }\n");
      const ok = await check(fits);
      assert.equal(ok.status, 0, ok.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("quick fixes on a file with a syntax error produce text that parses no worse", () => {
  it("a statement added to an unclosed vmcs block goes on its own line, not inside its last token", () => {
    // Shrunk from a mutated examples/hypercall-unbatched.vmcs: the vmcs block's `}` deleted.
    const text = `vmcs kvm {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tsc_offsetting use_tpr_shadow use_msr_bitmaps activate_secondary_controls
  proc2 enable_ept enable_vpid unrestricted_guest
  exit  host_address_space_size acknowledge_interrupt_on_exit save_debug_controls
  entry ia32e_mode_guest load_debug_controls

handler VMCALL { work 250 }
guest g on kvm { path p rate 1k/s { vmcall } }
`;
    const parseErrors = (t: string) => parse(t).diagnostics.filter((d) => d.severity === "error").length;
    const analysis = analyze(text);
    const fixes = analysis.diagnostics.flatMap((d) => d.fixes ?? []);
    assert.ok(fixes.some((f) => f.title === "Set field VIRTUAL_PROCESSOR_ID = 1"));
    for (const fix of fixes) {
      const fixed = applyEdits(text, fix.edits);
      assert.ok(parseErrors(fixed) <= parseErrors(text), `${fix.title}:\n${fixed}`);
    }
  });
});

describe("did-you-mean fixes on a word glued to bad characters", () => {
  it("`sim<U+F0000>ulate` keeps the hint but offers no fix (the fix left the line to fail anew)", () => {
    // Shrunk from a mutated examples/pause-loop-exiting.vmcs (random bytes in `simulate`).
    const text = "vmcs kvm { proc hlt_exiting }\nsim\u{f05c5}ulate g for 1ms\n";
    const d = parse(text).diagnostics.find((x) => x.code === "TL010")!;
    assert.match(d.message, /did you mean `simulate`\?/);
    assert.equal(d.fixes, undefined);
    // A whole misspelled word still gets its fix.
    const whole = parse("vmcs kvm { proc hlt_exiting }\nsimulat g for 1ms\n").diagnostics.find(
      (x) => x.code === "TL010",
    )!;
    assert.equal(whole.fixes?.[0]?.edits[0]?.newText, "simulate");
  });
});

describe("a unit fix on a hex literal", () => {
  it("`rate 0x10` is fixed to `16/s` (hex literals take no unit: `0x10/s` did not parse)", () => {
    // Shrunk from mutated examples (a number replaced by a hex one after `rate`).
    const text = "vmcs kvm { proc hlt_exiting }\nguest g on kvm { path p rate 0x10 { compute 1 } }\n";
    const analysis = analyze(text);
    assert.deepEqual(parse(text).diagnostics, []);
    const fix = analysis.diagnostics.find((d) => d.code === "TL202")!.fixes![0]!;
    assert.equal(fix.title, "Write `16/s`");
    const fixed = applyEdits(text, fix.edits);
    assert.deepEqual(parse(fixed).diagnostics, []);
    assert.ok(!analyze(fixed).diagnostics.some((d) => d.code === "TL202"));
    // A decimal number keeps its spelling.
    const decimal = analyze(text.replace("0x10", "1_000")).diagnostics.find((d) => d.code === "TL202")!;
    assert.equal(decimal.fixes![0]!.title, "Write `1_000/s`");
  });
});
