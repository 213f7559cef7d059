/**
 * The one source of the `.vmcs` token definitions. `npm run build:grammar`
 * (scripts/build-grammar.ts) generates from it both the TextMate grammar
 * (syntaxes/vmcs.tmLanguage.json, VS Code's baseline colouring) and the Monarch tokenizer
 * (playground/src/monarch.ts, the monaco playground), so the two never disagree.
 * test/grammar.test.ts fails when either generated file is stale.
 *
 * Word lists follow spec/language.md. Hardware names (controls, exit reasons, exception
 * mnemonics, MSRs) come from the VT-x tables in core/src/vmx, which carry their sources.
 */
import { GUEST_OP_STATEMENTS, HANDLER_STATEMENTS } from "../core/src/lang/grammar";
import { CONTROLS } from "../core/src/vmx/controls";
import { exceptionMnemonics } from "../core/src/vmx/exceptions";
import { EXIT_REASONS } from "../core/src/vmx/exitReasons";
import { MSRS } from "../core/src/vmx/msrs";

/** A class of words coloured alike: the TextMate scope and the Monarch token to use. */
export interface WordCategory {
  /** Identifier used in the Monarch `cases` table (`@name`). */
  id: string;
  description: string;
  words: readonly string[];
  /** TextMate scope (VS Code themes colour by prefix: keyword, storage, support, constant…). */
  scope: string;
  /** Monarch token (monaco themes colour by prefix: keyword, type, constant, variable…). */
  monarch: string;
}

const IDENT = "[A-Za-z_][A-Za-z0-9_]*";

function unique(words: Iterable<string>): string[] {
  return [...new Set(words)].sort();
}

