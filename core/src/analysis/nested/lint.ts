/**
 * The unhandled-exit lint for an L2 guest: each exit needs a handler at the level that handles
 * it (reflect.ts). An exit L0 keeps needs an L0 `handler` (TL310, as for any guest); an exit L0
 * reflects to L1 needs a `handler` in the `hypervisor` block, else it is costed with the default
 * handler estimate (TL330, a warning: the chain's transitions are still modelled).
 */
import { hasAnyHandler } from "../../model/handlers";
import type { GuestIR, Program } from "../../model/ir";
import type { Diagnostic } from "../../source";
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
  const spanOf = (code: number, level: string) =>
    estimate.operations.find((o) => o.exits.some((e) => e.code === code && e.level === level))?.span ??
    guest.nameSpan;
  for (const r of estimate.byReason) {
    if (r.exitsPerSecond <= 0) continue;
    const key = `${r.level}:${r.code}`;
    if (reported.has(key)) continue;
    const def = exitReasonByCode(r.code);
    if (!def) continue;
    if (r.level === "L0" && !hasAnyHandler(program, r.code)) {
      reported.add(key);
      out.push({
        severity: "error",
        code: "TL310",
        message: `exits with ${def.name} (${def.code}) in L2 guest ${guest.name}, which L0 handles itself, but the file has no handler ${def.name}`,
        span: spanOf(r.code, "L0"),
        related: [{ span: setup.vmcs12.nameSpan, message: `L2 runs on vmcs ${setup.vmcs12.name}` }],
        reference: REFLECT_REFERENCE,
      });
    } else if (r.level === "L1" && !setup.hypervisor.handlers.has(r.code)) {
      reported.add(key);
      out.push({
        severity: "warning",
        code: "TL330",
        message: `L0 reflects ${def.name} (${def.code}) of L2 guest ${guest.name} to hypervisor ${setup.hypervisor.name}, which has no handler ${def.name}: costed with the default handler estimate`,
        span: spanOf(r.code, "L1"),
        related: [{ span: setup.hypervisor.nameSpan, message: `hypervisor ${setup.hypervisor.name}` }],
        reference: REFLECT_REFERENCE,
      });
    }
  }
  return true;
}
