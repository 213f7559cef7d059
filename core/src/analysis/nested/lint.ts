/**
 * The unhandled-exit lint for an L2 guest: each exit needs a handler at the level that handles
 * it (reflect.ts). An exit L0 keeps needs an L0 `handler` (TL310, as for any guest); an exit L0
 * reflects to L1 needs a `handler` in the `hypervisor` block, else it is costed with the default
 * handler estimate (TL330, a warning: the chain's transitions are still modelled).
 */
import { type HandlerTables, hasAnyHandler } from "../../model/handlers";
import type { GuestIR, Program } from "../../model/ir";
import type { Diagnostic, Span } from "../../source";
import { exitReasonByCode } from "../../vmx/exitReasons";
import { REFLECT_REFERENCE } from "../../vmx/nested";
import { nestedEstimate } from "./estimate";
import { nestedSetup } from "./reflect";

/** Lints `guest` when it is an L2 and returns true; false (nothing done) otherwise. */
export function lintNestedGuest(
  program: Program,
  guest: GuestIR,
  _text: string | undefined,
  out: Diagnostic[],
): boolean {
  const setup = nestedSetup(program, guest);
  if (!setup) return false;
  const estimate = nestedEstimate(program, guest.name);
  if (!estimate) return true;
  const reported = new Set<string>();
  const tables = (level: string) => (level === "L1" ? setup.hypervisor : program);
  const report = (code: number, level: string, span: Span) => {
    const key = `${level}:${code}`;
    if (reported.has(key)) return;
    const def = exitReasonByCode(code);
    if (!def) return;
    reported.add(key);
    const note = specialisedNote(tables(level), def.code, def.name);
    if (level === "L0")
      out.push({
        severity: "error",
        code: "TL310",
        message: `exits with ${def.name} (${def.code}) in L2 guest ${guest.name}, which L0 handles itself, but the file has no handler ${def.name}${note}`,
        span,
        related: [{ span: setup.vmcs12.nameSpan, message: `L2 runs on vmcs ${setup.vmcs12.name}` }],
        reference: REFLECT_REFERENCE,
      });
    else
      out.push({
        severity: "warning",
        code: "TL330",
        message: `L0 reflects ${def.name} (${def.code}) of L2 guest ${guest.name} to hypervisor ${setup.hypervisor.name}, which has no handler ${def.name}${note}: costed with the default handler estimate`,
        span,
        related: [{ span: setup.hypervisor.nameSpan, message: `hypervisor ${setup.hypervisor.name}` }],
        reference: REFLECT_REFERENCE,
      });
  };
  // An operation's exits: the handler its operand chooses at the level (model/handlers.ts), as
  // the single-level lint checks each operation (lints.ts lintOps).
  const fromOperations = new Set<string>();
  for (const o of estimate.operations)
    for (const e of o.exits) {
      if (e.perExecution <= 0 || o.exitsPerSecond <= 0) continue;
      fromOperations.add(`${e.level}:${e.code}`);
      if (e.handler === undefined) report(e.code, e.level, o.span);
    }
  // Exits no operation causes (interrupt delivery, the idle HLT): no operand, any handler of
  // the reason counts, as for a single level.
  for (const r of estimate.byReason) {
    if (r.exitsPerSecond <= 0 || fromOperations.has(`${r.level}:${r.code}`)) continue;
    if (!hasAnyHandler(tables(r.level), r.code)) report(r.code, r.level, guest.nameSpan);
  }
  return true;
}

/** " for this operand (the specialised MSR_WRITE handlers take IA32_TSC_DEADLINE only)" where the level has some. */
function specialisedNote(tables: HandlerTables, code: number, name: string): string {
  const list = tables.operandHandlers?.get(code);
  if (!list || list.length === 0) return "";
  return ` for this operand (the specialised ${name} handlers take ${list.map((h) => h.operand?.label ?? "").join(", ")} only)`;
}