const controlNames = unique(CONTROLS.map((control) => control.name));
const exitReasonNames = unique(EXIT_REASONS.flatMap((reason) => [reason.name, ...(reason.aliases ?? [])]));
const msrNames = unique(MSRS.flatMap((msr) => [msr.name, ...(msr.aliases ?? [])]));
/** Mnemonics without the leading `#` ("PF"); the grammar adds it. */
export const EXCEPTION_MNEMONICS = unique(exceptionMnemonics().map((mnemonic) => mnemonic.replace(/^#/, "")));

/** Compound operations, coloured as control flow in handlers and guests alike. */
const FLOW_WORDS: readonly string[] = ["branch", "repeat", "tsx", "coalesce"];

/**
 * Operation words come from the parser's statement tables (core/src/lang/grammar.ts), so the
 * colouring knows every operation the parser accepts.
 *
 * Lower-case words, matched as whole words anywhere outside comments. A word belongs to one
 * category only (build-grammar checks this); words with two roles (`read` in `msr trap read`
 * and in `mmio read`) sit in the category that fits both.
 */
export const WORD_CATEGORIES: readonly WordCategory[] = [
  {
    id: "declarations",
    description: "top-level declarations",
    words: ["target", "vmcs", "handler", "fn", "guest", "expect", "simulate", "hypervisor"],
    scope: "storage.type.declaration.vmcs",
    monarch: "keyword.declaration",
  },
  {
    id: "controlWords",
    description: "the six VMX control words (pin-based, processor-based 1–3, VM-exit, VM-entry)",
    words: ["pin", "proc", "proc2", "proc3", "exit", "entry"],
    scope: "storage.modifier.control-word.vmcs",
    monarch: "type.control-word",
  },
  {
    id: "controls",
    description: "VMX control names (core/src/vmx/controls.ts)",
    words: controlNames,
    scope: "support.constant.control.vmcs",
    monarch: "variable.predefined.control",
  },
  {
    id: "vmcsStatements",
    description: "statements of vmcs and target blocks",
    words: [
      "exceptions",
      "pf_error_code",
      "mask",
      "match",
      "io",
      "trap",
      "msr",
      "rw",
      "shadow",
      // `vmcs NAME nested`: a vmcs12 (nested virtualization)
      "nested",
      "cr3_targets",
      "ple",
      "gap",
      "window",
      "preemption_timer",
      "posted_interrupt_vector",
      "tpr_threshold",
      "vtpr",
      "eptp",
      "memtype",
      "levels",
      "accessed_dirty",
      "field",
      "ept",
      "cost",
    ],
    scope: "keyword.other.vmcs-statement.vmcs",
    monarch: "keyword",
  },
  {
    id: "handlerOps",
    description: "handler operations",
    words: [...HANDLER_STATEMENTS.keys()].filter((word) => !FLOW_WORDS.includes(word)),
    scope: "support.function.handler-op.vmcs",
    monarch: "keyword.handler-op",
  },
  {
    id: "flow",
    description: "compound operations",
    words: FLOW_WORDS,
    scope: "keyword.control.flow.vmcs",
    monarch: "keyword.flow",
  },
  {
    id: "guestStatements",
    description: "statements of guest blocks and their modifiers",
    words: [
      "on",
      "vcpus",
      "path",
      "rate",
      "every",
      // `coalesce N or T`
      "or",
      "irq",
      "vector",
      "posted",
      "timer",
      "periodic",
      "tickless",
      "ipi",
      "nmi",
      "idle",
      "poll",
      // `measured "trace.txt" tolerance 25%`
      "measured",
      "tolerance",
      "mwait",
      "apic",
      "x2apic",
      "xapic",
      "for",
      "seed",
    ],
    scope: "keyword.other.guest-statement.vmcs",
    monarch: "keyword",
  },
  {
    id: "guestOps",
    description: "guest operations (instructions and events)",
    // `pages` is the unit word of `dirty N pages`.
    words: [...[...GUEST_OP_STATEMENTS.keys()].filter((word) => !FLOW_WORDS.includes(word)), "pages"],
    scope: "support.function.guest-op.vmcs",
    monarch: "keyword.guest-op",
  },
  {
    id: "registers",
    description: "control and debug registers",
    words: ["cr0", "cr3", "cr4", "cr8", "dr"],
    scope: "variable.language.register.vmcs",
    monarch: "variable.predefined.register",
  },
  {
    id: "metrics",
    description: "budget metrics of expect blocks",
    words: ["overhead", "exits", "host_cpu", "irq_latency", "p50", "p90", "p99", "p999", "max"],
    scope: "support.variable.metric.vmcs",
    monarch: "variable.metric",
  },
];

/** Upper-case names with a fixed meaning, matched as whole words. */
export const NAME_CATEGORIES: readonly WordCategory[] = [
  {
    id: "exitReasons",
    description: "basic exit reasons, Linux names without EXIT_REASON_ (core/src/vmx/exitReasons.ts)",
    words: exitReasonNames,
    scope: "constant.language.exit-reason.vmcs",
    monarch: "constant.exit-reason",
  },
  {
    id: "msrs",
    description: "well-known MSR names (core/src/vmx/msrs.ts)",
    words: msrNames,
    scope: "support.constant.msr.vmcs",
    monarch: "constant.msr",
  },
  {
    id: "memoryTypes",
    description: "EPT memory types of `eptp memtype`",
    words: ["WB", "UC"],
    scope: "constant.language.memory-type.vmcs",
    monarch: "constant.memory-type",
  },
];

/** EPT permissions, recognised inside `ept { … }` only (elsewhere `r`, `x` are plain names). */
export const EPT_PERMISSIONS: readonly string[] = [
  "rwx",
  "rw",
  "rx",
  "wx",
  "r",
  "w",
  "x",
  "none",
  "misconfig",
  "apic",
];

/** Scopes for the tokens that are not word lists. */
export const SCOPES = {
  lineComment: "comment.line.double-slash.vmcs",
  blockComment: "comment.block.vmcs",
  commentPunctuation: "punctuation.definition.comment.vmcs",
  hexNumber: "constant.numeric.hex.vmcs",
  decimalNumber: "constant.numeric.decimal.vmcs",
  unit: "keyword.other.unit.vmcs",
  exception: "constant.language.exception.vmcs",
  exceptionUnknown: "invalid.illegal.exception.vmcs",
  eptPermission: "constant.language.ept-permission.vmcs",
  rangeOperator: "keyword.operator.range.vmcs",
  operator: "keyword.operator.vmcs",
  labelName: "entity.name.label.vmcs",
  labelPunctuation: "punctuation.separator.label.vmcs",
  vmcsName: "entity.name.type.vmcs-config.vmcs",
  guestName: "entity.name.type.guest.vmcs",
  /** `hypervisor NAME on VMCS`, and the NAME of `guest … in NAME` (nested virtualization). */
  hypervisorName: "entity.name.type.hypervisor.vmcs",
  fnName: "entity.name.function.vmcs",
  profileName: "entity.name.type.profile.vmcs",
  handlerReason: "constant.language.exit-reason.vmcs",
  upperName: "variable.other.constant.vmcs",
  identifier: "variable.other.vmcs",
  braceOpen: "punctuation.section.block.begin.vmcs",
  braceClose: "punctuation.section.block.end.vmcs",
  comma: "punctuation.separator.comma.vmcs",
  /** `"traces/run1.txt"`: no escapes, ends at the next `"` or the end of the line. */
  string: "string.quoted.double.vmcs",
  stringPunctuationBegin: "punctuation.definition.string.begin.vmcs",
  stringPunctuationEnd: "punctuation.definition.string.end.vmcs",
} as const;

/** Monarch tokens for the same. */
export const MONARCH_TOKENS = {
  comment: "comment",
  hexNumber: "number.hex",
  decimalNumber: "number",
  unit: "number.unit",
  exception: "constant.exception",
  exceptionUnknown: "invalid",
  eptPermission: "constant.ept-permission",
  operator: "operator",
  label: "type.label",
  declaredName: "type.identifier",
  handlerReason: "constant.exit-reason",
  upperName: "variable.constant",
  identifier: "identifier",
  delimiter: "delimiter",
  bracket: "@brackets",
  string: "string",
} as const;

/** Regular expressions shared by both generators (Oniguruma and JavaScript agree on them). */
export const PATTERNS = {
  identifier: IDENT,
  upperName: "[A-Z][A-Z0-9_]*",
  hexNumber: "0[xX][0-9a-fA-F][0-9a-fA-F_]*",
  /** Decimal with `_` separators and an optional fraction (`2.5M/s`, `2.1GHz`). */
  decimalNumber: "[0-9][0-9_]*(?:\\.[0-9]+)?",
  /** Units directly after a number: times, frequencies, rates, percentages. */
  unit: "(?:ns|us|ms|s|Hz|kHz|MHz|GHz)\\b|[kM]?/s|%",
  /** A branch arm label `95% doorbell:`. */
  label: `${IDENT}(?=\\s*:)`,
} as const;
