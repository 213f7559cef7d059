/**
 * A nested run (an L2 guest) as `trace-cmd report` lines: what L0's KVM traces on the vCPU
 * thread, which runs L2 and L1 in turn (docs/traces.md "Simulation as a trace"). The simulator's
 * timeline holds each L2 exit as an episode of segments at their levels (sim/nestedPlan.ts,
 * named by the chain's steps, analysis/nested/chain.ts); each becomes the tracepoints KVM fires
 * for it (arch/x86/kvm/trace.h; the call sites in arch/x86/kvm/vmx/vmx.c and vmx/nested.c):
 *
 * - Every L2 exit into L0: `kvm_exit` (vmx_vcpu_run) and `kvm_nested_vmexit` with the same
 *   fields (nested_vmx_reflect_vmexit traces it for every exit taken while L2 runs, before
 *   deciding who handles it; TRACE_EVENT_KVM_EXIT layout, as the kernel prints it).
 * - An exit reflected to L1 (or one L0 synthesizes): `kvm_nested_vmexit_inject` with the reason
 *   L1 sees, traced by nested_vmx_vmexit after prepare_vmcs12 (here at the end of the step
 *   "emulated VM exit into L1"), then the `kvm_entry` into L1 when L1's handler starts.
 * - L1's trapped VMX instructions (VMREAD/VMWRITE outside the shadow bitmaps, INVEPT, INVVPID,
 *   VMPTRLD, VMCLEAR): L1's own exits, a `kvm_exit` with that reason and no kvm_nested_vmexit
 *   (L1 is not in guest mode), then a `kvm_entry` back into L1.
 * - L1's VMRESUME: a `kvm_exit` reason VMRESUME, `kvm_nested_vmenter` (nested_vmx_run →
 *   nested_vmx_enter_non_root_mode) and the `kvm_entry` into L2 that ends the episode.
 * - An interrupt for L1 that L0 delivers as a nested exit: L0's physical EXTERNAL_INTERRUPT exit
 *   is the one kvm_exit + kvm_nested_vmexit (nested_vmx_l0_wants_exit keeps every external
 *   interrupt; L0's host handler runs, handle_external_interrupt_irqoff); at the next entry
 *   vmx_check_nested_events synthesizes the nested exit (nested_vmx_vmexit with
 *   EXTERNAL_INTERRUPT): a kvm_nested_vmexit_inject, no second kvm_exit — there is no second
 *   hardware exit — then L1's trapped instructions and its VMRESUME.
 *   The same holds for one that arrived while the vCPU was outside L2 (the simulator's
 *   synthesized exits, SimNestedStats.synthesizedPerSecond): the entry that would have resumed L2
 *   is not traced, the inject and the entry into L1 are.
 *
 * - L1's notification of an interrupt it sends (an `ipi`, a `posted` irq: its ICR write on the
 *   sender's vCPU, sim/nestedPlan.ts notifyStream): L1's own exit, `kvm_exit MSR_WRITE` +
 *   `kvm_msr msr_write 830` (no kvm_nested_vmexit), then `kvm_entry` back into L1.
 * - An idle L2's wake-up chain (sim/nestedIdle.ts, its segment labels and analysis/nested/wake.ts
 *   WAKE_*). L1 blocks: after L2's HLT chain up to L1's handler, L1 idles in turn — its own HLT
 *   is a `kvm_exit` HLT (no kvm_nested_vmexit) with no entry during the block (kvm_vcpu_halt in
 *   L0); after the wake-up the `kvm_entry` into L1, L1's trapped injection VMWRITE
 *   (handle_vmwrite: `kvm_exit` + `kvm_entry`), then the VMRESUME lines. L1's HLT is written
 *   only when a wake-up follows, as the simulation counts it (none when an event was already
 *   pending: L1 does not idle). A wake-up L1's own halt poll caught has no L1 HLT: L1 polled in
 *   its guest mode (no tracepoint), the interrupt for L1 is a `kvm_exit` EXTERNAL_INTERRUPT with
 *   no kvm_nested_vmexit, then the injection and VMRESUME lines. L0 blocks: L2's HLT exit, the block, L0's wake-up, then the
 *   synthesized EXTERNAL_INTERRUPT exit — its inject only — and L1's chain.
 *
 * - An interrupt for L1 that arrived while L1 ran, or while L0 emulated L1's trapped instruction
 *   (sim/l1Side.ts, analysis/nested/wake.ts l1SideDelivery): L1's own interrupt — when L1 ran, a
 *   `kvm_exit` EXTERNAL_INTERRUPT from L1 (no kvm_nested_vmexit, no kvm_nested_vmexit_inject:
 *   is_guest_mode is false, kvm_check_and_inject_events injects it into L1) and the entry back;
 *   then L1's injection VMWRITE when trapped, before the episode's VMRESUME lines.

 * KVM's kvm_nested_intr_vmexit is traced by the SVM side only (svm/nested.c), so a VMX trace
 * has none. L1's RIPs are made up as L2's are (0xffffffffc0000000 + 0x10 × the handler's or the
 * trapped instruction's source index); the vmcs12 address is a made-up constant.
 *
 * So an importer counting kvm_exit by reason sees each hardware exit into L0 once: L2's exits by
 * their reason, L1's by VMREAD, VMWRITE, VMRESUME… — and the kvm_nested_* events (counted by
 * name) give the reflected exits and the nested entries.
 */
