/**
 * Hovers on the hypervisor side: a handler (its cost per exit broken down, branches, the exits it
 * serves), one of its operations (the cost parameter it charges, with provenance) and a fn.
 */
import {
  exceptionByVector,
  exitCost,
  exitOperandOf,
  type FnIR,
  type HandlerIR,
  type HandlerOp,
  handlerTitle,
  handlerVariantOf,
  type Program,
  primaryGuest,
  primaryVmcs,
  transitionBreakdown,
  vcpuMayMigrate,
} from "../../../core/src/index";
import { formatCyclesAt, formatInteger, formatPercent, formatRate } from "../../../core/src/util/format";
import { codeSpan, escapeMarkdown } from "../markdown";
import type { DocumentModel } from "../model";
import { transitionRows } from "./hoverText";
import { fieldHover } from "./hoverVmx";

export function handlerHover(model: DocumentModel, handler: HandlerIR): string {
  const program = model.analysis.program;
  const reason = handler.reason;
  const vmcs = primaryVmcs(program);
  const variant = handlerVariantOf(program, handler);
  const cost = exitCost(program, vmcs, reason.code, vcpuMayMigrate(primaryGuest(program)), variant);
  const hz = program.target.hz;
  const general = program.handlers.get(reason.code);
  const lines = [
    `**handler ${escapeMarkdown(handlerTitle(handler))}** (exit reason ${reason.code})`,
    "",
    reason.meaning,
    ...(handler.operand
      ? [
          "",
          `Specialised by operand: it takes the ${reason.name} exits whose ${exitOperandOf(reason.code)?.kind === "msr" ? "MSR" : "operand"} is \`${handler.operand.label}\`; ${general ? `every other runs the general handler (line ${model.analysis.lines.positionAt(general.reasonSpan.start).line + 1})` : "every other has no handler (TL310)"}.`,
        ]
      : []),
    "",
    "| per exit | cycles |",
    "|---|---:|",
    `| transition (VM exit + entry${vmcs && program.vmcs.size > 1 ? `, vmcs ${escapeMarkdown(vmcs.name)}` : ""}) | ${formatInteger(cost.transition)} |`,
    ...transitionRows(transitionBreakdown(cost.transitionDetail)),
    `| handler | ${formatInteger(cost.handler)} |`,
    `| user space | ${formatInteger(cost.userspace)} |`,
    `| **total** | **${formatCyclesAt(cost.total, hz)}** |`,
  ];
  if (cost.arms.length) {
    lines.push("", "Branches (cycles when taken):");
    for (const arm of cost.arms) {
      lines.push(
        `- ${formatPercent(arm.probability)}${arm.label ? ` ${codeSpan(arm.label)}` : ""}: ${formatInteger(arm.cycles)} cycles${arm.userspace ? ` (${formatInteger(arm.userspace)} in user space)` : ""}`,
      );
    }
  } else if (cost.ops.length) {
    lines.push("", "Operations:");
    for (const op of cost.ops) lines.push(`- ${codeSpan(op.label)}: ${formatInteger(op.cycles)} cycles`);
  }
  if (cost.estimate)
    lines.push("", "_Part of this cost is the documented default handler estimate, not a measurement._");
  const served = model.reasonTotals.get(reason.code);
  if (served && served.exitsPerSecond > 0) {
    lines.push(
      "",
      `Serves **${formatRate(served.exitsPerSecond)}** (${served.perGuest.map((g) => `${escapeMarkdown(g.guest)}: ${formatRate(g.estimate.exitsPerSecond)}`).join(", ")}) — ${formatPercent((served.exitsPerSecond * cost.total) / hz)} of a host core`,
    );
  } else lines.push("", "No guest in this file exits with this reason.");
  lines.push("", `Source: ${reason.source}`);
  return lines.join("\n");
}

