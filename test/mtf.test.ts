/**
 * The monitor trap flag (issue 12, wrong result 4): with `proc monitor_trap_flag` every guest
 * instruction that completes in the guest is followed by a MONITOR_TRAP_FLAG exit (SDM Vol. 3C
 * §26.5.2); the estimator and the simulator count them (analysis/exitMtf.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { analyze } from "../core/src/index";
import { simulate } from "../core/src/sim/index";
import { EXIT } from "../core/src/vmx/exitReasons";
import { kvmVmcs } from "./support/kvmVmcs";

const text = (mtf: boolean, target = "skylake_server @ 2GHz") => `target ${target}
${kvmVmcs({ proc: mtf ? "monitor_trap_flag" : "" })}
handler CPUID { work 200 advance_rip }
handler MONITOR_TRAP_FLAG { work 100 }
guest g on v {
  vcpus 1
  path p every 1ms { compute 100  cpuid  rdtsc }
  idle poll
}
`;

const perSecond = (list: { code: number; exitsPerSecond: number }[], code: number) =>
  list.find((r) => r.code === code)?.exitsPerSecond ?? 0;

describe("monitor trap flag", () => {
  it("exits after every instruction that completes in the guest, not after one that exits", () => {
    const a = analyze(text(true));
    assert.ok(a.diagnostics.some((d) => d.code === "TL329"));
    const e = a.estimates.get("g")!;
    // compute 100 = 100 instructions (guest_instruction = 1 cycle), rdtsc 1; cpuid exits itself.
    assert.equal(perSecond(e.byReason, EXIT.MONITOR_TRAP_FLAG), 101_000);
    assert.equal(perSecond(e.byReason, EXIT.CPUID), 1_000);
    const off = analyze(text(false)).estimates.get("g")!;
    assert.equal(perSecond(off.byReason, EXIT.MONITOR_TRAP_FLAG), 0);
  });

  it("a compute's instruction count follows cost guest_instruction", () => {
    const a = analyze(text(true, "skylake_server @ 2GHz { cost guest_instruction = 4 }"));
    assert.equal(perSecond(a.estimates.get("g")!.byReason, EXIT.MONITOR_TRAP_FLAG), 26_000);
  });

  it("the simulator takes the same MTF exits as the estimate", () => {
    const a = analyze(text(true));
    const e = a.estimates.get("g")!;
    const s = simulate(a.program, "g", { durationSec: 0.2, seed: 2, timelineIntervals: 0 });
    const se = perSecond(s.byReason, EXIT.MONITOR_TRAP_FLAG);
    const ee = perSecond(e.byReason, EXIT.MONITOR_TRAP_FLAG);
    assert.ok(Math.abs(se - ee) / ee < 0.03, `${se} vs ${ee}`);
    assert.ok(Math.abs(s.overhead - e.overhead) / e.overhead < 0.03, `${s.overhead} vs ${e.overhead}`);
  });
});
