/**
 * Hovers on a `hypervisor` block (nested virtualization, docs/language.md): on its name, which
 * vmcs01 L0 runs it with, VMCS shadowing and the L2 guests it runs; on one of its handlers'
 * reason, what one exit reflected to it costs per level (the chain of analysis/nested/chain.ts:
 * L0's emulated exit, L1's handler with its trapped VMX instructions, the VMRESUME and L0's
 * emulated entry) and which L2 operations reach it, with their rates.
 */
import {
  exitOperandOf,
  type HandlerIR,
  type HandlerOp,
  type HypervisorIR,
  handlerTitle,
  reflectedChainCost,
  shadowSets,
} from "../../../core/src/index";
import { formatCompact, formatCyclesAt, formatInteger, formatRate } from "../../../core/src/util/format";
import { codeSpan, escapeMarkdown } from "../markdown";
import type { DocumentModel } from "../model";

export function l1HandlerHover(model: DocumentModel, handler: HandlerIR, hypervisor: HypervisorIR): string {
  const { program, lines: lineMap, text } = model.analysis;
  const reason = handler.reason;
  const hz = program.target.hz;
  const index = hypervisor.operandHandlers?.get(reason.code)?.indexOf(handler) ?? -1;
  const variant = index >= 0 ? index : undefined;
  const chain = reflectedChainCost(program, hypervisor, reason.code, variant);
  const general = hypervisor.handlers.get(reason.code);
  const lineOf = (offset: number) => lineMap.positionAt(offset).line + 1;
  const out = [
    `**L1 handler ${handlerTitle(handler)}** of hypervisor ${codeSpan(hypervisor.name)} (exit reason ${reason.code})`,
    "",
    reason.meaning,
    ...(handler.operand
      ? [
          "",
          `Specialised by operand: it takes the reflected ${reason.name} exits whose ${exitOperandOf(reason.code)?.kind === "msr" ? "MSR" : "operand"} is \`${handler.operand.label}\`; ${general ? `every other runs L1's general handler (line ${lineOf(general.reasonSpan.start)})` : "every other has no L1 handler (the default handler estimate)"}.`,
        ]
      : []),
    "",
    `One exit L0 reflects here, VMCS shadowing ${chain.shadowing ? "on" : "off"} (vmcs01 ${codeSpan(hypervisor.vmcs)}):`,
    "",
    "| level | step | cycles |",
    "|---|---|---:|",
    ...chain.steps.map(
      (step) => `| ${step.level} | ${escapeMarkdown(step.label)} | ${formatInteger(step.cycles)} |`,
    ),
    `| | **total** (L0 ${formatInteger(chain.l0Cycles)}, L1 ${formatInteger(chain.l1Cycles)}) | **${formatCyclesAt(chain.total, hz)}** |`,
    "",
    `Exits into L0 per exit: ${formatCompact(chain.l0Transitions)} · L1's VMREAD/VMWRITEs: ${formatCompact(chain.trappedAccesses)} trapped, ${formatCompact(chain.shadowedAccesses)} served by the shadow VMCS`,
  ];
  const reach = model.l1Reach(hypervisor, handler);
  const total = model.l1ReachedPerSecond(hypervisor, handler);
  if (total <= 0 && reach.length === 0) out.push("", "No L2 exit in this file reaches it.");
  else {
    out.push(
      "",
      `Reached by **${formatRate(total)}** L2 exits (all vCPUs)${reach.length ? ", from these operations:" : "."}`,
    );
    for (const r of reach.slice(0, 12)) {
      const opText = text.slice(r.operation.span.start, r.operation.span.end).split("\n")[0]!.trim();
      const times = r.perExecution === 1 ? "" : ` × ${formatCompact(r.perExecution)}`;
      out.push(
        `- ${codeSpan(r.guest.name)} line ${lineOf(r.operation.span.start)} ${codeSpan(opText)}${times}: ${formatRate(r.exitsPerSecond)}`,
      );
    }
    if (reach.length > 12) out.push(`- … and ${reach.length - 12} more`);
  }
  out.push("", `Source: ${reason.source}`);
  return out.join("\n");
}

