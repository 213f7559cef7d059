/**
 * Cases for the VM-entry rule units (core/src/analysis/rules): for each unit of the registry, a
 * file that breaks the rule, with the range its diagnostic must sit on marked «like this», and
 * the same file corrected. test/checks-rules.test.ts runs them all, the unit alone and through
 * the whole analysis, and fails when a unit of the registry has no case.
 */

export interface RuleCase {
  /** The `id` of the registry unit. */
  rule: string;
  /** The code the unit must report on the marked range. */
  code: string;
  /** A file breaking the rule; «…» marks the range of the diagnostic. */
  failing: string;
  /** The file corrected: the unit reports nothing, the analysis no `code`. */
  passing: string;
}

const BASE = {
  pin: "external_interrupt_exiting nmi_exiting",
  proc: "hlt_exiting use_tpr_shadow activate_secondary_controls",
  proc2: "enable_ept",
  exit: "host_address_space_size acknowledge_interrupt_on_exit",
  entry: "ia32e_mode_guest",
};

export interface VmcsSpec {
  target?: string;
  pin?: string;
  proc?: string;
  proc2?: string;
  proc3?: string;
  exit?: string;
  entry?: string;
  /** Statements after the control lines, one per array element. */
  extra?: readonly string[];
}

/**
 * One `vmcs v` block with the base controls (legal on skylake_server), `spec`'s words replacing
 * a line (an empty string drops it) and `extra` statements after them.
 */
export function vmcs(spec: VmcsSpec = {}): string {
  const words: Record<string, string | undefined> = { ...BASE, proc3: undefined };
  for (const word of ["pin", "proc", "proc2", "proc3", "exit", "entry"] as const)
    if (spec[word] !== undefined) words[word] = spec[word];
  const lines: string[] = [];
  for (const [word, names] of Object.entries(words))
    if (names !== undefined && names.trim() !== "") lines.push(`  ${word.padEnd(5)} ${names}`);
  for (const statement of spec.extra ?? []) lines.push(`  ${statement}`);
  return `target ${spec.target ?? "skylake_server"}\n\nvmcs v {\n${lines.join("\n")}\n}\n`;
}

/** The text without the «» markers and the range they enclosed. */
export function marked(text: string): { text: string; start: number; end: number } {
  const start = text.indexOf("«");
  const end = text.indexOf("»");
  if (start < 0 || end < start || text.indexOf("«", start + 1) >= 0)
    throw new Error(`a failing case marks exactly one range «…»:\n${text}`);
  return {
    text: text.slice(0, start) + text.slice(start + 1, end) + text.slice(end + 1),
    start,
    end: end - 1,
  };
}