import { effectiveControls } from "../analysis/effective";
import { STEP_NESTED_VMENTRY, STEP_NESTED_VMEXIT, STEP_VMRESUME } from "../analysis/nested/chain";
import {
  L1_RUNNING_IRQ_EXIT,
  WAKE_L1_HALT_STATE,
  WAKE_L1_POLL_EXIT,
  WAKE_SYNTHESIZED,
  WAKE_TRAPPED_PREFIX,
  WAKE_TRAPPED_SUFFIX,
} from "../analysis/nested/wake";
import type { Program } from "../model/ir";
import { SEG_L1_HALT_AFTER_POLL, SEG_L1_HALT_BEFORE_BLOCK } from "../sim/nestedIdle";
import { NOTIFY_LABEL } from "../sim/nestedPlan";
import type { Timeline } from "../sim/timeline";
import { VcpuState } from "../sim/timeline";
import { CONTROL, isControlSet } from "../vmx/controls";
import { EXIT, exitReasonByCode, exitReasonByName } from "../vmx/exitReasons";

/** The made-up base of guest RIPs (trace/export.ts's module comment). */
export const RIP_BASE = 0xffffffff81000000n;
const RIP_L1_BASE = 0xffffffffc0000000n;
/** A made-up guest-physical address of vmcs12 (kvm_nested_vmenter's `vmcs`). */
const VMCS12_ADDRESS = 0x1_0000_0000n;
const LEVEL_L1 = 1;

const NESTED_VMEXIT = `L0: ${STEP_NESTED_VMEXIT}`;
const NESTED_VMENTRY = `L0: ${STEP_NESTED_VMENTRY}`;
const VMRESUME_STEP = `L0: ${STEP_VMRESUME}`;
/** The segment of L0 emulating one of L1's trapped instructions (sim/nestedPlan.ts chainPlan). */
const TRAPPED_PREFIX = "L0 emulating ";
/** The wake-up of an idle L2 (sim/nestedIdle.ts, analysis/nested/wake.ts wakeChain). */
const WAKE_TRAPPED = `L0: ${WAKE_TRAPPED_PREFIX}`;
const L1_HALT_STATE_EXIT = `L0: ${WAKE_L1_HALT_STATE}`;
const L1_POLL_EXIT = `L0: ${WAKE_L1_POLL_EXIT}`;
const L1_SIDE_EXIT = `L0: ${L1_RUNNING_IRQ_EXIT}`;
const SYNTHESIZED_STEP = `L0: ${WAKE_SYNTHESIZED}`;

const hex16 = (n: bigint) => `0x${n.toString(16).padStart(16, "0")}`;
const hex8 = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

