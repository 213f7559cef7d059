/**
 * The cost of one L2 exit that L0 reflects to L1, as the chain of L0 transitions KVM runs:
 *
 *  1. L2 → L0 VM exit, L0's emulated VM exit into L1 (nested_vmx_vmexit: sync_vmcs02_to_vmcs12,
 *     prepare_vmcs12, load_vmcs12_host_state), VM entry into L1: `round_trip` + `nested_vmexit`,
 *     plus, with VMCS shadowing, copy_vmcs12_to_shadow (a VMWRITE per shadowed field and two
 *     VMPTRLDs: nested_sync_vmcs12_to_shadow before L1 runs).
 *  2. L1's handler: its work runs in L1; each VMREAD/VMWRITE of a field outside the shadow
 *     bitmaps (every one without shadowing) exits to L0 (`round_trip` + `vmx_emulate`:
 *     handle_vmread/handle_vmwrite); INVEPT, INVVPID, VMPTRLD, VMCLEAR always exit.
 *  3. L1's VMRESUME exits to L0, which emulates the nested entry (nested_vmx_run: the
 *     nested_vmx_check_* checks, prepare_vmcs02) and enters L2: `round_trip` + `nested_vmentry`,
 *     plus, with shadowing, copy_shadow_to_vmcs12 (a VMREAD per read-write shadowed field and
 *     two VMPTRLDs).
 *
 * Cycles are split by the level that spends them (L0's cycles are host time outside L1; L1's
 * run in L1's vCPU). The numbers are the target's cost parameters, overridable with
 * `target { cost NAME = N }`; docs/estimator.md "Nested chain" gives the calibration.
 */
import { handlerKey, handlerOf, handlerTitle } from "../../model/handlers";
import type { HandlerOp, HypervisorIR, Program, VmcsIR } from "../../model/ir";
import type { Span } from "../../source";
import { formatSignificant as fmt } from "../../util/format";
import { isControlSet } from "../../vmx/controls";
import { exitReasonByCode } from "../../vmx/exitReasons";
import {
  KVM_SHADOW_READ_ONLY,
  KVM_SHADOW_READ_WRITE,
  L1_VMX_INSTRUCTIONS,
  NESTED_C,
  VMCS_SHADOWING,
} from "../../vmx/nested";
import type { CostName } from "../../vmx/types";
import { DEFAULT_HANDLER_WORK_CYCLES } from "../cost";
import { effectiveControls } from "../effective";
import { memoOf } from "../memo";

/**
 * The labels of the chain's steps that a trace of the chain marks (the simulator's timeline
 * names its segments `L0: <label>`; trace/export.ts writes KVM's nested tracepoints at them).
 */
export const STEP_NESTED_VMEXIT = "emulated VM exit into L1 (vmcs02 → vmcs12 sync)";
export const STEP_VMRESUME = "L1 VMRESUME → L0, L0 → L2 entry";
export const STEP_NESTED_VMENTRY = "emulated VM entry (nested checks, prepare_vmcs02)";

export interface ChainStep {
  label: string;
  level: "L0" | "L1";
  /** Expected cycles of the step per chain (branches weighted, repeats multiplied). */
  cycles: number;
  /** Expected exits from L1 to L0 this step causes per chain. */
  traps: number;
  reference?: string;
  /** The step of L1's trapped VMX instructions (their order is `ChainCost.trappedOps`). */
  trapped?: true;
}

/** One of L1's VMX instructions that exits to L0, in the handler's order (the simulator's timeline). */
export interface TrappedOp {
  /** vmread, vmwrite, invept, invvpid, vmptrld, vmclear. */
  op: string;
  field?: string;
  /** Expected executions per chain (branches weighted, repeats multiplied). */
  weight: number;
  /** L0 cycles of one: round trip + emulation. */
  cycles: number;
  span?: Span;
}

