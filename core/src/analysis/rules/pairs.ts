/**
 * The control-pair rules (E11, E13–E20, E23, E27, N10), one unit per row of `PAIR_RULES`: "if
 * control X is 1, Y must be 1" (requires) or "… must be 0" (excludes). The diagnostic sits on X's
 * token (or its raw word), related to Y.
 */
import type { Diagnostic } from "../../source";
import type { EntryRule } from "./context";
import { addFix, dropFix, fixes } from "./fixes";
import { PAIR_RULES, type PairRule } from "./pairTable";

function pairMessage(rule: PairRule): string {
  const [cw, cn] = rule.control;
  const [ow, on] = rule.other;
  const value = rule.kind === "requires" ? 1 : 0;
  const why = rule.why ? ` (${rule.why})` : "";
  return `${cn} (${cw}) requires ${on} (${ow}) = ${value}${why}`;
}

function pairRule(rule: PairRule): EntryRule {
  const [cw, cn] = rule.control;
  const [ow, on] = rule.other;
  const message = `${pairMessage(rule)}; VM entry fails (rule ${rule.rule})`;
  const otherSetHere = `${on} (${ow}) is set here`;
  return {
    id: `${rule.rule} ${cn} ⇒ ${on}`,
    codes: [`VMX-${rule.rule}`],
    rules: rule.sameAs ? [rule.rule, rule.sameAs] : [rule.rule],
    title: `\`${cn}\` (${cw}) ⇒ \`${on}\` (${ow}) = ${rule.kind === "requires" ? 1 : 0}.`,
    reference: rule.reference,
    fix:
      rule.kind === "requires"
        ? "add the required control with what it in turn requires (preferred), or remove the offending one."
        : "remove the excluded control (preferred) or the offending one.",
    when: rule.control,
    check(view, out) {
      if (!view.has(rule.control)) return;
      const otherSet = view.has(rule.other);
      if (rule.kind === "requires" ? otherSet : !otherSet) return;
      const diagnostic: Diagnostic = {
        severity: "error",
        code: `VMX-${rule.rule}`,
        message,
        span: view.spanOf(rule.control),
        related: [view.relatedTo(rule.other, otherSetHere)],
        reference: rule.reference,
      };
      diagnostic.fixes =
        rule.kind === "requires"
          ? fixes(addFix(view, rule.other, true), dropFix(view, rule.control, false))
          : fixes(dropFix(view, rule.other, true), dropFix(view, rule.control, false));
      out.push(diagnostic);
    },
  };
}

export const PAIR_RULE_UNITS: readonly EntryRule[] = PAIR_RULES.map(pairRule);
