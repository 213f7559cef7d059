/**
 * TL301/TL302: secondary or tertiary controls listed, or a raw word for them written, while their
 * word is not activated. The CPU then acts as if every control of the word were 0 (rules E3, E4),
 * so the other rules do not check the word either.
 */
import { CONTROL_WORD_FIELD } from "../../vmx/controls";
import { type EntryRule, hex } from "./context";
import { addFix } from "./fixes";
import { ACTIVATION } from "./pairTable";
import { SDM_EXEC } from "./references";

function activationRule(word: "proc2" | "proc3"): EntryRule {
  const activation = ACTIVATION[word]!;
  const [actWord, actName] = activation.control;
  const wordName = word === "proc2" ? "secondary" : "tertiary";
  // KVM reads a secondary control only through nested_cpu_has2 (arch/x86/kvm/vmx/nested.h), which
  // tests the activation control first (it used to be cited for the tertiary word too, wrongly).
  const reference =
    word === "proc2"
      ? `${SDM_EXEC} (rule ${activation.rule}); Linux arch/x86/kvm/vmx/nested.h nested_cpu_has2`
      : `${SDM_EXEC} (rule ${activation.rule})`;
  return {
    id: activation.code,
    codes: [activation.code],
    rules: [activation.rule],
    title:
      `A \`${word}\` control listed (or a non-zero raw ${CONTROL_WORD_FIELD[word]}) while ` +
      `\`${actName}\` is 0: the CPU ignores the whole ${wordName} word.`,
    reference,
    fix: `add \`${actName}\` to the \`${actWord}\` line.`,
    check(view, out) {
      if (view.written(activation.control)) return;
      const settings = view.vmcs.settings.filter((s) => s.control.word === word);
      const raw = view.field(CONTROL_WORD_FIELD[word]);
      const rawIgnored = raw !== undefined && raw.value !== 0n;
      if (settings.length === 0 && !rawIgnored) return;
      const fix = addFix(view, activation.control, true);
      if (rawIgnored) {
        out.push({
          severity: "warning",
          code: activation.code,
          message:
            `${CONTROL_WORD_FIELD[word]} = ${hex(raw.value)} is ignored: ${actName} (${actWord}) is 0, so ` +
            `the CPU acts as if every ${wordName} control were 0`,
          span: raw.span,
          related: [view.relatedTo(activation.control, "")],
          fixes: fix ? [fix] : undefined,
          reference,
        });
      }
      for (const setting of settings) {
        out.push({
          severity: "warning",
          code: activation.code,
          message:
            `${setting.control.name} (${word}) is ignored: ${actName} (${actWord}) is 0, so the CPU ` +
            `acts as if every ${wordName} control were 0`,
          span: setting.span,
          related: [view.relatedTo(activation.control, "")],
          fixes: fix ? [fix] : undefined,
          reference,
        });
      }
    },
  };
}

export const ACTIVATION_RULES: readonly EntryRule[] = [activationRule("proc2"), activationRule("proc3")];