export interface ChainCost {
  reasonCode: number;
  /**
   * L1's handler specialised by operand that the chain runs (its index in
   * `hypervisor.operandHandlers`, NestedExit.handler); absent: L1's general handler.
   */
  variant?: number;
  /** "MSR_WRITE IA32_TSC_DEADLINE" for a specialised handler, the reason's name otherwise. */
  handlerTitle: string;
  /** Whether L1 has a handler for the reason (else the default handler estimate). */
  handled: boolean;
  shadowing: boolean;
  steps: ChainStep[];
  l0Cycles: number;
  l1Cycles: number;
  total: number;
  /** Exits into L0 per chain: the L2 exit, L1's trapped instructions, the VMRESUME. */
  l0Transitions: number;
  /** L1 VMREAD/VMWRITEs that exit to L0 / that the shadow VMCS served, per chain. */
  trappedAccesses: number;
  shadowedAccesses: number;
  /** Cycles of step 3 (L1's VMRESUME and L0's emulated entry), all in L0. */
  resumeCycles: number;
  /** `halt_wake` cycles of L1's handler (its `halt`: L1 blocking the vCPU), spent after the block. */
  l1WakeCycles: number;
  /** L1's trapped instructions in handler order (their cycles sum to the trapped step's). */
  trappedOps: TrappedOp[];
}

/** Which fields L1 reads and writes without exiting (none without VMCS shadowing in vmcs01). */
export interface ShadowSets {
  on: boolean;
  read: ReadonlySet<string>;
  write: ReadonlySet<string>;
}

const KVM_READ = new Set([...KVM_SHADOW_READ_WRITE, ...KVM_SHADOW_READ_ONLY]);
const KVM_WRITE = new Set(KVM_SHADOW_READ_WRITE);
const NONE: ReadonlySet<string> = new Set();

export function shadowSets(program: Program, vmcs01: VmcsIR): ShadowSets {
  const on = isControlSet(effectiveControls(vmcs01, program.target), VMCS_SHADOWING);
  if (!on) return { on, read: NONE, write: NONE };
  const s = vmcs01.shadow;
  if (!s) return { on, read: KVM_READ, write: KVM_WRITE };
  if (!s.kvm) return { on, read: s.read, write: s.write };
  // `shadow kvm` plus more fields: KVM's list and the ones named.
  return { on, read: new Set([...KVM_READ, ...s.read]), write: new Set([...KVM_WRITE, ...s.write]) };
}

/**
 * The chain of one exit of `reasonCode` reflected to `hypervisor` (memoized per program);
 * `variant`: L1's handler specialised by the exit's operand that takes it (NestedExit.handler,
 * model/handlers.ts), absent: L1's general handler.
 */
export function reflectedChainCost(
  program: Program,
  hypervisor: HypervisorIR,
  reasonCode: number,
  variant?: number,
): ChainCost {
  const perProgram = memoOf(program).nestedChains;
  const key = `${hypervisor.name}:${handlerKey(reasonCode, variant)}`;
  let c = perProgram.get(key);
  if (!c) {
    c = computeChain(program, hypervisor, reasonCode, variant);
    perProgram.set(key, c);
  }
  return c;
}

