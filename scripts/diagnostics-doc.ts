/**
 * Generates the VM-entry parts of docs/diagnostics.md from the rule registry
 * (core/src/analysis/rules/registry.ts) and the rule numbering (rules/numbering.ts): the table of
 * codes with what each checks, its fix and its source, and the table that defines the numbering
 * E1–E28, X1–X7, N1–N10 with the codes that check each rule. The rest of the page is written by
 * hand; the generated parts sit between `<!-- BEGIN GENERATED … -->` / `<!-- END GENERATED … -->`
 * markers.
 *
 *   npm run docs:diagnostics             rewrite docs/diagnostics.md
 *   npm run docs:diagnostics -- --check  exit 1 when the committed file is stale (also a test)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EntryRule } from "../core/src/analysis/rules/context";
import { RULE_NUMBERING, type RuleNumber } from "../core/src/analysis/rules/numbering";
import { ENTRY_RULES } from "../core/src/analysis/rules/registry";
import {
  controlWordCapability,
  cr3TargetLimit,
  decodeVmxMisc,
  EPT_VPID_CAP,
  hasEptVpidCap,
} from "../core/src/vmx/capabilities";
import { controlsOfWord } from "../core/src/vmx/controls";
import { NESTED_CAPABILITY_STEPS, nestedCapabilityMsrs } from "../core/src/vmx/nestedCapabilities";
import { PROFILES } from "../core/src/vmx/profiles";
import type { CapabilityMsrs, ControlWord } from "../core/src/vmx/types";

export const DOC_PATH = join(dirname(fileURLToPath(import.meta.url)), "..", "docs", "diagnostics.md");

const SECTIONS = ["checks", "numbering", "nested"] as const;
type Section = (typeof SECTIONS)[number];

const begin = (section: Section) =>
  `<!-- BEGIN GENERATED ${section}: npm run docs:diagnostics (from core/src/analysis/rules) -->`;
const end = (section: Section) => `<!-- END GENERATED ${section} -->`;

/** A table cell: one line, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|");
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** Sort key of a code: TL3xx lints, then VMX-CAP, then E, X, N, H, G by number. */
function codeOrder(code: string): [number, number] {
  const match = /^(?:VMX-)?(TL|CAP|E|X|N|H|G)(\d*)$/.exec(code);
  if (!match) return [9, 0];
  const group = ["TL", "CAP", "E", "X", "N", "H", "G"].indexOf(match[1]!);
  return [group, Number(match[2] || 0)];
}

function compareCodes(a: string, b: string): number {
  const [ga, na] = codeOrder(a);
  const [gb, nb] = codeOrder(b);
  return ga - gb || na - nb || a.localeCompare(b);
}

/** One row per distinct list of codes a unit reports; units with the same list share the row. */
function checksTable(rules: readonly EntryRule[]): string {
  const rows = new Map<string, EntryRule[]>();
  for (const rule of rules) {
    const key = [...rule.codes].sort(compareCodes).join(", ");
    const row = rows.get(key) ?? [];
    row.push(rule);
    rows.set(key, row);
  }
  const keys = [...rows.keys()].sort(
    (a, b) => compareCodes(a.split(", ")[0]!, b.split(", ")[0]!) || a.localeCompare(b),
  );
  const lines = ["| Code | Rule | Checks | Quick fix | Source |", "|---|---|---|---|---|"];
  for (const key of keys) {
    const units = rows.get(key)!;
    const ruleIds = unique(units.flatMap((u) => u.rules))
      .sort(compareCodes)
      .join(", ");
    const titles = unique(units.map((u) => u.title)).join(" ");
    const fixes = unique(units.flatMap((u) => (u.fix ? [u.fix] : []))).join(" ");
    const sources = unique(units.map((u) => u.reference)).join("; ");
    lines.push(`| ${key} | ${ruleIds} | ${cell(titles)} | ${cell(fixes || "—")} | ${cell(sources)} |`);
  }
  return lines.join("\n");
}

const FIELD_HEADINGS: Record<RuleNumber["fields"], string> = {
  execution: "VM-execution control fields (E) — SDM Vol. 3C §27.2.1.1 (§26.2.1.1 in pre-2023 editions)",
  exit: "VM-exit control fields (X) — SDM Vol. 3C §27.2.1.2 (§26.2.1.2)",
  entry:
    "VM-entry control fields and the host state they constrain (N) — SDM Vol. 3C §27.2.1.3, §27.2.2–27.2.4 (§26.2.1.3, §26.2.2–26.2.4)",
  host: "Host-state area (H) — SDM Vol. 3C §27.2.2–27.2.4 (§26.2.2–26.2.4)",
  guest: "Guest-state area (G) — SDM Vol. 3C §27.3.1 (§26.3.1)",
};