export function hypervisorHover(model: DocumentModel, hypervisor: HypervisorIR): string {
  const program = model.analysis.program;
  const vmcs01 = program.vmcs.get(hypervisor.vmcs);
  const guests = [...program.guests.values()].filter(
    (g) => model.nestedEstimateOf(g.name)?.hypervisor === hypervisor.name,
  );
  const handlers = hypervisor.handlers.size + [...(hypervisor.operandHandlers?.values() ?? [])].flat().length;
  // Whether vmcs01 shadows L1's VMREAD/VMWRITEs (off while vmcs01 is not defined, as the chain takes it).
  const shadowing = vmcs01 ? shadowSets(program, vmcs01).on : false;
  const lines = [
    `**hypervisor** ${codeSpan(hypervisor.name)} — an L1 guest hypervisor, run by L0 on vmcs01 ${vmcs01 ? codeSpan(vmcs01.name) : `${codeSpan(hypervisor.vmcs)} (not defined)`}, VMCS shadowing ${shadowing ? "on" : "off"}`,
    "",
    `${handlers} handler${handlers === 1 ? "" : "s"} for the exits L0 reflects to it.`,
  ];
  if (guests.length === 0) lines.push("", "It runs no L2 guest of this file.");
  else {
    lines.push("", "Runs:");
    for (const g of guests) {
      const e = model.nestedEstimateOf(g.name)!;
      lines.push(
        `- ${codeSpan(g.name)} on ${codeSpan(e.vmcs12)}: ${formatRate(e.reflectedPerSecond)} exits reflected to it, ${formatRate(e.l1ExitsPerSecond)} L1 → L0 exits`,
      );
    }
  }
  return lines.join("\n");
}

/** The VMX operations of an L1 handler (its own, not those of a `call`ed fn, shared by every level). */
const L1_VMX_OPS = new Set([
  "vmread",
  "vmwrite",
  "advance_rip",
  "inject",
  "invept",
  "invvpid",
  "vmptrld",
  "vmclear",
]);

/**
 * For an operation written in an L1 handler: whether it exits to L0 (each trapped VMX
 * instruction is one more L0 round trip and emulation in the chain) or, for a VMREAD/VMWRITE
 * the vmcs01's shadow VMCS serves, runs in L1 without exiting; from the chain the estimator and
 * the simulator cost (analysis/nested/chain.ts `trappedOps`).
 */
export function l1OperationLines(
  model: DocumentModel,
  op: HandlerOp,
  handler: HandlerIR,
  hypervisor: HypervisorIR,
): string | undefined {
  if (!L1_VMX_OPS.has(op.op)) return undefined;
  const program = model.analysis.program;
  const index = hypervisor.operandHandlers?.get(handler.reason.code)?.indexOf(handler) ?? -1;
  const chain = reflectedChainCost(program, hypervisor, handler.reason.code, index >= 0 ? index : undefined);
  const trapped = chain.trappedOps.filter(
    (t) => t.span?.start === op.span.start && t.span?.end === op.span.end,
  );
  const name = (t: { op: string; field?: string }) => `${t.op.toUpperCase()}${t.field ? ` ${t.field}` : ""}`;
  const head = `**In L1** (hypervisor ${codeSpan(hypervisor.name)}, VMCS shadowing ${chain.shadowing ? "on" : "off"}):`;
  if (trapped.length === 0)
    return `${head} served by the shadow VMCS — no exit to L0 (the field's bit is 0 in vmcs01's VMREAD/VMWRITE bitmap).`;
  const each = trapped.map((t) => `${codeSpan(name(t))} ${formatInteger(t.cycles)} cycles`).join(", ");
  return `${head} exits to L0, which emulates it — ${each} of L0 per execution (${formatCyclesAt(
    trapped.reduce((sum, t) => sum + t.cycles, 0),
    program.target.hz,
  )}).`;
}