function computeChain(
  program: Program,
  hypervisor: HypervisorIR,
  reasonCode: number,
  variant: number | undefined,
): ChainCost {
  const costs = program.target.costs;
  const cost = (name: CostName) => costs[name].cycles;
  const vmcs01 = program.vmcs.get(hypervisor.vmcs);
  const shadow: ShadowSets = vmcs01 ? shadowSets(program, vmcs01) : { on: false, read: NONE, write: NONE };
  const steps: ChainStep[] = [];
  let trapped = 0;
  let shadowed = 0;

  // 1. The exit into L1.
  steps.push({
    label: "L2 → L0 exit, L0 → L1 entry",
    level: "L0",
    cycles: cost("round_trip"),
    traps: 0,
  });
  steps.push({
    label: STEP_NESTED_VMEXIT,
    level: "L0",
    cycles: cost("nested_vmexit"),
    traps: 0,
    reference: `${NESTED_C} nested_vmx_vmexit, sync_vmcs02_to_vmcs12, prepare_vmcs12`,
  });
  if (shadow.on) {
    const fields = new Set([...shadow.read, ...shadow.write]).size;
    steps.push({
      label: `vmcs12 → shadow VMCS (${fields} VMWRITEs, 2 VMPTRLDs)`,
      level: "L0",
      cycles: fields * cost("vmwrite") + 2 * cost("vmptrld"),
      traps: 0,
      reference: `${NESTED_C} copy_vmcs12_to_shadow`,
    });
  }

  // 2. L1's handler: the one specialised by the exit's operand, else the general one.
  const handler = handlerOf(hypervisor, reasonCode, variant);
  const chosen = handler?.operand ? variant : undefined;
  const ops: HandlerOp[] = handler ? handler.ops : [];
  let l1 = 0;
  let l0 = 0;
  const trappedOps: TrappedOp[] = [];
  const access = (kind: "vmread" | "vmwrite", field: string, weight: number, span?: Span) => {
    const served = kind === "vmread" ? shadow.read.has(field) : shadow.write.has(field);
    if (served) {
      shadowed += weight;
      l1 += weight * cost(kind);
    } else {
      trapped += weight;
      const one = cost("round_trip") + cost("vmx_emulate");
      l0 += weight * one;
      trappedOps.push({ op: kind, field, weight, cycles: one, span });
    }
  };
  let traps = 0;
  let l1Wake = 0;
  const walk = (list: readonly HandlerOp[], weight: number, depth: number) => {
    for (const op of list) {
      switch (op.op) {
        case "vmread":
        case "vmwrite":
          access(op.op, op.field.name, weight, op.span);
          break;
        case "work":
          l1 += weight * op.cycles;
          break;
        case "decode":
          l1 += weight * cost("decode");
          break;
        case "advance_rip":
          access("vmread", "VM_EXIT_INSTRUCTION_LEN", weight, op.span);
          access("vmwrite", "GUEST_RIP", weight, op.span);
          l1 += weight * cost("advance_rip");
          break;
        case "inject":
          access("vmwrite", "VM_ENTRY_INTR_INFO_FIELD", weight, op.span);
          l1 += weight * cost("inject");
          break;
        case "invept":
        case "invvpid":
          traps += weight;
          l0 += weight * (cost("round_trip") + cost(op.op));
          trappedOps.push({ op: op.op, weight, cycles: cost("round_trip") + cost(op.op), span: op.span });
          break;
        case "vmptrld":
        case "vmclear":
          traps += weight;
          l0 += weight * (cost("round_trip") + cost("vmx_emulate") + cost("vmptrld"));
          trappedOps.push({
            op: op.op,
            weight,
            cycles: cost("round_trip") + cost("vmx_emulate") + cost("vmptrld"),
            span: op.span,
          });
          break;
        case "vmresume":
        case "vmlaunch":
          // The entry back into L2 is step 3 (one per chain, written or not).
          break;
        case "userspace":
          l1 += weight * (cost("userspace_round_trip") + op.cycles);
          break;
        case "halt":
          l1 += weight * cost("halt_wake");
          l1Wake += weight * cost("halt_wake");
          break;
        case "kick":
          l1 += weight * cost("ipi");
          break;
        case "call": {
          const fn = program.fns.get(op.fn);
          if (fn && depth < 32) walk(fn.ops, weight, depth + 1);
          break;
        }
        case "branch":
          for (const arm of op.arms) walk(arm.ops, weight * arm.probability, depth);
          break;
        case "repeat":
          walk(op.ops, weight * op.count, depth);
          break;
      }
    }
  };
  if (handler) walk(ops, 1, 0);
  else {
    access("vmread", "VM_EXIT_REASON", 1);
    l1 += DEFAULT_HANDLER_WORK_CYCLES;
  }
  steps.push({
    label: handler
      ? `L1's handler ${handlerTitle(handler)}`
      : "L1's handler (none written: one VMREAD + default work, an estimate)",
    level: "L1",
    cycles: l1,
    traps: 0,
  });
  if (l0 > 0)
    steps.push({
      label: `L1's trapped VMX instructions (${fmt(trapped)} VMREAD/VMWRITE, ${fmt(traps)} other)`,
      level: "L0",
      cycles: l0,
      traps: trapped + traps,
      trapped: true,
      reference: `${L1_VMX_INSTRUCTIONS.get("vmread")!.kvm}, ${L1_VMX_INSTRUCTIONS.get("vmwrite")!.kvm}`,
    });

  // 3. VMRESUME.
  const resumeFrom = steps.length;
  steps.push({
    label: STEP_VMRESUME,
    level: "L0",
    cycles: cost("round_trip"),
    traps: 1,
  });
  steps.push({
    label: STEP_NESTED_VMENTRY,
    level: "L0",
    cycles: cost("nested_vmentry"),
    traps: 0,
    reference: `${NESTED_C} nested_vmx_run, nested_vmx_check_controls, prepare_vmcs02`,
  });
  if (shadow.on) {
    steps.push({
      label: `shadow VMCS → vmcs12 (${shadow.write.size} VMREADs, 2 VMPTRLDs)`,
      level: "L0",
      cycles: shadow.write.size * cost("vmread") + 2 * cost("vmptrld"),
      traps: 0,
      reference: `${NESTED_C} copy_shadow_to_vmcs12`,
    });
  }

  let resumeCycles = 0;
  for (let i = resumeFrom; i < steps.length; i++) resumeCycles += steps[i]!.cycles;
  const { l0: l0Cycles, l1: l1Cycles } = cyclesByLevel(steps);
  return {
    reasonCode,
    ...(chosen !== undefined ? { variant: chosen } : {}),
    handlerTitle: handler
      ? handlerTitle(handler)
      : (exitReasonByCode(reasonCode)?.name ?? String(reasonCode)),
    handled: handler !== undefined,
    shadowing: shadow.on,
    steps,
    l0Cycles,
    l1Cycles,
    total: l0Cycles + l1Cycles,
    l0Transitions: 2 + trapped + traps,
    trappedAccesses: trapped,
    shadowedAccesses: shadowed,
    resumeCycles,
    l1WakeCycles: l1Wake,
    trappedOps,
  };
}