export function handlerOpHover(program: Program, op: HandlerOp, owner: HandlerIR | FnIR): string | undefined {
  const costs = program.target.costs;
  const hz = program.target.hz;
  const where = "reason" in owner ? `handler ${owner.reason.name}` : `fn ${escapeMarkdown(owner.name)}`;
  // A source that already says what it is ("estimate: …", "estimate from …") is not prefixed again.
  const costLine = (name: keyof typeof costs) => {
    const { cycles, provenance, source } = costs[name];
    return `${formatCyclesAt(cycles, hz)} — ${source.startsWith(provenance) ? source : `${provenance}: ${source}`}`;
  };
  switch (op.op) {
    case "vmread":
    case "vmwrite": {
      const head = `**${op.op.toUpperCase()}** \`${op.field.name}\` in ${where}: ${costLine(op.op)}`;
      return `${head}\n\n---\n\n${fieldHover(op.field)}`;
    }
    case "work":
      return `**work**: ${formatCyclesAt(op.cycles, hz)} of hypervisor work (as written)`;
    case "userspace":
      return `**userspace**: exit to the user-space VMM and back, ${costLine("userspace_round_trip")}; plus ${formatCyclesAt(op.cycles, hz)} there`;
    case "decode":
      return `**decode**: fetch and decode the guest instruction (KVM's emulator front end), ${costLine("decode")}`;
    case "advance_rip":
      return `**advance_rip**: read VM_EXIT_INSTRUCTION_LEN, write GUEST_RIP (KVM skip_emulated_instruction), ${costLine("advance_rip")}`;
    case "invept":
    case "invvpid":
      return `**${op.op.toUpperCase()}**: ${costLine(op.op)}`;
    case "halt":
      return `**halt**: block the vCPU until its next event (KVM kvm_emulate_halt → kvm_vcpu_halt); waking costs ${costLine("halt_wake")}`;
    case "kick":
      return `**kick**: IPI to another vCPU (kvm_vcpu_kick), ${costLine("ipi")}`;
    case "vmptrld":
    case "vmclear":
      return `**${op.op.toUpperCase()}** in ${where}: ${costLine("vmptrld")} (in a \`hypervisor\` handler: L1's instruction, an exit to L0)`;
    case "vmresume":
    case "vmlaunch":
      return `**${op.op.toUpperCase()}** in ${where}: the VM entry (in a \`hypervisor\` handler: L1's nested VM entry, emulated by L0's nested_vmx_run)`;
    case "inject": {
      const exception = exceptionByVector(op.vector);
      return `**inject** vector ${op.vector}${exception ? ` (${exception.mnemonic})` : ""}: VM-entry interruption information (VM_ENTRY_INTR_INFO_FIELD 0x4016), ${costLine("inject")}`;
    }
    case "call": {
      const fn = program.fns.get(op.fn);
      return fn ? fnHover(program, fn) : `**call ${escapeMarkdown(op.fn)}**: no such fn`;
    }
    case "branch":
      return `**branch**: ${op.arms.map((arm) => `${formatPercent(arm.probability)}${arm.label ? ` ${escapeMarkdown(arm.label)}` : ""}`).join(", ")}`;
    case "repeat":
      return `**repeat** ${op.count} times`;
  }
}

export function fnHover(program: Program, fn: FnIR): string {
  const costs = program.target.costs;
  let cycles = 0;
  let known = true;
  const sum = (ops: HandlerOp[], weight: number) => {
    for (const op of ops) {
      switch (op.op) {
        case "vmread":
        case "vmwrite":
        case "decode":
        case "advance_rip":
        case "invept":
        case "invvpid":
        case "inject":
          cycles += weight * costs[op.op].cycles;
          break;
        case "kick":
          cycles += weight * costs.ipi.cycles;
          break;
        case "work":
          cycles += weight * op.cycles;
          break;
        case "userspace":
          cycles += weight * (op.cycles + costs.userspace_round_trip.cycles);
          break;
        case "branch":
          for (const arm of op.arms) sum(arm.ops, weight * arm.probability);
          break;
        case "repeat":
          sum(op.ops, weight * op.count);
          break;
        default:
          known = false;
      }
    }
  };
  sum(fn.ops, 1);
  return `**fn ${escapeMarkdown(fn.name)}**: ${fn.ops.length} operation${fn.ops.length === 1 ? "" : "s"}${known ? `, ≈ ${formatCyclesAt(cycles, program.target.hz)} per call (branches weighted)` : ""}`;
}
