/**
 * The nested part of a guest operation's hover: for an operation of an L2 guest, which level
 * handles each of its exits and why ("handled by L1 because vmcs12 …"), and what one execution
 * costs at L0 and at L1. Markdown lines; the language server appends them.
 */
import type { Program } from "../../model/ir";
import type { Span } from "../../source";
import { formatCompact, formatInteger, formatRate } from "../../util/format";
import { nestedEstimate } from "./estimate";
import { nestedSetup } from "./reflect";

export function nestedOperationHover(program: Program, opSpan: Span): string[] | undefined {
  for (const guest of program.guests.values()) {
    if (opSpan.start < guest.span.start || opSpan.end > guest.span.end) continue;
    if (!nestedSetup(program, guest)) return undefined;
    const estimate = nestedEstimate(program, guest.name);
    const op = estimate?.operations.find((o) => o.span.start === opSpan.start && o.span.end === opSpan.end);
    if (!estimate || !op) return undefined;
    const lines = [
      "",
      `**Nested** (L2 \`${guest.name}\` on ${estimate.vmcs12}, L1 \`${estimate.hypervisor}\` on ${estimate.vmcs01}, VMCS shadowing ${estimate.shadowing ? "on" : "off"}):`,
    ];
    for (const x of op.exits) {
      const times = x.perExecution === 1 ? "" : ` × ${formatCompact(x.perExecution)}`;
      lines.push(`- ${x.reason}${times}: ${x.rule} — ${x.reference}`);
    }
    lines.push(
      "",
      `Per execution: ${formatInteger(op.l0CyclesPerExecution)} cycles in L0, ${formatInteger(op.l1CyclesPerExecution)} in L1 · ${formatRate(op.exitsPerSecond)} L2 exits per vCPU`,
    );
    return lines;
  }
  return undefined;
}