/**
 * A nested exit L0 synthesizes at a VM entry, with no exit from L2: an interrupt for L1 that
 * became pending while the vCPU was outside L2 (L0 handling an exit, or blocked). At the entry
 * vmx_check_nested_events finds it and calls nested_vmx_vmexit(vcpu,
 * EXIT_REASON_EXTERNAL_INTERRUPT, …) (arch/x86/kvm/vmx/nested.c), so the entry goes into L1
 * instead of L2: the chain without its first round trip (the exit L0 was finishing paid that
 * entry), and without the L2 exit among its exits into L0 (L1's trapped instructions and the
 * VMRESUME remain).
 */
export function synthesizedExitCost(
  program: Program,
  chain: ChainCost,
): { l0Cycles: number; l1Cycles: number; l0Transitions: number } {
  return {
    l0Cycles: Math.max(0, chain.l0Cycles - program.target.costs.round_trip.cycles),
    l1Cycles: chain.l1Cycles,
    l0Transitions: chain.l0Transitions - 1,
  };
}

/** A chain's cycles by the level that spends them. */
export function cyclesByLevel(steps: readonly ChainStep[]): { l0: number; l1: number } {
  let l0 = 0;
  let l1 = 0;
  for (const s of steps) {
    if (s.level === "L0") l0 += s.cycles;
    else l1 += s.cycles;
  }
  return { l0, l1 };
}