function numberingTables(numbering: readonly RuleNumber[], rules: readonly EntryRule[]): string {
  const out: string[] = [];
  for (const fields of ["execution", "exit", "entry", "host", "guest"] as const) {
    out.push(`### ${FIELD_HEADINGS[fields]}`, "");
    out.push(
      "| Rule | Requires | Linux KVM (nested.c) | Also stated in | Checked by |",
      "|---|---|---|---|---|",
    );
    for (const row of numbering) {
      if (row.fields !== fields) continue;
      const codes = unique(rules.filter((r) => r.rules.includes(row.id)).flatMap((r) => r.codes)).sort(
        compareCodes,
      );
      let checkedBy = codes.length > 0 ? codes.join(", ") : `not checked: ${row.notChecked ?? "?"}`;
      if (row.partly) checkedBy += ` (not all: ${row.partly})`;
      out.push(
        `| ${row.id} | ${cell(row.summary)} | ${cell(row.kvm)} | ${cell(row.also)} | ${cell(checkedBy)} |`,
      );
    }
    out.push("");
  }
  return out.join("\n").trimEnd();
}

/** Controls of `word` `a` may set and `b` may not. */
function onlyIn(a: CapabilityMsrs, b: CapabilityMsrs, word: ControlWord): string[] {
  const mayA = controlWordCapability(a, word).mayBeOne;
  const mayB = controlWordCapability(b, word).mayBeOne;
  return controlsOfWord(word)
    .filter((c) => ((mayA >> BigInt(c.bit)) & 1n) === 1n && ((mayB >> BigInt(c.bit)) & 1n) === 0n)
    .map((c) => `\`${c.name}\``);
}

/** The derivation of L1's capability MSRs, then what it hides and adds on each profile. */
function nestedTables(): string {
  const out = ["| MSR | What L1 gets | Source |", "| --- | --- | --- |"];
  for (const step of NESTED_CAPABILITY_STEPS)
    out.push(`| ${cell(step.msr)} | ${cell(step.rule)} | ${cell(step.source)} |`);
  out.push(
    "",
    "| Profile | Controls the host has that L1 does not get | Controls L1 gets that the host lacks | Other differences |",
  );
  out.push("| --- | --- | --- | --- |");
  const words: ControlWord[] = ["pin", "proc", "proc2", "proc3", "exit", "entry"];
  for (const profile of PROFILES) {
    const host = profile.msrs;
    const l1 = nestedCapabilityMsrs(host);
    const hidden = words.flatMap((w) => onlyIn(host, l1, w).map((n) => `${n} (${w})`));
    const added = words.flatMap((w) => onlyIn(l1, host, w).map((n) => `${n} (${w})`));
    const other: string[] = [];
    if (hasEptVpidCap(host, EPT_VPID_CAP.EPTP_UC) && !hasEptVpidCap(l1, EPT_VPID_CAP.EPTP_UC))
      other.push("no UC EPTP");
    other.push(`${cr3TargetLimit(l1)} CR3 targets (host ${cr3TargetLimit(host)})`);
    const misc = decodeVmxMisc(l1.IA32_VMX_MISC);
    other.push(
      `activity states: HLT${misc.activityShutdown ? ", shutdown" : ""}${misc.activityWaitForSipi ? ", wait-for-SIPI" : ""}`,
    );
    other.push(`preemption-timer rate ${misc.preemptionTimerRate}`);
    const cr4Hidden = host.IA32_VMX_CR4_FIXED1 & ~l1.IA32_VMX_CR4_FIXED1;
    if (cr4Hidden !== 0n) {
      const bits: number[] = [];
      for (let b = 0; b < 64; b++) if ((cr4Hidden >> BigInt(b)) & 1n) bits.push(b);
      other.push(`CR4 bits ${bits.join(", ")} not in CR4_FIXED1`);
    }
    out.push(
      `| ${profile.name} | ${cell(hidden.join(", ") || "—")} | ${cell(added.join(", ") || "—")} | ${cell(other.join("; "))} |`,
    );
  }
  return out.join("\n");
}

function generated(section: Section): string {
  if (section === "nested") return nestedTables();
  return section === "checks" ? checksTable(ENTRY_RULES) : numberingTables(RULE_NUMBERING, ENTRY_RULES);
}

/** `current` with every generated section replaced by what the registry says now. */
export function renderDiagnosticsDoc(current: string): string {
  let text = current;
  for (const section of SECTIONS) {
    const from = text.indexOf(begin(section));
    const to = text.indexOf(end(section));
    if (from < 0 || to < from) throw new Error(`docs/diagnostics.md: the ${section} markers are missing`);
    text = `${text.slice(0, from)}${begin(section)}\n${generated(section)}\n${text.slice(to)}`;
  }
  return text;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const current = readFileSync(DOC_PATH, "utf8");
  const next = renderDiagnosticsDoc(current);
  if (process.argv.includes("--check")) {
    if (next !== current) {
      console.error("docs/diagnostics.md is stale: run `npm run docs:diagnostics`");
      process.exit(1);
    }
  } else if (next !== current) {
    writeFileSync(DOC_PATH, next);
    console.log("wrote docs/diagnostics.md");
  }
}
