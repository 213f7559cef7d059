/**
 * Exit determination, one rule at a time: each case both ways, with the controls that decide
 * it (SDM Vol. 3C §26.1.2–26.1.3, §26.2, §29.3.3, §30.4–30.6; vmx-facts §6).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { handlerCost } from "../core/src/analysis/cost";
import { effectiveControls } from "../core/src/analysis/effective";
import {
  decideDelivery,
  decideExit,
  decideIdle,
  type ExitContext,
  tsxModel,
} from "../core/src/analysis/exits";
import type { ExitDecision } from "../core/src/analysis/types";
import { analyze } from "../core/src/index";
import type { GuestOp } from "../core/src/model/ir";
import { CONTROL, isControlSet } from "../core/src/vmx/controls";
import { INSTRUCTION_EXITS } from "../core/src/vmx/instructions";
import { context, guest, handler, irq, program, RO, RWX, S, timer, vmcs } from "./exitFixtures";

function reasons(d: ExitDecision): string[] {
  return d.exits.map((e) => e.reason.name);
}
function decide(o: GuestOp, ctx: ExitContext): ExitDecision {
  return decideExit(o, ctx);
}
function exitsWith(d: ExitDecision, name: string, perExecution = 1): void {
  assert.deepEqual(reasons(d), [name], d.rule);
  assert.ok(
    Math.abs(d.exits[0]!.perExecution - perExecution) < 1e-9,
    `${d.exits[0]!.perExecution} ≠ ${perExecution}`,
  );
  assert.ok(d.rule.length > 10 && d.reference.length > 5);
}
function noExit(d: ExitDecision): void {
  assert.deepEqual(reasons(d), [], d.rule);
}
const leaf = (name: string): GuestOp => ({ op: name, span: S }) as GuestOp;

describe("effective controls", () => {
  it("adds default1 bits the capability MSRs force and drops an unactivated secondary word", () => {
    // Without TRUE MSRs (BASIC[55] = 0) CR3-load/store exiting (proc bits 15, 16) are default1.
    const v = vmcs({ proc: ["hlt_exiting"] });
    v.written.proc2 = 1n << 11n; // rdrand_exiting written but secondary not activated
    const p = program(v, guest({}), [], { trueControls: false });
    const c = effectiveControls(v, p.target);
    assert.ok(
      isControlSet(c, CONTROL.proc.cr3_load_exiting) && isControlSet(c, CONTROL.proc.cr3_store_exiting),
    );
    assert.equal(c.proc2, 0n);
    // With TRUE MSRs (Bochs' TRUE_PROCBASED allowed-0 0x04006172) bits 15/16 may be 0.
    const v2 = vmcs({ proc: ["hlt_exiting"] });
    const c2 = effectiveControls(v2, program(v2, guest({})).target);
    assert.ok(!isControlSet(c2, CONTROL.proc.cr3_load_exiting));
    assert.ok(isControlSet(c2, CONTROL.proc.hlt_exiting));
    assert.equal(c2.proc & 0x04006172n, 0x04006172n);
  });
});

describe("instruction exits", () => {
  it("unconditional: CPUID, XSETBV, VMCALL exit with no controls", () => {
    const ctx = context({});
    exitsWith(decide(leaf("cpuid"), ctx), "CPUID");
    exitsWith(decide(leaf("xsetbv"), ctx), "XSETBV");
    exitsWith(decide(leaf("vmcall"), ctx), "VMCALL");
  });
  it("HLT per hlt_exiting", () => {
    const d = decide(leaf("hlt"), context({ proc: ["hlt_exiting"] }));
    exitsWith(d, "HLT");
    assert.ok(d.controls.includes("hlt_exiting=1"));
    noExit(decide(leaf("hlt"), context({})));
  });
  it("RDTSC per rdtsc_exiting; TSC offsetting never exits", () => {
    exitsWith(decide(leaf("rdtsc"), context({ proc: ["rdtsc_exiting"] })), "RDTSC");
    const d = decide(leaf("rdtsc"), context({ proc: ["use_tsc_offsetting"] }));
    noExit(d);
    assert.match(d.detail ?? "", /TSC_OFFSET/);
  });
  it("RDTSCP needs enable_rdtscp and rdtsc_exiting; without enable_rdtscp it raises #UD", () => {
    exitsWith(
      decide(leaf("rdtscp"), context({ proc: ["rdtsc_exiting"], proc2: ["enable_rdtscp"] })),
      "RDTSCP",
    );
    noExit(decide(leaf("rdtscp"), context({ proc2: ["enable_rdtscp"] })));
    const ud = decide(leaf("rdtscp"), context({ proc: ["rdtsc_exiting"] }));
    noExit(ud);
    assert.match(ud.rule, /#UD/);
    // The #UD exits when the exception bitmap intercepts vector 6.
    exitsWith(decide(leaf("rdtscp"), context({ proc: ["rdtsc_exiting"], exceptions: [6] })), "EXCEPTION_NMI");
  });
  it("RDPMC, INVLPG, MOV DR, WBINVD, RDRAND, RDSEED per their controls", () => {
    exitsWith(decide(leaf("rdpmc"), context({ proc: ["rdpmc_exiting"] })), "RDPMC");
    noExit(decide(leaf("rdpmc"), context({})));
    exitsWith(decide(leaf("invlpg"), context({ proc: ["invlpg_exiting"] })), "INVLPG");
    exitsWith(decide(leaf("mov_dr"), context({ proc: ["mov_dr_exiting"] })), "DR_ACCESS");
    noExit(decide(leaf("mov_dr"), context({})));
    exitsWith(decide(leaf("wbinvd"), context({ proc2: ["wbinvd_exiting"] })), "WBINVD");
    exitsWith(decide(leaf("rdrand"), context({ proc2: ["rdrand_exiting"] })), "RDRAND");
    exitsWith(decide(leaf("rdseed"), context({ proc2: ["rdseed_exiting"] })), "RDSEED");
    noExit(decide(leaf("rdseed"), context({ proc2: ["rdrand_exiting"] })));
  });
  it("secondary controls count only when activated", () => {
    const v = vmcs({});
    v.written.proc2 = 1n << 11n; // rdrand_exiting, activate_secondary_controls = 0
    const p = program(v, guest({}));
    const ctx: ExitContext = {
      program: p,
      guest: p.guests.get("g")!,
      vmcs: v,
      controls: effectiveControls(v, p.target),
    };
    noExit(decide(leaf("rdrand"), ctx));
  });
  it("INVPCID needs enable_invpcid and invlpg_exiting; without enable_invpcid #UD", () => {
    exitsWith(
      decide(leaf("invpcid"), context({ proc: ["invlpg_exiting"], proc2: ["enable_invpcid"] })),
      "INVPCID",
    );
    noExit(decide(leaf("invpcid"), context({ proc2: ["enable_invpcid"] })));
    const ud = decide(leaf("invpcid"), context({ proc: ["invlpg_exiting"] }));
    noExit(ud);
    assert.match(ud.rule, /#UD/);
  });
});

describe("control registers", () => {
  const cr0 = { mask: 0x80000001n, shadow: 0x80000001n };
  it("MOV to CR0 exits iff the value differs from the shadow in a masked bit", () => {
    const ctx = context({ cr0 });
    noExit(decide({ op: "mov_cr", cr: 0, value: 0x80000033n, span: S }, ctx)); // unmasked bits differ only
    const d = decide({ op: "mov_cr", cr: 0, value: 0x00000033n, span: S }, ctx); // PG cleared
    exitsWith(d, "CR_ACCESS");
    assert.match(d.rule, /0x80000000/);
    exitsWith(decide({ op: "mov_cr", cr: 0, span: S }, ctx), "CR_ACCESS"); // value not given
    noExit(decide({ op: "mov_cr", cr: 4, span: S }, ctx)); // CR4 mask 0
  });
  it("MOV to CR3 with CR3-load exiting and CR3-target values", () => {
    const ctx = context({ proc: ["cr3_load_exiting"], cr3Targets: [0x1000n, 0x2000n] });
    noExit(decide({ op: "mov_cr", cr: 3, value: 0x2000n, span: S }, ctx));
    exitsWith(decide({ op: "mov_cr", cr: 3, value: 0x3000n, span: S }, ctx), "CR_ACCESS");
    exitsWith(
      decide({ op: "mov_cr", cr: 3, value: 0x1000n, span: S }, context({ proc: ["cr3_load_exiting"] })),
      "CR_ACCESS",
    );
    noExit(decide({ op: "mov_cr", cr: 3, span: S }, context({})));
    // Non-TRUE MSRs force CR3-load exiting (default1).
    exitsWith(decide({ op: "mov_cr", cr: 3, span: S }, context({}, { trueControls: false })), "CR_ACCESS");
  });
  it("MOV from CR3 per cr3_store_exiting", () => {
    exitsWith(
      decide({ op: "read_cr", cr: 3, span: S }, context({ proc: ["cr3_store_exiting"] })),
      "CR_ACCESS",
    );
    noExit(decide({ op: "read_cr", cr: 3, span: S }, context({})));
  });
  it("CR8: load/store exiting, then TPR shadow with the TPR threshold", () => {
    exitsWith(
      decide(
        { op: "mov_cr", cr: 8, value: 5n, span: S },
        context({ proc: ["cr8_load_exiting", "use_tpr_shadow"] }),
      ),
      "CR_ACCESS",
    );
    exitsWith(
      decide({ op: "read_cr", cr: 8, span: S }, context({ proc: ["cr8_store_exiting"] })),
      "CR_ACCESS",
    );
    const shadow = context({ proc: ["use_tpr_shadow"], tprThreshold: 4 });
    exitsWith(decide({ op: "mov_cr", cr: 8, value: 3n, span: S }, shadow), "TPR_BELOW_THRESHOLD");
    noExit(decide({ op: "mov_cr", cr: 8, value: 4n, span: S }, shadow));
    // No value: lowering to 0 is assumed, which is below threshold 4.
    exitsWith(decide({ op: "mov_cr", cr: 8, span: S }, shadow), "TPR_BELOW_THRESHOLD");
    // Virtual-interrupt delivery replaces the threshold with PPR virtualization.
    noExit(
      decide(
        { op: "mov_cr", cr: 8, value: 0n, span: S },
        context({
          pin: ["external_interrupt_exiting"],
          proc: ["use_tpr_shadow"],
          proc2: ["virtual_interrupt_delivery"],
          tprThreshold: 4,
        }),
      ),
    );
    noExit(decide({ op: "mov_cr", cr: 8, value: 0n, span: S }, context({ proc: ["use_tpr_shadow"] })));
  });
});

describe("I/O and MSRs", () => {
  it("I/O bitmaps override unconditional I/O exiting", () => {
    const ctx = context({ proc: ["use_io_bitmaps", "unconditional_io_exiting"], io: [[0x3f8, 0x3ff]] });
    exitsWith(decide({ op: "out", port: 0x3f8, span: S }, ctx), "IO_INSTRUCTION");
    noExit(decide({ op: "in", port: 0x60, span: S }, ctx));
    exitsWith(
      decide({ op: "in", port: 0x60, span: S }, context({ proc: ["unconditional_io_exiting"] })),
      "IO_INSTRUCTION",
    );
    noExit(decide({ op: "in", port: 0x60, span: S }, context({})));
    // Bitmap B covers ports 8000–FFFF.
    const b = decide(
      { op: "in", port: 0xc000, span: S },
      context({ proc: ["use_io_bitmaps"], io: [[0xc000, 0xc000]] }),
    );
    exitsWith(b, "IO_INSTRUCTION");
    assert.match(b.rule, /bitmap B/);
  });
  it("RDMSR/WRMSR: no bitmaps, out of range, bitmap bits", () => {
    exitsWith(decide({ op: "rdmsr", msr: 0x10, span: S }, context({})), "MSR_READ");
    const ctx = context({
      proc: ["use_msr_bitmaps"],
      msr: [
        { msr: 0x6e0, read: false, write: true },
        { msr: 0xc0000080, read: true, write: false },
      ],
    });
    exitsWith(decide({ op: "wrmsr", msr: 0x6e0, span: S }, ctx), "MSR_WRITE");
    noExit(decide({ op: "rdmsr", msr: 0x6e0, span: S }, ctx));
    exitsWith(decide({ op: "rdmsr", msr: 0xc0000080, span: S }, ctx), "MSR_READ");
    noExit(decide({ op: "wrmsr", msr: 0xc0000080, span: S }, ctx));
    // 0x4b564d00 (a KVM paravirtual MSR) is outside both ranges: always exits.
    exitsWith(decide({ op: "wrmsr", msr: 0x4b564d00, span: S }, ctx), "MSR_WRITE");
  });
  it("x2APIC EOI: trapped, virtualized by VID, EOI-exit bitmap, or reaching the physical APIC", () => {
    const eoi: GuestOp = { op: "wrmsr", msr: 0x80b, span: S };
    exitsWith(
      decide(eoi, context({ proc: ["use_msr_bitmaps"], msr: [{ msr: 0x80b, read: false, write: true }] })),
      "MSR_WRITE",
    );
    const apicv = {
      pin: ["external_interrupt_exiting", "process_posted_interrupts"],
      proc: ["use_msr_bitmaps", "use_tpr_shadow"],
      proc2: ["virtualize_x2apic_mode", "apic_register_virtualization", "virtual_interrupt_delivery"],
    };
    noExit(decide(eoi, context(apicv, { eoiVector: 0x50 })));
    // EOI-exit bitmap bit 0x50 = bit 16 of EOI_EXIT_BITMAP1.
    const withBit = { ...apicv, fields: { EOI_EXIT_BITMAP1: 1n << 16n } };
    exitsWith(decide(eoi, context(withBit, { eoiVector: 0x50 })), "EOI_INDUCED");
    noExit(decide(eoi, context(withBit, { eoiVector: 0x51 })));
    // The guest op `eoi` in x2APIC mode is the same WRMSR.
    exitsWith(decide(leaf("eoi"), context(withBit, { eoiVector: 0x50 })), "EOI_INDUCED");
    // Bitmap open, no x2APIC virtualization: no exit, but the write reaches the host APIC.
    const raw = decide(eoi, context({ proc: ["use_msr_bitmaps"] }));
    noExit(raw);
    assert.match(raw.rule, /physical local APIC/);
  });
});

describe("memory and EPT", () => {
  const ept = {
    proc2: ["enable_ept"],
    ept: [
      [0n, 0x7fffffffn, RWX],
      [0xfebf0000n, 0xfebfffffn, { kind: "misconfig" }],
      [0xfec00000n, 0xfec00fffn, RO],
      [0xfed00000n, 0xfed00fffn, { kind: "none" }],
    ] as [bigint, bigint, never][],
  };
  it("unmapped, misconfigured, permission-less and permitted accesses", () => {
    const ctx = context(ept);
    noExit(decide({ op: "mem", access: "write", gpa: 0x1000n, span: S }, ctx));
    exitsWith(decide({ op: "mmio", access: "write", gpa: 0xfebf0018n, span: S }, ctx), "EPT_MISCONFIG");
    exitsWith(decide({ op: "mmio", access: "read", gpa: 0xd0000000n, span: S }, ctx), "EPT_VIOLATION");
    noExit(decide({ op: "mmio", access: "read", gpa: 0xfec00010n, span: S }, ctx));
    exitsWith(decide({ op: "mmio", access: "write", gpa: 0xfec00010n, span: S }, ctx), "EPT_VIOLATION");
    exitsWith(decide({ op: "mmio", access: "read", gpa: 0xfed00000n, span: S }, ctx), "EPT_VIOLATION");
  });
  it("without EPT there are no EPT exits", () => {
    const d = decide({ op: "mmio", access: "write", gpa: 0xfebf0018n, span: S }, context({ ept: ept.ept }));
    noExit(d);
    assert.match(d.detail ?? "", /shadow paging/);
  });
  it("xAPIC EOI on the APIC-access page under each virtualization level", () => {
    const apicPage: [bigint, bigint, never][] = [
      [0n, 0x7fffffffn, RWX as never],
      [0xfee00000n, 0xfee00fffn, { kind: "apic" } as never],
    ];
    const xapic = { guest: { apic: "xapic" as const } };
    const base = { proc2: ["enable_ept", "virtualize_apic_accesses"], ept: apicPage };
    // use TPR shadow = 0: nothing is virtualized.
    exitsWith(decide(leaf("eoi"), context(base, xapic)), "APIC_ACCESS");
    // TPR shadow only: only TPR writes are virtualized.
    exitsWith(decide(leaf("eoi"), context({ ...base, proc: ["use_tpr_shadow"] }, xapic)), "APIC_ACCESS");
    // APIC-register virtualization without VID: the EOI write is virtualized, then APIC-write exit.
    exitsWith(
      decide(
        leaf("eoi"),
        context(
          { ...base, proc: ["use_tpr_shadow"], proc2: [...base.proc2, "apic_register_virtualization"] },
          xapic,
        ),
      ),
      "APIC_WRITE",
    );
    // VID: EOI virtualization, no exit.
    const vid = {
      ...base,
      pin: ["external_interrupt_exiting"],
      proc: ["use_tpr_shadow"],
      proc2: [...base.proc2, "virtual_interrupt_delivery"],
    };
    noExit(decide(leaf("eoi"), context(vid, xapic)));
    // Reads: TPR virtualized with TPR shadow; current count (0x390) never.
    noExit(
      decide(
        { op: "mmio", access: "read", gpa: 0xfee00080n, span: S },
        context({ ...base, proc: ["use_tpr_shadow"] }),
      ),
    );
    const regs = {
      ...base,
      proc: ["use_tpr_shadow"],
      proc2: [...base.proc2, "apic_register_virtualization"],
    };
    noExit(decide({ op: "mmio", access: "read", gpa: 0xfee00300n, span: S }, context(regs)));
    exitsWith(
      decide({ op: "mmio", access: "read", gpa: 0xfee00390n, span: S }, context(regs)),
      "APIC_ACCESS",
    );
    // Without virtualize APIC accesses the page is not mapped for the guest.
    exitsWith(decide(leaf("eoi"), context({ proc2: ["enable_ept"], ept: apicPage }, xapic)), "EPT_VIOLATION");
  });
  it("dirty pages: PML exits once per 512 pages, write protection once per page", () => {
    // EPTP: WB (6), 4-level walk (3 << 3), A/D enable (bit 6).
    const eptpWithAd = { EPT_POINTER: 0x5en };
    const pml = decide(
      { op: "dirty", pages: 16, span: S },
      context({ proc2: ["enable_ept", "enable_pml"], fields: eptpWithAd }),
    );
    exitsWith(pml, "PML_FULL", 16 / 512);
    // PML without EPT A/D flags logs nothing (issue 12.5): KVM write-protects instead.
    exitsWith(
      decide({ op: "dirty", pages: 16, span: S }, context({ proc2: ["enable_ept", "enable_pml"] })),
      "EPT_VIOLATION",
      16,
    );
    exitsWith(
      decide({ op: "dirty", pages: 16, span: S }, context({ proc2: ["enable_ept"] })),
      "EPT_VIOLATION",
      16,
    );
  });
});

describe("exceptions", () => {
  it("exception bitmap, and the #PF error-code mask/match rule", () => {
    exitsWith(
      decide({ op: "exception", vector: 17, span: S }, context({ exceptions: [17] })),
      "EXCEPTION_NMI",
    );
    noExit(decide({ op: "exception", vector: 13, span: S }, context({ exceptions: [17] })));
    // mask 1 match 1: only present-page faults (P = 1) follow bit 14.
    const pf = context({ exceptions: [14], pfErrorCode: { mask: 1, match: 1 } });
    exitsWith(decide({ op: "exception", vector: 14, errorCode: 3, span: S }, pf), "EXCEPTION_NMI");
    noExit(decide({ op: "exception", vector: 14, errorCode: 2, span: S }, pf));
    // Bit 14 clear and no match: the inverse applies, so it exits.
    const inv = context({ pfErrorCode: { mask: 1, match: 1 } });
    exitsWith(decide({ op: "exception", vector: 14, errorCode: 0, span: S }, inv), "EXCEPTION_NMI");
    noExit(decide({ op: "exception", vector: 14, errorCode: 1, span: S }, inv));
  });
});

describe("PAUSE loops", () => {
  const spin = (cycles: number): GuestOp => ({ op: "pause_loop", cycles, span: S });
  it("PLE: floor(T / window) exits for a CPL-0 spin", () => {
    const ctx = context({ proc2: ["pause_loop_exiting"], ple: { gap: 128, window: 4096 } });
    exitsWith(decide(spin(42000), ctx), "PAUSE_INSTRUCTION", 10); // floor(42000/4096) = 10
    noExit(decide(spin(600), ctx));
    const user = { ...ctx, cpl: 3 };
    noExit(decide(spin(42000), user));
  });
  it("PLE with gap 0 never fires", () => {
    noExit(decide(spin(42000), context({ proc2: ["pause_loop_exiting"] })));
  });
  it("PAUSE exiting: every PAUSE exits, at any CPL", () => {
    const ctx = context({
      proc: ["pause_exiting"],
      proc2: ["pause_loop_exiting"],
      ple: { gap: 128, window: 4096 },
    });
    // Unhandled PAUSE exit: 1000 round trip + 50 vmread + 300 default = 1350 cycles; an
    // iteration is 140 + 1350 = 1490 cycles; floor(14900 / 1490) = 10.
    assert.equal(handlerCost(ctx.program, 40).total, 1350);
    exitsWith(decide(spin(14900), ctx), "PAUSE_INSTRUCTION", 10);
    exitsWith(decide(spin(100), { ...ctx, cpl: 3 }), "PAUSE_INSTRUCTION", 1);
  });
});

describe("compound operations", () => {
  it("branch weights and repeat multiplies", () => {
    const ctx = context({ proc: ["hlt_exiting"] });
    const b: GuestOp = {
      op: "branch",
      span: S,
      arms: [
        { probability: 0.25, ops: [leaf("cpuid")], span: S },
        { probability: 0.5, ops: [leaf("hlt"), leaf("cpuid")], span: S },
      ],
    };
    const d = decide(b, ctx);
    const cpuid = d.exits.find((e) => e.reason.name === "CPUID")!;
    const hlt = d.exits.find((e) => e.reason.name === "HLT")!;
    assert.equal(cpuid.perExecution, 0.75);
    assert.equal(hlt.perExecution, 0.5);
    const r = decide({ op: "repeat", count: 4, ops: [b], span: S }, ctx);
    assert.equal(r.exits.find((e) => e.reason.name === "CPUID")!.perExecution, 3);
  });
  it("tsx: instruction exits abort silently, memory exits are taken per attempt", () => {
    const ctx = context({ proc2: ["enable_ept"], ept: [[0xfebf0000n, 0xfebfffffn, { kind: "misconfig" }]] });
    // CPUID inside: 3 aborted attempts without exits, then the fallback exits once.
    exitsWith(decide({ op: "tsx", ops: [leaf("cpuid")], span: S }, ctx), "CPUID", 1);
    // MMIO inside: each of the 3 attempts takes the EPT_MISCONFIG exit and aborts, then the
    // fallback takes it once more: 3 + 1 = 4.
    exitsWith(
      decide({ op: "tsx", ops: [{ op: "mmio", access: "write", gpa: 0xfebf0000n, span: S }], span: S }, ctx),
      "EPT_MISCONFIG",
      4,
    );
    noExit(decide({ op: "tsx", ops: [{ op: "compute", cycles: 100, span: S }], span: S }, ctx));
    // q = 0.5: attempts 1 + 0.5 + 0.25 = 1.75, aborted 0.5 + 0.25 + 0.125 = 0.875, fallback 0.125;
    // the fallback's pass draws afresh (as the simulator re-runs the region): its exits × 0.125.
    const m = tsxModel(0.5);
    assert.equal(m.attempts, 1.75);
    assert.equal(m.abortedAttempts, 0.875);
    assert.equal(m.fallbackProbability, 0.125);
    assert.equal(m.fallbackExitFactor, 0.125);
    assert.equal(m.computeFactor, 1.875);
  });
});

describe("interrupt delivery and idle", () => {
  const apicv = {
    pin: ["external_interrupt_exiting", "process_posted_interrupts"],
    proc: ["use_tpr_shadow", "hlt_exiting"],
    proc2: ["virtual_interrupt_delivery", "virtualize_x2apic_mode"],
  };
  it("posted interrupts avoid the EXTERNAL_INTERRUPT exit only when requested and enabled", () => {
    const posted = irq("nic", 0x41, { kind: "poisson", ratePerSec: 1000 }, [], true);
    const plain = irq("nic", 0x41, { kind: "poisson", ratePerSec: 1000 }, [], false);
    noExit(decideDelivery(posted, context(apicv)).decision);
    exitsWith(decideDelivery(plain, context(apicv)).decision, "EXTERNAL_INTERRUPT");
    exitsWith(
      decideDelivery(posted, context({ pin: ["external_interrupt_exiting"] })).decision,
      "EXTERNAL_INTERRUPT",
    );
    noExit(decideDelivery(plain, context({})).decision);
  });
  it("timer: preemption timer vs host hrtimer", () => {
    const t = timer({ kind: "periodic", periodSec: 0.004 }, []);
    exitsWith(
      decideDelivery(t, context({ pin: ["activate_vmx_preemption_timer", "external_interrupt_exiting"] }))
        .decision,
      "PREEMPTION_TIMER",
    );
    exitsWith(
      decideDelivery(t, context({ pin: ["external_interrupt_exiting"] })).decision,
      "EXTERNAL_INTERRUPT",
    );
  });
  it("idle: halt exits HLT and blocks in the host; without hlt_exiting it halts in the guest", () => {
    const h = decideIdle(context({ proc: ["hlt_exiting"] }, { guest: { idle: "halt" } }));
    exitsWith(h.decision, "HLT");
    assert.equal(h.blockedInHost, true);
    const g = decideIdle(context({}, { guest: { idle: "halt" } }));
    noExit(g.decision);
    assert.equal(g.blockedInHost, false);
    const poll = decideIdle(context({ proc: ["hlt_exiting"] }, { guest: { idle: "poll" } }));
    noExit(poll.decision);
    assert.equal(poll.polling, true);
    const mw = decideIdle(
      context(
        { proc: ["mwait_exiting"] },
        { guest: { idle: "mwait" }, handlers: [handler("MWAIT_INSTRUCTION", [{ op: "halt", span: S }])] },
      ),
    );
    exitsWith(mw.decision, "MWAIT_INSTRUCTION");
    assert.equal(mw.blockedInHost, true);
    noExit(decideIdle(context({}, { guest: { idle: "mwait" } })).decision);
  });
});

describe("raw fields in force", () => {
  const fileWith = (line: string) => `target skylake_server
vmcs v {
  pin external_interrupt_exiting
  proc hlt_exiting
  ${line}
}
handler EXCEPTION_NMI { work 100 }
handler EXTERNAL_INTERRUPT { work 100 }
handler HLT { halt }
guest g on v { path p rate 1k/s { exception #UD } }
`;
  const udExits = (text: string) => {
    const a = analyze(text);
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code} ${d.message}`),
      [],
    );
    const op = a.estimates.get("g")!.operations.find((o) => o.span.start === text.indexOf("exception #UD"))!;
    return op.decision.exits.map((e) => e.reason.name);
  };

  it("`field EXCEPTION_BITMAP = V` makes the exception exit, as `exceptions` does (SDM Vol. 3C §25.6.3, Exception Bitmap)", () => {
    // #UD is vector 6: bit 6 = 0x40.
    assert.deepEqual(udExits(fileWith("field EXCEPTION_BITMAP = 0x40")), ["EXCEPTION_NMI"]);
    assert.deepEqual(udExits(fileWith("exceptions #UD")), ["EXCEPTION_NMI"]);
    assert.deepEqual(udExits(fileWith("field EXCEPTION_BITMAP = 0x4000")), []);
    // Both: ORed.
    assert.deepEqual(udExits(fileWith("exceptions #PF\n  field EXCEPTION_BITMAP = 0x40")), ["EXCEPTION_NMI"]);
    assert.deepEqual(udExits(fileWith("field EXCEPTION_BITMAP = 0x40\n  exceptions #PF")), ["EXCEPTION_NMI"]);
  });
});

describe("instructions decided from the instruction table", () => {
  // Every language operation with a plain row of vmx/instructions.ts: unconditional rows always
  // exit; conditional rows exit iff all their controls are 1, and raise #UD (no exit with an
  // empty exception bitmap) when the enabling control is 0. The lints read the same rows.
  const plain = INSTRUCTION_EXITS.filter((row) => row.op !== undefined && row.selector === undefined);
  const names = (refs: readonly { word: string; name: string }[]) => {
    const spec: Record<string, string[]> = {};
    const add = (word: string, name: string) => {
      spec[word] = [...(spec[word] ?? []), name];
    };
    for (const ref of refs) add(ref.word, ref.name);
    if (spec.proc2) add("proc", "activate_secondary_controls");
    return spec;
  };

  it("covers every simple guest instruction of the language", () => {
    assert.deepEqual(plain.map((row) => row.op).sort(), [
      "cpuid",
      "getsec",
      "hlt",
      "invd",
      "invlpg",
      "invpcid",
      "monitor",
      "mov_dr",
      "mwait",
      "rdpmc",
      "rdrand",
      "rdseed",
      "rdtsc",
      "rdtscp",
      "vmcall",
      "wbinvd",
      "xsetbv",
    ]);
  });

  for (const row of plain) {
    it(`${row.mnemonic}: ${row.exitsWhen === "always" ? "always exits" : `exits with ${row.exitsWhen.map((c) => c.name).join(" + ")}`}`, () => {
      const op = leaf(row.op!);
      if (row.exitsWhen === "always") {
        exitsWith(decide(op, context({})), row.reason);
        return;
      }
      const enabling = row.enabledBy ? [row.enabledBy] : [];
      exitsWith(decide(op, context(names([...enabling, ...row.exitsWhen]))), row.reason);
      noExit(decide(op, context(names(enabling))));
      if (row.enabledBy) {
        const ud = decide(op, context(names(row.exitsWhen)));
        noExit(ud);
        assert.match(ud.rule, /#UD/);
      }
    });
  }
});