/** Writes one vCPU thread's lines (export.ts makes one per vCPU; NestedLane writes a nested run's through it). */
export interface LaneWriter {
  readonly vcpu: number;
  /** A line `<event>: <fields>` at `ns`. */
  line(ns: number, event: string, fields: string): void;
  /**
   * A `kvm_exit` of reason `code` at `ns` for the operation `source` (with its kvm_msr or
   * kvm_page_fault line); returns the RIP it printed. `rip` overrides the made-up guest RIP.
   */
  exit(ns: number, code: number, source: number, rip?: bigint): bigint;
  /** The VM-exit interruption information of an EXTERNAL_INTERRUPT exit at `ns` (its arrival's vector). */
  interruptInfo(ns: number): number;
  entry(ns: number, rip: bigint): void;
  /** Takes back the last line when it is a kvm_entry at `ns` (an entry that did not happen); whether it did. */
  retractEntryAt(ns: number): boolean;
}

/** The made-up guest RIP of an exit source (see the module comment). */
export function guestRip(source: number): bigint {
  return RIP_BASE + BigInt(source >= 0 ? source * 0x10 : 0);
}

export class NestedLane {
  constructor(
    private readonly timeline: Timeline,
    private readonly w: LaneWriter,
    private readonly nestedEpt: boolean,
  ) {}

