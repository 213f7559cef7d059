/**
 * The panel's one formatting function of its own: the change between two runs. Every other
 * number is printed by the core's formatting module (core/src/util/format.ts), as in the CLI,
 * the hovers and the playground.
 */
import { formatPercent } from "../../core/src/util/format";

/** Signed relative change of b against a: "+12.5%", "-3.2%", "±0%", or "new" when a is 0. */
export function formatChange(a: number, b: number): string {
  if (a === 0 && b === 0) return "±0%";
  if (a === 0) return "new";
  const change = (b - a) / a;
  return `${change >= 0 ? "+" : ""}${formatPercent(change)}`;
}
