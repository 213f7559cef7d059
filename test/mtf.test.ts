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

const text = (mtf: boolean, target = "skylake_server @ 2GHz") => `target ${target}
vmcs v {
  pin   external_interrupt_exiting nmi_exiting virtual_nmis
  proc  hlt_exiting use_tsc_offsetting use_tpr_shadow use_msr_bitmaps activate_secondary_controls${mtf ? " monitor_trap_flag" : ""}
  proc2 enable_ept enable_vpid unrestricted_guest
  exit  host_address_space_size acknowledge_interrupt_on_exit save_debug_controls
  entry ia32e_mode_guest load_debug_controls
  field VIRTUAL_PROCESSOR_ID = 1
  ept { 0x0 .. 0x7fff_ffff rwx }
}
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