  /**
   * Writes the episode whose first interval (an Exit) is `idx[k]`; returns the index after its
   * last interval.
   */
  episode(idx: readonly number[], k: number): number {
    const tl = this.timeline;
    const w = this.w;
    const i = idx[k]!;
    const code = tl.reason[i]!;
    const start = tl.start[i]!;
    let end = start + tl.duration[i]!;
    const source = tl.source[i]!;
    const l2Rip = guestRip(source);
    if (this.label(i) === NOTIFY_LABEL) return this.notification(idx, k);
    // An EXTERNAL_INTERRUPT whose chain starts with the emulated exit into L1 (no L0 handler
    // before it) and begins where the vCPU's last episode entered (L2 never ran in between) is
    // one L0 synthesized at that nested entry: no hardware exit, and that entry did not happen.
    const next = idx[k + 1];
    const synthesized =
      code === EXIT.EXTERNAL_INTERRUPT &&
      next !== undefined &&
      this.label(next) === NESTED_VMEXIT &&
      Math.abs(tl.start[next]! - end) <= 1e-3 &&
      w.retractEntryAt(start);
    if (!synthesized) {
      w.exit(start, code, source, l2Rip);
      this.nestedVmexit(start, code, l2Rip);
    }
    // After the emulated exit into L1, L0 enters L1 where L1's first segment starts.
    let enteringL1 = false;
    let injected = false;
    // An idle HLT that blocked (halted or polling): an inject after the block is the nested
    // EXTERNAL_INTERRUPT exit L0 synthesizes at the wake-up (an L0 block, sim/nestedIdle.ts).
    let blocked = false;
    let resumed = false;
    /** Where L1's own HLT exit began (SEG_L1_HALT_BEFORE_BLOCK), until the wake-up writes it. */
    let l1HaltAt = -1;
    let l1Rip = RIP_L1_BASE;
    const enterL1 = (ns: number) => {
      if (!enteringL1) return;
      w.entry(ns, l1Rip);
      enteringL1 = false;
    };
    k++;
    while (k < idx.length) {
      const j = idx[k]!;
      const state = tl.state[j]!;
      const part =
        ((state === VcpuState.Handler ||
          state === VcpuState.Userspace ||
          (state === VcpuState.Exit && this.chainTransition(idx, k))) &&
          tl.reason[j] === code) ||
        (code === EXIT.HLT && (state === VcpuState.Halted || state === VcpuState.Polling));
      if (!part || Math.abs(tl.start[j]! - end) > 1e-3) break;
      const at = tl.start[j]!;
      end = at + tl.duration[j]!;
      k++;
      const label = this.label(j);
      if (state === VcpuState.Halted || state === VcpuState.Polling) blocked = true;
      else if (blocked && l1HaltAt >= 0) {
        enterL1(l1HaltAt);
        w.exit(l1HaltAt, EXIT.HLT, -1, l1Rip);
        enteringL1 = true;
        l1HaltAt = -1;
      }
      if (tl.level![j] === LEVEL_L1) {
        l1Rip = RIP_L1_BASE + BigInt(Math.max(0, tl.source[j]!) * 0x10);
        enterL1(at);
        continue;
      }
      if (label === NESTED_VMEXIT || label === SYNTHESIZED_STEP) {
        // nested_vmx_vmexit: vmcs12's exit reason and, for an interrupt, its interruption info.
        const synthesizedAtWake = code === EXIT.HLT && blocked;
        const reason = synthesizedAtWake ? EXIT.EXTERNAL_INTERRUPT : code;
        const intr = reason === EXIT.EXTERNAL_INTERRUPT ? w.interruptInfo(synthesizedAtWake ? at : start) : 0;
        const name = exitReasonByCode(reason)?.name ?? `UNKNOWN (${reason})`;
        w.line(
          end,
          "kvm_nested_vmexit_inject",
          `reason ${name} info1 0 info2 0 int_info ${intr.toString(16)} int_info_err 0`,
        );
        enteringL1 = true;
        injected = true;
      } else if (label === SEG_L1_HALT_AFTER_POLL) {
        // The same after L1's own halt poll missed (sim/nestedIdle.ts): L1 did idle, so its HLT
        // is written when the wake-up follows even if the event came before L0's block.
        l1HaltAt = at;
        blocked = true;
      } else if (label === SEG_L1_HALT_BEFORE_BLOCK) {
        // L1 idles in turn: its own HLT exits to L0 (L1 is not in guest mode: no
        // kvm_nested_vmexit), and L0 enters L1 again only after the wake-up (kvm_vcpu_halt).
        // Written when the wake-up follows (the simulation counts it with the wake-up): not when
        // an event was already pending (L1 does not idle), nor for a block the run's end cut.
        l1HaltAt = at;
      } else if (label === L1_SIDE_EXIT) {
        // An interrupt for L1 that arrived while L1 ran (sim/l1Side.ts): it exits from L1 (not
        // in guest mode: no kvm_nested_vmexit), L0 injects it into L1 at the entry back — no
        // nested exit, no kvm_nested_vmexit_inject; L1's injection into L2 follows.
        enterL1(at);
        w.exit(at, EXIT.EXTERNAL_INTERRUPT, -1, l1Rip);
        w.entry(end, l1Rip);
      } else if (label === L1_HALT_STATE_EXIT || label === L1_POLL_EXIT) {
        // L1 waited in the HLT activity state, or spun in its own halt poll (no L1 HLT, no
        // block in L0: nothing traced while it polls): the interrupt for L1 exits from it.
        enterL1(at);
        w.exit(at, EXIT.EXTERNAL_INTERRUPT, -1, l1Rip);
        enteringL1 = true;
      } else if (label?.startsWith(WAKE_TRAPPED) && label.endsWith(WAKE_TRAPPED_SUFFIX)) {
        // L1's injection VMWRITE outside the shadow bitmaps (handle_vmwrite).
        enterL1(at);
        w.exit(at, EXIT.VMWRITE, -1, l1Rip);
        w.entry(end, l1Rip + 3n);
      } else if (label?.startsWith(TRAPPED_PREFIX)) {
        enterL1(at);
        const op = exitReasonByName(label.slice(TRAPPED_PREFIX.length).split(" ")[0]!);
        if (op) {
          const rip = RIP_L1_BASE + BigInt(Math.max(0, tl.source[j]!) * 0x10);
          w.exit(at, op.code, -1, rip);
          w.entry(end, rip + 3n);
        }
      } else if (label === VMRESUME_STEP) {
        resumed = true;
        enterL1(at);
        w.exit(at, EXIT.VMRESUME, -1, l1Rip);
      } else if (label === NESTED_VMENTRY) {
        this.nestedVmenter(at, l1Rip, l2Rip);
      }
    }
    if (injected && !resumed) {
      // A reflected chain still open at the run's end (an idle L2 that L1 blocked until then):
      // the simulation counted the whole chain when it began, so its rest is written at its end
      // (as trace/export.ts gives an open exit its entry there): L1's entry, its VMRESUME.
      enterL1(end);
      w.exit(end, EXIT.VMRESUME, -1, l1Rip);
      this.nestedVmenter(end, l1Rip, l2Rip);
    }
    w.entry(end, l2Rip + 4n);
    return k;
  }

  /**
   * L1's notification of an interrupt it sends (sim/nestedPlan.ts notifyStream): L1's ICR write
   * exits to L0 — `kvm_exit MSR_WRITE` with its `kvm_msr` line (L1 is not in guest mode: no
   * kvm_nested_vmexit), L0's handler (kvm_x2apic_icr_write), the `kvm_entry` back into L1.
   */
  private notification(idx: readonly number[], k: number): number {
    const tl = this.timeline;
    const i = idx[k]!;
    const code = tl.reason[i]!;
    let end = tl.start[i]! + tl.duration[i]!;
    const rip = this.w.exit(tl.start[i]!, code, tl.source[i]!, RIP_L1_BASE);
    k++;
    while (k < idx.length) {
      const j = idx[k]!;
      const state = tl.state[j]!;
      if (state !== VcpuState.Handler || tl.reason[j] !== code || Math.abs(tl.start[j]! - end) > 1e-3) break;
      end = tl.start[j]! + tl.duration[j]!;
      k++;
    }
    this.w.entry(end, rip + 3n);
    return k;
  }

  /**
   * Whether the Exit interval idx[k] inside an episode is one of its chain's own transitions —
   * L1's VMRESUME — rather than the next exit (an operation right after the entry, with no
   * guest time between, or a nested exit L0 synthesizes at that entry). An interrupt for L1
   * delivered while L2 runs is one hardware exit: its chain follows L0's handler with no
   * transition of its own (sim/nestedPlan.ts combinePlans).
   */
  private chainTransition(idx: readonly number[], k: number): boolean {
    return this.label(idx[k]!) === VMRESUME_STEP;
  }

  private label(i: number): string | undefined {
    return this.timeline.sources[this.timeline.source[i]!]?.label;
  }

  /** TRACE_EVENT_KVM_EXIT(kvm_nested_vmexit), as the kernel prints it. */
  private nestedVmexit(ns: number, code: number, rip: bigint): void {
    const name = exitReasonByCode(code)?.name ?? `UNKNOWN (${code})`;
    const intr = code === EXIT.EXTERNAL_INTERRUPT ? this.w.interruptInfo(ns) : 0;
    this.w.line(
      ns,
      "kvm_nested_vmexit",
      `vcpu ${this.w.vcpu} reason ${name} rip ${`0x${rip.toString(16)}`} info1 ${hex16(0n)} info2 ${hex16(0n)} intr_info ${hex8(intr)} error_code ${hex8(0)}`,
    );
  }

  /** kvm_nested_vmenter (VMX: `vmcs`, `nested_ept`, the EPTP or L2's CR3), as the kernel prints it. */
  private nestedVmenter(ns: number, l1Rip: bigint, l2Rip: bigint): void {
    const ept = this.nestedEpt;
    this.w.line(
      ns,
      "kvm_nested_vmenter",
      `rip: ${hex16(l1Rip)} vmcs: ${hex16(VMCS12_ADDRESS)} nested_rip: ${hex16(l2Rip)} int_ctl: ${hex8(0)} event_inj: ${hex8(0)} nested_ept=${ept ? "y" : "n"} ${ept ? "nested_eptp" : "guest_cr3"}: ${hex16(0n)}`,
    );
  }
}

/** Whether the vmcs12 named `vmcs12` enables EPT (TraceCmdExportOptions.nestedEpt). */
export function nestedEptOf(program: Program, vmcs12: string): boolean {
  const vmcs = program.vmcs.get(vmcs12);
  return (
    vmcs !== undefined && isControlSet(effectiveControls(vmcs, program.target), CONTROL.proc2.enable_ept)
  );
}
