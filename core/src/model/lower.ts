/**
 * Lowering: syntax tree → Program IR. Resolves the target first (it may appear anywhere; times
 * convert to cycles at its frequency), then names (controls, exit reasons, VMCS fields, MSRs,
 * exception vectors, vmcs/fn/guest references), converts units and checks values. Every problem
 * is a located diagnostic (codes TL1xx names, TL2xx values; docs/language.md); lowering never
 * throws on any tree the parser produces.
 */

import type {
  Arm,
  Block,
  BlockEntry,
  Budget,
  Decl,
  EptEntry,
  ExpectDecl,
  FnDecl,
  GuestDecl,
  HandlerDecl,
  Ident,
  Item,
  NumberLit,
  SimulateDecl,
  Statement,
  TargetDecl,
  Value,
  VmcsDecl,
} from "../lang/ast";
import { keywordSpanOf } from "../lang/ast";
import { GUEST_SIMPLE_OPS, STATEMENTS } from "../lang/grammar";
import type { ParseResult } from "../lang/parser";
import { closestMatch } from "../lang/suggest";
import { DIMENSION_EXAMPLES, type Dimension, toBaseUnit, UNITS } from "../lang/units";
import type { CodeFix, Diagnostic, RelatedInfo, Span } from "../source";
import {
  CONTROL_WORD_FIELD,
  CONTROL_WORDS,
  controlInWord,
  controlNames,
  controlsOfWord,
  findControls,
} from "../vmx/controls";
import { exceptionByMnemonic, exceptionByVector, exceptionMnemonics } from "../vmx/exceptions";
import { exitReasonByCode, exitReasonByName, exitReasonNames } from "../vmx/exitReasons";
import { msrBitmapBit, msrByIndex, msrByName, msrNames } from "../vmx/msrs";
import { DEFAULT_PROFILE_NAME, PROFILES, profileByName } from "../vmx/profiles";
import type {
  CapabilityMsrName,
  ControlWord,
  CostName,
  CostParam,
  CpuProfile,
  ExitReasonDef,
  VmcsFieldDef,
} from "../vmx/types";
import { vmcsFieldByName, vmcsFieldNames } from "../vmx/vmcsFields";
import type {
  Arrival,
  EptPermissions,
  ExpectIR,
  ExpectMetric,
  FnIR,
  GuestArm,
  GuestIR,
  GuestOp,
  GuestSource,
  HandlerArm,
  HandlerOp,
  Program,
  SimulateIR,
  TargetIR,
  VmcsIR,
} from "./ir";
import { type SymbolDef, SymbolIndex, type SymbolKind } from "./symbols";

export interface LowerOptions {
  /** Profile used when the file has no `target` line (default: DEFAULT_PROFILE_NAME). */
  defaultTarget?: string;
}

export interface LowerResult {
  program: Program;
  symbols: SymbolIndex;
  diagnostics: Diagnostic[];
}

/** Longest time accepted anywhere (a simulated year is already absurd for VM exits). */
const MAX_SECONDS = 365 * 24 * 3600;
/** Rates above this per vCPU are rejected: one event per nanosecond. */
const MAX_RATE = 1e9;
const MAX_VCPUS = 4096;
const MAX_REPEAT = 1_000_000;
/**
 * Largest `coalesce` batch: the largest virtio ring (32,768 descriptors, VIRTIO 1.2 §2.7) twice
 * over. The estimator's expected batch size is a sum over 0..N−1.
 */
const MAX_COALESCE = 65_536;
const MAX_U64 = (1n << 64n) - 1n;

// Keyword-argument words of statements, allocated once rather than as literals per statement.
const NO_FLAGS: readonly string[] = [];
const MASK_MATCH_ARGS: readonly string[] = ["mask", "match"];
const MASK_SHADOW_ARGS: readonly string[] = ["mask", "shadow"];
const PLE_ARGS: readonly string[] = ["gap", "window"];
const EPTP_ARGS: readonly string[] = ["memtype", "levels"];
const EPTP_FLAGS: readonly string[] = ["accessed_dirty"];
const IRQ_ARGS: readonly string[] = ["vector", "rate"];
const IRQ_FLAGS: readonly string[] = ["posted"];
/** IA32_VMX_MISC[29]: VMWRITE may write read-only (VM-exit information) fields. */
const MISC_VMWRITE_ANY_FIELD = 1n << 29n;

const READ_ONLY_REFERENCE =
  "SDM Vol. 3C §25.11.2 (VM-exit information fields are read-only), VMWRITE: VM-instruction error 13 " +
  '"VMWRITE to read-only VMCS component"; SDM Vol. 3D App. A.6 IA32_VMX_MISC[29]';

const WORD_DESCRIPTION: Record<ControlWord, string> = {
  pin: "a pin-based VM-execution control",
  proc: "a primary processor-based VM-execution control",
  proc2: "a secondary processor-based VM-execution control",
  proc3: "a tertiary processor-based VM-execution control",
  exit: "a VM-exit control",
  entry: "a VM-entry control",
};

const CAPABILITY_MSR_NAMES: readonly CapabilityMsrName[] = [
  "IA32_VMX_BASIC",
  "IA32_VMX_PINBASED_CTLS",
  "IA32_VMX_PROCBASED_CTLS",
  "IA32_VMX_EXIT_CTLS",
  "IA32_VMX_ENTRY_CTLS",
  "IA32_VMX_MISC",
  "IA32_VMX_CR0_FIXED0",
  "IA32_VMX_CR0_FIXED1",
  "IA32_VMX_CR4_FIXED0",
  "IA32_VMX_CR4_FIXED1",
  "IA32_VMX_VMCS_ENUM",
  "IA32_VMX_PROCBASED_CTLS2",
  "IA32_VMX_EPT_VPID_CAP",
  "IA32_VMX_TRUE_PINBASED_CTLS",
  "IA32_VMX_TRUE_PROCBASED_CTLS",
  "IA32_VMX_TRUE_EXIT_CTLS",
  "IA32_VMX_TRUE_ENTRY_CTLS",
  "IA32_VMX_VMFUNC",
  "IA32_VMX_PROCBASED_CTLS3",
];

/**
 * Guest operations without operands that keep their name in the IR (the parser's list, less
 * `send_ipi`, which lowers to an ICR write).
 */
const SIMPLE_GUEST_OPS: ReadonlySet<string> = new Set(GUEST_SIMPLE_OPS.filter((op) => op !== "send_ipi"));

const SIMPLE_HANDLER_OPS = new Set(["decode", "advance_rip", "invept", "invvpid", "halt", "kick"]);

/** x2APIC ICR (SDM Vol. 3A §11.12.1.2 Table 11-6: MSR 0x830) and the xAPIC ICR low at 0xFEE00300. */
const X2APIC_ICR_MSR = 0x830;
const XAPIC_ICR_LOW_GPA = 0xfee00300n;

/**
 * The span that deletes one list item: the token with the blanks before it and the comma before
 * those, so the line's other items stay intact (`proc a, b` without `b` is `proc a`). Shared by
 * lowering's wrong-word fix and the VM-entry checks' remove-control fixes.
 */
export function tokenDeletionSpan(text: string, token: Span): Span {
  let start = token.start;
  while (start > 0) {
    const c = text.charCodeAt(start - 1);
    if (c !== 32 && c !== 9) break;
    start--;
  }
  if (text.charCodeAt(start - 1) === 44 /* , */) start--;
  return { start, end: token.end };
}

/**
 * A plain copy of a syntax node's range. The IR keeps a statement's or a declaration's range as
 * a span of its own rather than the node itself (which is a span too): the node would carry its
 * whole subtree into anything that copies the IR or the estimates (a structured clone to the
 * timeline panel, JSON). Single tokens (Ident, Number, …) are kept as they are: they are small.
 */
function spanOf(node: Span): Span {
  return { start: node.start, end: node.end };
}

function spanUnion(a: Span, b: Span): Span {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

function itemText(item: Item): string {
  switch (item.kind) {
    case "Ident":
      return item.name;
    case "Number":
    case "Quantity":
      return item.text;
    case "Exception":
      return item.mnemonic;
    case "Punct":
      return item.text;
    case "Range":
      return `${item.from.text}..${item.to.text}`;
  }
}

/** Exact value of an integer literal (the lexer already rejected values past 2^64 − 1). */
function bigOf(n: NumberLit): bigint | undefined {
  if (!n.integer) return undefined;
  // The lexer's double is exact below 2^53 (every partial sum is smaller than the result).
  if (Number.isSafeInteger(n.value)) return BigInt(n.value);
  const cleaned = n.text.replaceAll("_", "");
  try {
    return cleaned.startsWith("-") ? -BigInt(cleaned.slice(1)) : BigInt(cleaned);
  } catch {
    return undefined;
  }
}

export function lower(parse: ParseResult, options: LowerOptions = {}): LowerResult {
  const lowerer = new Lowerer(parse.text, options);
  for (const decl of parse.file.decls) lowerer.add(decl);
  return lowerer.finish();
}

/**
 * Lowers declarations as they are parsed (`add`, in source order), then `finish`. Each
 * declaration is lowered as soon as what it needs is known, so its syntax tree can go before
 * the next one is parsed: the target (times become cycles at its frequency) and, for handlers
 * and fns, every fn (a `call` of an unknown fn is dropped). Declarations before the `target`
 * line wait for it, or for the end of the file (the default target); handlers and fns wait for
 * the end. References to vmcs, guests and handlers are resolved at the end, when every name is
 * defined, so the order of declarations never matters. The result is the same as lowering the
 * whole tree at once.
 */
export class Lowerer {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly symbols = new SymbolIndex();
  private target!: TargetIR;
  private readonly program: Program;
  private readonly fnCalls = new Map<string, { fn: string; span: Span }[]>();
  /** The `tsx` / `coalesce` block the guest operations being lowered are in (nesting rules). */
  private guestOpsInside: { keyword: "tsx" | "coalesce"; span: Span } | undefined = undefined;
  /** Low and high 32 bits of each control word (CONTROL_WORDS order) of the vmcs being lowered. */
  private readonly writtenWords = new Int32Array(2 * CONTROL_WORDS.length);

  /** Whether the target is known (its declaration lowered, or the end reached without one). */
  private targetKnown = false;
  /** The first `target` declaration (later ones are reported against it). */
  private firstTarget: TargetDecl | undefined;
  /** Declarations waiting for the target. */
  private readonly waitingForTarget: { decl: Decl; def: SymbolDef | undefined }[] = [];
  /** Handlers and fns, lowered at the end (they may call fns defined further down). */
  private readonly waitingForFns: { decl: Decl; def: SymbolDef | undefined }[] = [];
  /** References whose definition may come later in the file: resolved in `finish`. */
  private readonly pendingReferences: {
    kind: "vmcs" | "guest" | "handler";
    ident: Ident;
    code: string | undefined;
    /** The defined name to look up, when not the name as written (a handler's canonical reason). */
    lookupName: string | undefined;
  }[] = [];

  constructor(
    private readonly text: string,
    private readonly options: LowerOptions,
  ) {
    this.program = {
      target: undefined as unknown as TargetIR,
      vmcs: new Map(),
      handlers: new Map(),
      fns: new Map(),
      guests: new Map(),
      expects: [],
      simulates: [],
    };
  }

  // ---- diagnostics --------------------------------------------------------------------------

  private report(
    severity: Diagnostic["severity"],
    code: string,
    message: string,
    span: Span,
    extra?: { fixes?: CodeFix[]; related?: RelatedInfo[]; reference?: string },
  ): void {
    // Copies: the spans passed are often syntax nodes, which a diagnostic must not hold.
    const diagnostic: Diagnostic = { severity, code, message, span: spanOf(span) };
    if (extra?.fixes && extra.fixes.length > 0)
      diagnostic.fixes = extra.fixes.map((fix) => ({
        ...fix,
        edits: fix.edits.map((edit) => ({ span: spanOf(edit.span), newText: edit.newText })),
      }));
    if (extra?.related && extra.related.length > 0)
      diagnostic.related = extra.related.map((r) => ({ span: spanOf(r.span), message: r.message }));
    if (extra?.reference) diagnostic.reference = extra.reference;
    this.diagnostics.push(diagnostic);
  }

  private error(code: string, message: string, span: Span, extra?: Parameters<Lowerer["report"]>[4]): void {
    this.report("error", code, message, span, extra);
  }

  /** Reports an unknown name with a "did you mean" fix over the candidates. */
  private unknown(
    code: string,
    what: string,
    /** The name as written, and where (an Ident, which is its own span). */
    token: { name: string } & Span,
    candidates: Iterable<string>,
  ): void {
    const best = closestMatch(token.name, candidates);
    if (best === undefined) {
      this.error(code, `unknown ${what} \`${token.name}\``, token);
      return;
    }
    this.error(code, `unknown ${what} \`${token.name}\`; did you mean \`${best}\`?`, token, {
      fixes: [
        {
          title: `Change to \`${best}\``,
          edits: [{ span: { start: token.start, end: token.end }, newText: best }],
          preferred: true,
        },
      ],
    });
  }

  private missing(statement: Statement, what?: string): void {
    const shape = STATEMENTS.vmcs?.get(statement.keyword);
    const expects = what ?? shape?.expects ?? "a value";
    this.error("TL201", `expected ${expects} after \`${statement.keyword}\``, keywordSpanOf(statement));
  }

  private wrongItem(item: Item, expected: string, after: string): void {
    this.error("TL201", `expected ${expected} after \`${after}\`, found \`${itemText(item)}\``, item);
  }

  // ---- values -------------------------------------------------------------------------------

  private dimensionOf(item: Item): Dimension | undefined {
    return item.kind === "Quantity" ? UNITS.get(item.unit)?.dimension : undefined;
  }

  /** A quantity in its dimension's base unit; undefined (already diagnosed) for unknown units. */
  private base(item: Value): number | undefined {
    if (item.kind === "Number") return item.value;
    return toBaseUnit(item.value, item.unit);
  }

  private checkSeconds(seconds: number, span: Span, what: string): number | undefined {
    if (!(seconds >= 0) || !Number.isFinite(seconds)) {
      this.error("TL207", `${what} must not be negative`, span);
      return undefined;
    }
    if (seconds > MAX_SECONDS) {
      this.error("TL207", `${what} of ${seconds.toExponential(2)} s is longer than a year`, span);
      return undefined;
    }
    return seconds;
  }

  /** Cycles from a bare number (cycles) or a time (converted at the target frequency). */
  private cycles(item: Item | undefined, statement: Statement): number | undefined {
    if (item === undefined) {
      this.error(
        "TL201",
        `expected a cost in cycles or a time after \`${statement.keyword}\``,
        keywordSpanOf(statement),
      );
      return undefined;
    }
    if (item.kind === "Number") {
      if (item.value < 0) {
        this.error("TL205", `a cost must not be negative`, item);
        return undefined;
      }
      if (item.value / this.target.hz > MAX_SECONDS) {
        this.error("TL207", `${item.text} cycles is longer than a year at the target frequency`, item);
        return undefined;
      }
      return item.value;
    }
    if (item.kind === "Quantity") {
      const dimension = this.dimensionOf(item);
      if (dimension === undefined) return undefined; // unknown unit, reported by the lexer
      if (dimension !== "time") {
        this.error(
          "TL202",
          `expected a cost in cycles or a time (\`900\`, \`3us\`), found ${DIMENSION_EXAMPLES[dimension].replace(/ such as.*/, "")} \`${item.text}\``,
          item,
        );
        return undefined;
      }
      const seconds = this.checkSeconds(this.base(item)!, item, "a time");
      return seconds === undefined ? undefined : Math.round(seconds * this.target.hz);
    }
    this.wrongItem(item, "a cost in cycles or a time", statement.keyword);
    return undefined;
  }

  private seconds(item: Item | undefined, after: string, at: Span): number | undefined {
    if (item === undefined) {
      this.error("TL201", `expected a time such as \`100ms\` after \`${after}\``, at);
      return undefined;
    }
    if (item.kind === "Quantity" && this.dimensionOf(item) === "time") {
      const seconds = this.checkSeconds(this.base(item)!, item, "a time");
      if (seconds === 0) {
        this.error("TL207", "the time must be greater than zero", item);
        return undefined;
      }
      return seconds;
    }
    if (item.kind === "Quantity" && this.dimensionOf(item) === undefined) return undefined;
    this.error(
      "TL202",
      `expected a time such as \`100ms\` after \`${after}\`, found \`${itemText(item)}\``,
      item,
    );
    return undefined;
  }

  /** The period of a periodic source: a time whose rate (1 / period) TL206 bounds as rates are. */
  private period(item: Item | undefined, after: string, at: Span): number | undefined {
    const seconds = this.seconds(item, after, at);
    if (seconds === undefined || seconds >= 1 / MAX_RATE) return seconds;
    this.error(
      "TL206",
      `period \`${itemText(item!)}\` is shorter than 1ns: above 1G/s per vCPU, not a plausible workload`,
      item!,
    );
    return undefined;
  }

  /** Events per second from a rate (`100k/s`) or a frequency (`250Hz`). */
  private rate(item: Item | undefined, after: string, at: Span): number | undefined {
    if (item === undefined) {
      this.error("TL201", `expected a rate such as \`100k/s\` after \`${after}\``, at);
      return undefined;
    }
    if (item.kind === "Quantity") {
      const dimension = this.dimensionOf(item);
      if (dimension === undefined) return undefined;
      if (dimension === "rate" || dimension === "frequency") {
        const perSecond = this.base(item)!;
        if (!(perSecond > 0)) {
          this.error("TL206", `a rate must be greater than zero, found \`${item.text}\``, item);
          return undefined;
        }
        if (perSecond > MAX_RATE) {
          this.error(
            "TL206",
            `rate \`${item.text}\` is above 1G/s per vCPU (one event per nanosecond): not a plausible workload`,
            item,
          );
          return undefined;
        }
        return perSecond;
      }
    }
    // Hex literals take no unit (`0x10/s` does not lex): the fix writes such a number in decimal.
    const perSecond =
      item.kind === "Number" ? `${/^0x/i.test(item.text) ? String(item.value) : item.text}/s` : "";
    const fix: CodeFix[] =
      item.kind === "Number"
        ? [{ title: `Write \`${perSecond}\``, edits: [{ span: item, newText: perSecond }] }]
        : [];
    this.error(
      "TL202",
      `expected a rate such as \`100k/s\` or \`250Hz\` after \`${after}\`, found \`${itemText(item)}\``,
      item,
      { fixes: fix },
    );
    return undefined;
  }

  /**
   * A one-value sugar statement (`preemption_timer N`, `posted_interrupt_vector V`,
   * `tpr_threshold N`): the value, range-checked and also recorded as the VMCS field it sets.
   */
  private sugarField(
    vmcs: VmcsIR,
    statement: Statement,
    what: string,
    max: number,
    fieldName: string,
  ): number | undefined {
    const value = this.integer(statement.items[0], what, statement.keyword, keywordSpanOf(statement), 0, max);
    if (value !== undefined) this.setField(vmcs, fieldName, BigInt(value), statement);
    return value;
  }

  /** An integer in [min, max]. */
  private integer(item: Item | undefined, what: string, after: string, at: Span, min: number, max: number) {
    if (item === undefined) {
      this.error("TL201", `expected ${what} after \`${after}\``, at);
      return undefined;
    }
    if (item.kind !== "Number" || !item.integer) {
      this.error("TL201", `expected ${what} after \`${after}\`, found \`${itemText(item)}\``, item);
      return undefined;
    }
    if (item.value < min || item.value > max) {
      this.error("TL205", `${what} must be between ${min} and ${max}, found ${item.text}`, item);
      return undefined;
    }
    return item.value;
  }

  /** A 64-bit unsigned value (addresses, MSR and field values). */
  private u64(item: Item | undefined, what: string, after: string, at: Span): bigint | undefined {
    if (item === undefined) {
      this.error("TL201", `expected ${what} after \`${after}\``, at);
      return undefined;
    }
    if (item.kind !== "Number" || !item.integer) {
      this.error("TL201", `expected ${what} after \`${after}\`, found \`${itemText(item)}\``, item);
      return undefined;
    }
    const value = bigOf(item);
    if (value === undefined) return undefined;
    if (value < 0n) {
      this.error("TL205", `${what} must not be negative`, item);
      return undefined;
    }
    return value > MAX_U64 ? undefined : value;
  }

  // ---- driver -------------------------------------------------------------------------------

  /** The next top-level declaration, in source order. */
  add(decl: Decl): void {
    const def = this.defineDecl(decl);
    if (def !== undefined && (def.kind === "vmcs" || def.kind === "guest" || def.kind === "fn")) {
      // Duplicate handlers are checked by reason code in lowerHandler.
      const first = this.symbols.lookup(def.kind, def.name);
      if (first !== undefined && first !== def) {
        this.error(
          "TL101",
          `duplicate ${def.kind} \`${def.name}\`: names are unique per kind`,
          def.nameSpan,
          {
            related: [{ span: first.nameSpan, message: `\`${def.name}\` is first defined here` }],
          },
        );
      }
    }
    if (decl.kind === "Target") {
      if (this.firstTarget === undefined) {
        this.firstTarget = decl;
        this.lowerTarget(decl);
        for (const waiting of this.waitingForTarget.splice(0)) this.lowerDecl(waiting.decl, waiting.def);
      } else {
        this.error("TL101", "only one `target` per file", keywordSpanOf(decl), {
          related: [{ span: keywordSpanOf(this.firstTarget), message: "the target is declared here" }],
        });
      }
      return;
    }
    if (decl.kind === "Handler" || decl.kind === "Fn") this.waitingForFns.push({ decl, def });
    else if (!this.targetKnown) this.waitingForTarget.push({ decl, def });
    else this.lowerDecl(decl, def);
  }

  /** After the last declaration: what waited, the references, the recursion check. */
  finish(): LowerResult {
    if (!this.targetKnown) {
      this.lowerTarget(undefined);
      for (const waiting of this.waitingForTarget.splice(0)) this.lowerDecl(waiting.decl, waiting.def);
    }
    for (const waiting of this.waitingForFns.splice(0)) this.lowerDecl(waiting.decl, waiting.def);
    // In source order, as they would have been found in one pass.
    const pending = this.pendingReferences.sort((a, b) => a.ident.start - b.ident.start);
    for (const { kind, ident, code, lookupName } of pending)
      this.resolveReference(kind, ident, code, lookupName);
    this.checkRecursion();
    return { program: this.program, symbols: this.symbols, diagnostics: this.diagnostics };
  }

  private lowerDecl(decl: Decl, def: SymbolDef | undefined): void {
    switch (decl.kind) {
      case "Vmcs":
        this.lowerVmcs(decl);
        break;
      case "Handler":
        this.lowerHandler(decl, def);
        break;
      case "Fn":
        this.lowerFn(decl);
        break;
      case "Guest":
        this.lowerGuest(decl, def);
        break;
      case "Expect":
        this.lowerExpect(decl);
        break;
      case "Simulate":
        this.lowerSimulate(decl);
        break;
      case "Target":
        break;
    }
  }

  private defineDecl(decl: Decl): SymbolDef | undefined {
    switch (decl.kind) {
      case "Target":
        return decl.profile ? this.define(decl, "target", decl.profile.name, decl.profile) : undefined;
      case "Vmcs":
        return decl.name ? this.define(decl, "vmcs", decl.name.name, decl.name) : undefined;
      case "Fn":
        return decl.name ? this.define(decl, "fn", decl.name.name, decl.name) : undefined;
      case "Guest":
        return decl.name
          ? this.define(
              decl,
              "guest",
              decl.name.name,
              decl.name,
              decl.vmcs ? `on ${decl.vmcs.name}` : undefined,
            )
          : undefined;
      case "Handler": {
        if (decl.reason === undefined) return undefined;
        const reason =
          decl.reason.kind === "Ident"
            ? exitReasonByName(decl.reason.name)
            : exitReasonByCode(decl.reason.value);
        const name = reason?.name ?? (decl.reason.kind === "Ident" ? decl.reason.name : decl.reason.text);
        return this.define(
          decl,
          "handler",
          name,
          decl.reason,
          reason ? `exit reason ${reason.code}` : undefined,
        );
      }
      case "Expect":
        return decl.guest ? this.define(decl, "expect", decl.guest.name, decl.guest) : undefined;
      case "Simulate":
        return decl.guest ? this.define(decl, "simulate", decl.guest.name, decl.guest) : undefined;
    }
  }

  private define(decl: Decl, kind: SymbolKind, name: string, nameSpan: Span, detail?: string): SymbolDef {
    return this.symbols.define({ kind, name, span: spanOf(decl), nameSpan, detail, children: [] });
  }

  /** A reference resolved in `finish`, when every declaration is defined. */
  private referenceLater(
    kind: "vmcs" | "guest" | "handler",
    ident: Ident,
    code: string | undefined,
    lookupName?: string,
  ): void {
    this.pendingReferences.push({ kind, ident, code, lookupName });
  }

  /** Records the reference; an unknown name is reported with `code` (none: not reported here). */
  private resolveReference(
    kind: "vmcs" | "guest" | "fn" | "handler",
    ident: Ident,
    code: string | undefined,
    lookupName = ident.name,
  ): SymbolDef | undefined {
    const definition = this.symbols.lookup(kind, lookupName);
    this.symbols.reference({ kind, name: ident.name, span: ident, definition });
    if (definition === undefined && code !== undefined) {
      const candidates = this.symbols.definitions.filter((d) => d.kind === kind).map((d) => d.name);
      this.unknown(code, kind, ident, candidates);
    }
    return definition;
  }

  // ---- target -------------------------------------------------------------------------------

  private lowerTarget(decl: TargetDecl | undefined): void {
    this.targetKnown = true;
    const defaultName = this.options.defaultTarget ?? DEFAULT_PROFILE_NAME;
    let profile: CpuProfile | undefined;
    if (decl?.profile) {
      profile = profileByName(decl.profile.name);
      if (profile === undefined) {
        this.unknown(
          "TL102",
          "CPU profile",
          decl.profile,
          PROFILES.map((p) => p.name),
        );
      }
    }
    profile ??= profileByName(defaultName) ?? profileByName(DEFAULT_PROFILE_NAME) ?? PROFILES[0]!;

    let hz = profile.defaultHz;
    if (decl?.frequency) {
      const f = decl.frequency;
      if (f.kind === "Quantity" && this.dimensionOf(f) === "frequency") {
        const value = this.base(f)!;
        if (value < 1e8 || value > 1e10) {
          this.error("TL212", `core frequency \`${f.text}\` is outside 100MHz–10GHz`, f);
        } else hz = value;
      } else if (!(f.kind === "Quantity" && this.dimensionOf(f) === undefined)) {
        this.error("TL202", `expected a frequency such as \`2.1GHz\` after \`@\`, found \`${f.text}\``, f);
      }
    }

    const msrs = { ...profile.msrs };
    const costs = { ...profile.costs } as Record<CostName, CostParam>;
    this.target = { profile, hz, msrs, costs };
    this.program.target = this.target;
    if (decl !== undefined) {
      this.target.span = spanOf(decl);
      if (decl.profile) this.target.profileSpan = decl.profile;
    }

    for (const entry of decl?.body?.entries ?? []) {
      if (entry.kind !== "Statement" || !entry.known) continue;
      const [name, eq, value] = entry.items;
      if (name?.kind !== "Ident" || eq?.kind !== "Punct" || eq.text !== "=" || value === undefined) {
        this.error(
          "TL201",
          `expected \`${entry.keyword} NAME = ${entry.keyword === "msr" ? "VALUE" : "CYCLES"}\``,
          entry,
        );
        continue;
      }
      if (entry.keyword === "msr") {
        const msrName = CAPABILITY_MSR_NAMES.find((n) => n === name.name.toUpperCase());
        if (msrName === undefined) {
          this.unknown("TL113", "VMX capability MSR", name, CAPABILITY_MSR_NAMES);
          continue;
        }
        const v = this.u64(value, "a 64-bit MSR value", name.name, keywordSpanOf(entry));
        if (v !== undefined) msrs[msrName] = v;
      } else {
        if (!(name.name in profile.costs)) {
          this.unknown("TL113", "cost parameter", name, Object.keys(profile.costs));
          continue;
        }
        const cycles = this.cycles(value, entry);
        if (cycles !== undefined) {
          costs[name.name as CostName] = {
            cycles,
            provenance: "user",
            source: "`target` override in this file",
          };
        }
      }
    }
  }

  // ---- vmcs ---------------------------------------------------------------------------------

  private lowerVmcs(decl: VmcsDecl): void {
    if (decl.name === undefined) return;
    const vmcs: VmcsIR = {
      name: decl.name.name,
      span: spanOf(decl),
      nameSpan: decl.name,
      written: { pin: 0n, proc: 0n, proc2: 0n, proc3: 0n, exit: 0n, entry: 0n },
      settings: [],
      wordLines: {},
      exceptionBitmap: 0,
      exceptionSpans: new Map(),
      ioTraps: [],
      msrTraps: [],
      cr3Targets: [],
      fields: new Map(),
      ept: [],
    };
    if (!this.program.vmcs.has(vmcs.name)) this.program.vmcs.set(vmcs.name, vmcs);
    const statements = (decl.body?.entries ?? []).filter(
      (e): e is Statement => e.kind === "Statement" && e.known,
    );
    // Where each word's first line is, so a wrong-word fix can append there.
    for (const statement of statements) {
      const word = statement.keyword as ControlWord;
      if (!(CONTROL_WORDS as readonly string[]).includes(word)) continue;
      if (vmcs.wordLines[word] === undefined) vmcs.wordLines[word] = spanOf(statement);
      else if (vmcs.moreWordLines === undefined) vmcs.moreWordLines = [{ word, span: spanOf(statement) }];
      else vmcs.moreWordLines.push({ word, span: spanOf(statement) });
    }
    const words = this.writtenWords;
    words.fill(0);
    for (const statement of statements) this.lowerVmcsStatement(vmcs, statement);
    // The written control words, gathered as 32-bit halves in numbers (a bigint `|=` per
    // control allocates); the tertiary word is 64 bits wide.
    for (let w = 0; w < CONTROL_WORDS.length; w++) {
      const low = words[2 * w]!;
      const high = words[2 * w + 1]!;
      if (low === 0 && high === 0) continue;
      vmcs.written[CONTROL_WORDS[w]!] = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
    }
    // A raw control word (`field CPU_BASED_VM_EXEC_CONTROL = V`) is the word as a hypervisor
    // writes it (KVM's vmcs_write32 of the whole word): its bits are in force as if each were
    // named on the word's line (docs/language.md, "VMCS fields").
    for (const word of CONTROL_WORDS) {
      const raw = vmcs.fields.get(CONTROL_WORD_FIELD[word]);
      if (raw !== undefined) vmcs.written[word] |= raw.value;
    }
  }

  private setField(vmcs: VmcsIR, name: string, value: bigint, span: Span): void {
    const field = vmcsFieldByName(name);
    if (field !== undefined) vmcs.fields.set(name, { field, value, span: spanOf(span) });
  }

  /** `WORD VALUE WORD VALUE …` items (pf_error_code, cr0, ple, eptp): word → value item. */
  private keywordArgs(
    statement: Statement,
    allowed: readonly string[],
    flags: readonly string[] = NO_FLAGS,
    firstItem = 0,
  ): Map<string, Item | null> | undefined {
    const out = new Map<string, Item | null>();
    const items = statement.items;
    for (let i = firstItem; i < items.length; i++) {
      const item = items[i]!;
      if (item.kind === "Ident" && flags.includes(item.name)) {
        out.set(item.name, null);
        continue;
      }
      if (item.kind !== "Ident" || !allowed.includes(item.name)) {
        if (item.kind === "Ident")
          this.unknown("TL114", `word in \`${statement.keyword}\``, item, [...allowed, ...flags]);
        else this.wrongItem(item, allowed.map((a) => `\`${a}\``).join(" or "), statement.keyword);
        return undefined;
      }
      const value = items[i + 1];
      if (value === undefined) {
        this.error("TL201", `expected a value after \`${item.name}\``, item);
        return undefined;
      }
      out.set(item.name, value);
      i++;
    }
    return out;
  }

  private lowerVmcsStatement(vmcs: VmcsIR, statement: Statement): void {
    const keyword = statement.keyword;
    switch (keyword) {
      case "pin":
      case "proc":
      case "proc2":
      case "proc3":
      case "exit":
      case "entry":
        this.lowerControls(vmcs, keyword, statement);
        return;
      case "exceptions": {
        if (statement.items.length === 0) this.missing(statement);
        for (const item of statement.items) {
          const vector = this.exceptionVector(item, "exceptions", 31);
          if (vector === undefined) continue;
          vmcs.exceptionBitmap = (vmcs.exceptionBitmap | (1 << vector)) >>> 0;
          vmcs.exceptionSpans.set(vector, item);
        }
        this.setField(vmcs, "EXCEPTION_BITMAP", BigInt(vmcs.exceptionBitmap), statement);
        return;
      }
      case "pf_error_code": {
        const args = this.keywordArgs(statement, MASK_MATCH_ARGS);
        if (args === undefined) return;
        const mask = this.u64(
          args.get("mask") ?? undefined,
          "a 32-bit mask",
          "mask",
          keywordSpanOf(statement),
        );
        const match = this.u64(
          args.get("match") ?? undefined,
          "a 32-bit value",
          "match",
          keywordSpanOf(statement),
        );
        if (mask === undefined || match === undefined) return;
        if (mask > 0xffffffffn || match > 0xffffffffn) {
          this.error("TL205", "the page-fault error-code mask and match are 32-bit fields", statement);
          return;
        }
        vmcs.pfErrorCode = { mask: Number(mask), match: Number(match), span: spanOf(statement) };
        this.setField(vmcs, "PAGE_FAULT_ERROR_CODE_MASK", mask, statement);
        this.setField(vmcs, "PAGE_FAULT_ERROR_CODE_MATCH", match, statement);
        return;
      }
      case "io": {
        const [trap, ...ports] = statement.items;
        if (trap?.kind !== "Ident" || trap.name !== "trap") {
          if (trap === undefined) this.missing(statement, "`trap` and ports");
          else this.wrongItem(trap, "`trap`", "io");
          return;
        }
        if (ports.length === 0) this.missing(statement, "ports after `io trap`");
        for (const item of ports) {
          const range = this.portRange(item, "io trap");
          if (range !== undefined) vmcs.ioTraps.push({ first: range[0], last: range[1], span: item });
        }
        return;
      }
      case "msr":
        this.lowerMsrTrap(vmcs, statement);
        return;
      case "cr0":
      case "cr4": {
        const args = this.keywordArgs(statement, MASK_SHADOW_ARGS);
        if (args === undefined) return;
        const mask = this.u64(args.get("mask") ?? undefined, "a mask", "mask", keywordSpanOf(statement));
        if (mask === undefined) return;
        const shadowItem = args.get("shadow");
        const shadow = shadowItem
          ? this.u64(shadowItem, "a read shadow", "shadow", keywordSpanOf(statement))
          : 0n;
        if (shadow === undefined) return;
        vmcs[keyword] = { mask, shadow, span: spanOf(statement) };
        const upper = keyword.toUpperCase();
        this.setField(vmcs, `${upper}_GUEST_HOST_MASK`, mask, statement);
        this.setField(vmcs, `${upper}_READ_SHADOW`, shadow, statement);
        return;
      }
      case "cr3_targets": {
        for (const item of statement.items) {
          const value = this.u64(item, "a CR3 value", "cr3_targets", keywordSpanOf(statement));
          if (value !== undefined) {
            const index = vmcs.cr3Targets.length;
            vmcs.cr3Targets.push({ value, span: item });
            if (index < 4) this.setField(vmcs, `CR3_TARGET_VALUE${index}`, value, item);
          }
        }
        this.setField(vmcs, "CR3_TARGET_COUNT", BigInt(vmcs.cr3Targets.length), statement);
        return;
      }
      case "ple": {
        const args = this.keywordArgs(statement, PLE_ARGS);
        if (args === undefined) return;
        const gap = this.integer(
          args.get("gap") ?? undefined,
          "a PLE gap in TSC cycles",
          "gap",
          keywordSpanOf(statement),
          0,
          0xffffffff,
        );
        const window = this.integer(
          args.get("window") ?? undefined,
          "a PLE window in TSC cycles",
          "window",
          keywordSpanOf(statement),
          0,
          0xffffffff,
        );
        if (gap === undefined || window === undefined) return;
        vmcs.ple = { gap, window, span: spanOf(statement) };
        this.setField(vmcs, "PLE_GAP", BigInt(gap), statement);
        this.setField(vmcs, "PLE_WINDOW", BigInt(window), statement);
        return;
      }
      case "preemption_timer": {
        const ticks = this.sugarField(
          vmcs,
          statement,
          "a timer value in ticks",
          0xffffffff,
          "VMX_PREEMPTION_TIMER_VALUE",
        );
        if (ticks !== undefined) vmcs.preemptionTimer = { ticks, span: spanOf(statement) };
        return;
      }
      case "posted_interrupt_vector": {
        const vector = this.sugarField(vmcs, statement, "a vector", 255, "POSTED_INTR_NV");
        if (vector !== undefined) vmcs.postedInterruptVector = { vector, span: spanOf(statement) };
        return;
      }
      case "tpr_threshold": {
        const value = this.sugarField(vmcs, statement, "a TPR threshold", 0xffffffff, "TPR_THRESHOLD");
        if (value !== undefined) vmcs.tprThreshold = { value, span: spanOf(statement) };
        return;
      }
      case "vtpr": {
        const value = this.integer(
          statement.items[0],
          "a VTPR value",
          "vtpr",
          keywordSpanOf(statement),
          0,
          255,
        );
        if (value !== undefined) vmcs.vtpr = { value, span: spanOf(statement) };
        return;
      }
      case "eptp": {
        const args = this.keywordArgs(statement, EPTP_ARGS, EPTP_FLAGS);
        if (args === undefined) return;
        const memtypeItem = args.get("memtype");
        const levelsItem = args.get("levels");
        let memtype: "WB" | "UC" = "WB";
        let levels: 4 | 5 = 4;
        if (memtypeItem) {
          if (memtypeItem.kind === "Ident" && (memtypeItem.name === "WB" || memtypeItem.name === "UC")) {
            memtype = memtypeItem.name;
          } else if (memtypeItem.kind === "Ident") {
            this.unknown("TL114", "EPT memory type", memtypeItem, ["WB", "UC"]);
            return;
          } else {
            this.wrongItem(memtypeItem, "`WB` or `UC`", "memtype");
            return;
          }
        }
        if (levelsItem) {
          if (levelsItem.kind === "Number" && (levelsItem.value === 4 || levelsItem.value === 5)) {
            levels = levelsItem.value;
          } else {
            this.wrongItem(levelsItem, "`4` or `5`", "levels");
            return;
          }
        }
        vmcs.eptp = { memtype, levels, accessedDirty: args.has("accessed_dirty"), span: spanOf(statement) };
        return;
      }
      case "field":
        this.lowerFieldStatement(vmcs, statement);
        return;
      case "ept":
        vmcs.eptSpan = spanOf(statement);
        this.lowerEpt(vmcs, statement.body);
        return;
    }
  }

  private lowerControls(vmcs: VmcsIR, word: ControlWord, statement: Statement): void {
    if (statement.items.length === 0) {
      this.error("TL201", `expected a control name after \`${word}\``, keywordSpanOf(statement));
      return;
    }
    for (const item of statement.items) {
      if (item.kind !== "Ident") {
        this.wrongItem(item, "a control name", word);
        continue;
      }
      const control = controlInWord(word, item.name);
      if (control !== undefined) {
        const slot = 2 * CONTROL_WORDS.indexOf(word) + (control.bit >= 32 ? 1 : 0);
        this.writtenWords[slot]! |= 1 << (control.bit & 31);
        vmcs.settings.push({ control, span: item });
        continue;
      }
      const elsewhere = findControls(item.name);
      if (elsewhere.length > 0) {
        this.wrongWord(vmcs, word, statement, item, elsewhere[0]!.word);
        continue;
      }
      const inWord = closestMatch(
        item.name,
        controlsOfWord(word).map((c) => c.name),
      );
      if (inWord !== undefined) {
        this.unknown("TL104", `${word} control`, item, [inWord]);
      } else {
        const anywhere = closestMatch(item.name, controlNames());
        const otherWord = anywhere ? findControls(anywhere)[0]?.word : undefined;
        if (anywhere !== undefined && otherWord !== undefined) {
          this.error(
            "TL104",
            `unknown control \`${item.name}\`; did you mean \`${anywhere}\` (${WORD_DESCRIPTION[otherWord]}, written on the \`${otherWord}\` line)?`,
            item,
          );
        } else {
          this.error("TL104", `unknown ${word} control \`${item.name}\``, item);
        }
      }
    }
  }

  /** A control written on the wrong word: the message names the right one; the fix moves it. */
  private wrongWord(
    vmcs: VmcsIR,
    word: ControlWord,
    statement: Statement,
    item: Ident,
    right: ControlWord,
  ): void {
    const text = this.text;
    const edits = [{ span: tokenDeletionSpan(text, item), newText: "" }];
    const line = vmcs.wordLines[right];
    if (line !== undefined) {
      edits.push({ span: { start: line.end, end: line.end }, newText: ` ${item.name}` });
    } else {
      // No line for that word yet: add one after this statement, with this line's indentation.
      let lineStart = statement.start;
      while (lineStart > 0 && text.charCodeAt(lineStart - 1) !== 10 && text.charCodeAt(lineStart - 1) !== 13)
        lineStart--;
      const indent = text.slice(lineStart, statement.start).replace(/[^ \t]/g, " ");
      edits.push({
        span: { start: statement.end, end: statement.end },
        newText: `\n${indent}${right} ${item.name}`,
      });
    }
    // If the statement holds only this item, the whole line would be left as a bare keyword.
    this.error(
      "TL103",
      `\`${item.name}\` is ${WORD_DESCRIPTION[right]}; write it on the \`${right}\` line`,
      item,
      { fixes: [{ title: `Move \`${item.name}\` to the \`${right}\` line`, edits, preferred: true }] },
    );
    void word;
  }

  private exceptionVector(item: Item, after: string, maxVector: number): number | undefined {
    if (item.kind === "Exception") {
      const exception = exceptionByMnemonic(item.mnemonic);
      if (exception === undefined) {
        this.unknown(
          "TL108",
          "exception",
          { name: item.mnemonic, start: item.start, end: item.end },
          exceptionMnemonics(),
        );
        return undefined;
      }
      return exception.vector;
    }
    if (item.kind === "Number") {
      return this.integer(item, `an exception vector (0–${maxVector})`, after, item, 0, maxVector);
    }
    this.wrongItem(item, "an exception vector (`#PF` or a number)", after);
    return undefined;
  }

  private portRange(item: Item, after: string): [number, number] | undefined {
    if (item.kind === "Number") {
      const port = this.integer(item, "a port (0–0xffff)", after, item, 0, 0xffff);
      return port === undefined ? undefined : [port, port];
    }
    if (item.kind === "Range") {
      const first = this.integer(item.from, "a port (0–0xffff)", after, item, 0, 0xffff);
      const last = this.integer(item.to, "a port (0–0xffff)", after, item, 0, 0xffff);
      if (first === undefined || last === undefined) return undefined;
      if (first > last) {
        this.error("TL209", `the range ${item.from.text}..${item.to.text} ends before it starts`, item);
        return undefined;
      }
      return [first, last];
    }
    this.wrongItem(item, "a port or a port range (`0x3f8..0x3ff`)", after);
    return undefined;
  }

  /** An MSR by name or number; undefined (diagnosed) when unknown. */
  private msrIndex(item: Item, after: string): { index: number; name?: string } | undefined {
    if (item.kind === "Ident") {
      const msr = msrByName(item.name);
      if (msr === undefined) {
        this.unknown("TL107", "MSR", item, msrNames());
        return undefined;
      }
      return { index: msr.index, name: msr.name };
    }
    if (item.kind === "Number") {
      const index = this.integer(item, "an MSR number (0–0xffffffff)", after, item, 0, 0xffffffff);
      if (index === undefined) return undefined;
      return { index, name: msrByIndex(index)?.name };
    }
    this.wrongItem(item, "an MSR name or number", after);
    return undefined;
  }

  private lowerMsrTrap(vmcs: VmcsIR, statement: Statement): void {
    const [trap, mode, ...msrs] = statement.items;
    if (trap?.kind !== "Ident" || trap.name !== "trap") {
      if (trap === undefined) this.missing(statement, "`trap read|write|rw` and MSRs");
      else this.wrongItem(trap, "`trap`", "msr");
      return;
    }
    if (mode?.kind !== "Ident" || !["read", "write", "rw"].includes(mode.name)) {
      if (mode === undefined) this.error("TL201", "expected `read`, `write` or `rw` after `msr trap`", trap);
      else if (mode.kind === "Ident") this.unknown("TL114", "MSR access", mode, ["read", "write", "rw"]);
      else this.wrongItem(mode, "`read`, `write` or `rw`", "msr trap");
      return;
    }
    const read = mode.name !== "write";
    const write = mode.name !== "read";
    if (msrs.length === 0) this.error("TL201", `expected MSRs after \`msr trap ${mode.name}\``, mode);
    for (const item of msrs) {
      const msr = this.msrIndex(item, `msr trap ${mode.name}`);
      if (msr === undefined) continue;
      if (msrBitmapBit(msr.index, "read") === undefined) {
        this.report(
          "warning",
          "TL210",
          `MSR 0x${msr.index.toString(16)} is outside the ranges the MSR bitmap covers (0–0x1fff, 0xc0000000–0xc0001fff): RDMSR/WRMSR of it always exit`,
          item,
          { reference: "SDM Vol. 3C §25.6.9 (MSR-Bitmap Address); L-kvmvmx.h MSR bitmap layout" },
        );
      }
      vmcs.msrTraps.push({ msr: msr.index, read, write, span: item });
    }
  }

  private lowerFieldStatement(vmcs: VmcsIR, statement: Statement): void {
    const [name, eq, value] = statement.items;
    if (name?.kind !== "Ident" || eq?.kind !== "Punct" || eq.text !== "=" || value === undefined) {
      this.error("TL201", "expected `field NAME = VALUE`", statement);
      return;
    }
    const field = vmcsFieldByName(name.name);
    if (field === undefined) {
      this.unknown("TL106", "VMCS field", name, vmcsFieldNames());
      return;
    }
    if (field.readOnly) {
      this.error(
        "TL203",
        `\`${field.name}\` is a read-only VM-exit information field; a hypervisor cannot set it`,
        name,
        { reference: READ_ONLY_REFERENCE },
      );
      return;
    }
    const v = this.u64(value, "a value", "=", keywordSpanOf(statement));
    if (v === undefined) return;
    const bits = field.width === "16" ? 16n : field.width === "32" ? 32n : 64n;
    if (v >> bits !== 0n) {
      this.error(
        "TL205",
        `\`${field.name}\` is a ${field.width}-bit field; ${itemText(value)} does not fit`,
        value,
      );
      return;
    }
    vmcs.fields.set(field.name, { field, value: v, span: spanOf(statement) });
    // Raw fields a sugar statement also sets are in force like it. The exception bitmap is ORed
    // with the `exceptions` statement (as raw control words are with their named controls);
    // the scalar ones take the value of the last statement that sets them.
    switch (field.name) {
      case "EXCEPTION_BITMAP":
        vmcs.exceptionBitmap = (vmcs.exceptionBitmap | Number(v)) >>> 0;
        vmcs.fields.set(field.name, { field, value: BigInt(vmcs.exceptionBitmap), span: spanOf(statement) });
        break;
      case "VMX_PREEMPTION_TIMER_VALUE":
        vmcs.preemptionTimer = { ticks: Number(v), span: spanOf(statement) };
        break;
      case "POSTED_INTR_NV":
        vmcs.postedInterruptVector = { vector: Number(v), span: spanOf(statement) };
        break;
      case "TPR_THRESHOLD":
        vmcs.tprThreshold = { value: Number(v), span: spanOf(statement) };
        break;
    }
  }

  private lowerEpt(vmcs: VmcsIR, body: Block | undefined): void {
    for (const entry of body?.entries ?? []) {
      if (entry.kind !== "EptEntry") continue;
      const region = this.eptRegion(entry);
      if (region !== undefined) vmcs.ept.push(region);
    }
    // Overlaps: sort a copy by start (unless written in order, as usual), compare neighbours.
    let inOrder = true;
    for (let i = 1; i < vmcs.ept.length && inOrder; i++)
      inOrder = vmcs.ept[i - 1]!.start <= vmcs.ept[i]!.start;
    const sorted = inOrder
      ? vmcs.ept
      : [...vmcs.ept].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (cur.start <= prev.end) {
        this.error("TL209", "this EPT region overlaps another", cur.span, {
          related: [{ span: prev.span, message: "the overlapping region" }],
        });
      }
    }
  }

  private eptRegion(entry: EptEntry): VmcsIR["ept"][number] | undefined {
    let start: bigint | undefined;
    let end: bigint | undefined;
    if (entry.range.kind === "Range") {
      start = this.u64(entry.range.from, "a guest-physical address", "ept", entry.range);
      end = this.u64(entry.range.to, "a guest-physical address", "ept", entry.range);
      if (start !== undefined && end !== undefined && start > end) {
        this.error("TL209", "the range ends before it starts", entry.range);
        return undefined;
      }
    } else {
      // A single address: its 4 KiB page.
      const address = this.u64(entry.range, "a guest-physical address", "ept", entry.range);
      if (address !== undefined) {
        start = address & ~0xfffn;
        end = start + 0xfffn;
      }
    }
    if (start === undefined || end === undefined || entry.perms.length === 0) return undefined;
    const perms = this.eptPermissions(entry.perms);
    if (perms === undefined) return undefined;
    const maxPhys = 1n << BigInt(this.target.profile.maxPhysAddrBits);
    if (end >= maxPhys) {
      this.report(
        "warning",
        "TL209",
        `the range reaches past the target's ${this.target.profile.maxPhysAddrBits}-bit physical-address width`,
        entry.range,
        { reference: "CPUID.80000008H:EAX[7:0] (MAXPHYADDR)" },
      );
    }
    return { start, end, perms, span: spanOf(entry) };
  }

  private eptPermissions(perms: Ident[]): EptPermissions | undefined {
    if (perms.length > 1) {
      this.error("TL201", "expected one permission word per region (`rwx`, `r`, `none`, …)", perms[1]!);
      return undefined;
    }
    const word = perms[0]!;
    if (word.name === "none") return { kind: "none" };
    if (word.name === "misconfig") return { kind: "misconfig" };
    if (word.name === "apic") return { kind: "apic" };
    let read = false;
    let write = false;
    let execute = false;
    for (const ch of word.name) {
      const seen = ch === "r" ? read : ch === "w" ? write : ch === "x" ? execute : undefined;
      if (seen === undefined || seen) {
        this.unknown("TL114", "EPT permission", word, [
          "rwx",
          "rw",
          "rx",
          "r",
          "x",
          "none",
          "misconfig",
          "apic",
        ]);
        return undefined;
      }
      if (ch === "r") read = true;
      else if (ch === "w") write = true;
      else execute = true;
    }
    return { kind: "rwx", read, write, execute };
  }

  // ---- handlers and fns ---------------------------------------------------------------------

  private lowerHandler(decl: HandlerDecl, def: SymbolDef | undefined): void {
    if (decl.reason === undefined) return;
    let reason: ExitReasonDef | undefined;
    if (decl.reason.kind === "Ident") {
      reason = exitReasonByName(decl.reason.name);
      if (reason === undefined) this.unknown("TL105", "exit reason", decl.reason, exitReasonNames());
    } else {
      reason = exitReasonByCode(decl.reason.value);
      if (reason === undefined || !decl.reason.integer) {
        this.error("TL105", `no basic exit reason has number ${decl.reason.text}`, decl.reason);
        reason = undefined;
      }
    }
    const ops = this.handlerOps(decl.body?.entries ?? [], undefined);
    if (reason === undefined) return;
    const existing = this.program.handlers.get(reason.code);
    if (existing !== undefined) {
      this.error("TL101", `duplicate handler for ${reason.name}`, decl.reason, {
        related: [{ span: existing.reasonSpan, message: "the first handler for this exit reason" }],
      });
      return;
    }
    this.program.handlers.set(reason.code, { reason, ops, span: spanOf(decl), reasonSpan: decl.reason });
    void def;
  }

  private lowerFn(decl: FnDecl): void {
    if (decl.name === undefined) return;
    const ops = this.handlerOps(decl.body?.entries ?? [], decl.name.name);
    const fn: FnIR = { name: decl.name.name, ops, span: spanOf(decl), nameSpan: decl.name };
    if (!this.program.fns.has(fn.name)) this.program.fns.set(fn.name, fn);
  }

  private handlerOps(entries: readonly Block["entries"][number][], inFn: string | undefined): HandlerOp[] {
    const ops: HandlerOp[] = [];
    for (const entry of entries) {
      if (entry.kind !== "Statement" || !entry.known) continue;
      const op = this.handlerOp(entry, inFn);
      if (op !== undefined) ops.push(op);
    }
    return ops;
  }

  private handlerOp(statement: Statement, inFn: string | undefined): HandlerOp | undefined {
    const keyword = statement.keyword;
    const span = spanOf(statement);
    const first = statement.items[0];
    if (SIMPLE_HANDLER_OPS.has(keyword)) {
      return { op: keyword as "decode", span };
    }
    switch (keyword) {
      case "vmread":
      case "vmwrite": {
        if (first === undefined || first.kind !== "Ident") {
          if (first === undefined)
            this.error("TL201", `expected a VMCS field name after \`${keyword}\``, keywordSpanOf(statement));
          else this.wrongItem(first, "a VMCS field name", keyword);
          return undefined;
        }
        const field = vmcsFieldByName(first.name);
        if (field === undefined) {
          this.unknown("TL106", "VMCS field", first, vmcsFieldNames());
          return undefined;
        }
        if (keyword === "vmwrite" && field.readOnly) {
          if ((this.target.msrs.IA32_VMX_MISC & MISC_VMWRITE_ANY_FIELD) === 0n) {
            this.error(
              "TL203",
              `VMWRITE to \`${field.name}\` fails: it is a read-only VM-exit information field and the target's IA32_VMX_MISC[29] is 0`,
              first,
              { reference: READ_ONLY_REFERENCE },
            );
          } else {
            // The spec calls this an error; the hardware allows it here. Say both: it succeeds,
            // and it changes nothing VM entry reads (the CPU overwrites the field at the next exit).
            this.report(
              "warning",
              "TL203",
              `VMWRITE to \`${field.name}\` succeeds on this target (IA32_VMX_MISC[29] = 1) but has no effect: it is VM-exit information, which VM entry does not read and the next VM exit overwrites`,
              first,
              { reference: READ_ONLY_REFERENCE },
            );
          }
        }
        return { op: keyword, field, span };
      }
      case "work":
      case "userspace": {
        if (keyword === "userspace" && first === undefined) return { op: "userspace", cycles: 0, span };
        const cycles = this.cycles(first, statement);
        return cycles === undefined ? undefined : { op: keyword, cycles, span };
      }
      case "inject": {
        if (first === undefined) {
          this.error("TL201", "expected an exception vector after `inject`", keywordSpanOf(statement));
          return undefined;
        }
        const vector = this.exceptionVector(first, "inject", 255);
        return vector === undefined ? undefined : { op: "inject", vector, span };
      }
      case "call": {
        if (first?.kind !== "Ident") {
          if (first === undefined)
            this.error("TL201", "expected a fn name after `call`", keywordSpanOf(statement));
          else this.wrongItem(first, "a fn name", "call");
          return undefined;
        }
        // Resolved now: handlers and fns are lowered once every fn is defined.
        const def = this.resolveReference("fn", first, "TL109");
        if (def === undefined) return undefined;
        if (inFn !== undefined) {
          const calls = this.fnCalls.get(inFn) ?? [];
          calls.push({ fn: first.name, span: first });
          this.fnCalls.set(inFn, calls);
        }
        return { op: "call", fn: first.name, span };
      }
      case "branch": {
        const arms: HandlerArm[] = this.branchArms(statement, (entries) => this.handlerOps(entries, inFn));
        return { op: "branch", arms, span };
      }
      case "repeat": {
        const body = this.repeatBody(statement, (entries) => this.handlerOps(entries, inFn));
        return body && { op: "repeat", count: body.count, ops: body.ops, span };
      }
    }
    return undefined;
  }

  /**
   * `branch { P% [LABEL:] OPS … }` in a handler or a guest: each arm with its operations lowered
   * by `lowerOps`, and the probabilities checked (TL204).
   */
  private branchArms<Op>(
    statement: Statement,
    lowerOps: (entries: readonly BlockEntry[]) => Op[],
  ): { probability: number; label: string | undefined; ops: Op[]; span: Span }[] {
    const armNodes = (statement.body?.entries ?? []).filter((e): e is Arm => e.kind === "Arm");
    const arms = armNodes.map((arm) => ({
      probability: this.armProbability(arm),
      label: arm.label?.name,
      ops: lowerOps(arm.statements),
      span: spanOf(arm),
    }));
    this.checkArmSum(armNodes, statement);
    return arms;
  }

  /** `repeat N { OPS }`: the count and the lowered body; undefined (diagnosed) for a bad count. */
  private repeatBody<Op>(
    statement: Statement,
    lowerOps: (entries: readonly BlockEntry[]) => Op[],
  ): { count: number; ops: Op[] } | undefined {
    const count = this.integer(
      statement.items[0],
      "a repeat count",
      "repeat",
      keywordSpanOf(statement),
      0,
      MAX_REPEAT,
    );
    // The body is lowered (and diagnosed) even when the count is not valid.
    const ops = lowerOps(statement.body?.entries ?? []);
    return count === undefined ? undefined : { count, ops };
  }

  private armProbability(arm: Arm): number {
    const value = this.base(arm.probability);
    if (value === undefined) return 0;
    if (value < 0 || value > 1) {
      this.error(
        "TL204",
        `a probability must be between 0% and 100%, found ${arm.probability.text}`,
        arm.probability,
      );
      return Math.min(1, Math.max(0, value));
    }
    return value;
  }

  private checkArmSum(arms: Arm[], statement: Statement): void {
    let total = 0;
    for (const arm of arms) total += Math.max(0, this.base(arm.probability) ?? 0);
    // Percentages are written with at most a few decimals; allow rounding noise.
    if (total > 1 + 1e-9) {
      this.error(
        "TL204",
        `branch probabilities add up to ${Math.round(total * 1e4) / 100}%, more than 100%`,
        keywordSpanOf(statement),
        { related: arms.map((arm) => ({ span: arm.probability, message: arm.probability.text })) },
      );
    }
  }

  private checkRecursion(): void {
    // Iterative DFS over fn → fn calls; report each call that closes a cycle once.
    const state = new Map<string, 1 | 2>();
    for (const root of this.fnCalls.keys()) {
      if (state.has(root)) continue;
      const stack: { fn: string; next: number }[] = [{ fn: root, next: 0 }];
      const onPath: string[] = [root];
      state.set(root, 1);
      while (stack.length > 0) {
        const frame = stack[stack.length - 1]!;
        const calls = this.fnCalls.get(frame.fn) ?? [];
        if (frame.next >= calls.length) {
          state.set(frame.fn, 2);
          stack.pop();
          onPath.pop();
          continue;
        }
        const call = calls[frame.next++]!;
        const s = state.get(call.fn);
        if (s === 1) {
          const cycle = [...onPath.slice(onPath.indexOf(call.fn)), call.fn].join(" → ");
          this.error(
            "TL110",
            `recursive call: ${cycle}; fns cannot recurse (a handler must terminate)`,
            call.span,
          );
        } else if (s === undefined) {
          state.set(call.fn, 1);
          stack.push({ fn: call.fn, next: 0 });
          onPath.push(call.fn);
        }
      }
    }
  }

  // ---- guests -------------------------------------------------------------------------------

  private lowerGuest(decl: GuestDecl, def: SymbolDef | undefined): void {
    if (decl.name === undefined) return;
    if (decl.vmcs !== undefined) this.referenceLater("vmcs", decl.vmcs, "TL111");
    const statements = (decl.body?.entries ?? []).filter(
      (e): e is Statement => e.kind === "Statement" && e.known,
    );
    const guest: GuestIR = {
      name: decl.name.name,
      span: spanOf(decl),
      nameSpan: decl.name,
      vmcs: decl.vmcs?.name ?? "",
      vmcsSpan: decl.vmcs ?? decl.name,
      vcpus: 1,
      apic: "x2apic",
      idle: "halt",
      sources: [],
    };
    // The APIC mode decides how `eoi`/`send_ipi` lower, so read it first.
    for (const statement of statements) {
      if (statement.keyword !== "apic") continue;
      const mode = statement.items[0];
      if (mode?.kind === "Ident" && (mode.name === "x2apic" || mode.name === "xapic")) guest.apic = mode.name;
      else if (mode?.kind === "Ident") this.unknown("TL114", "APIC mode", mode, ["x2apic", "xapic"]);
      else if (mode === undefined)
        this.error("TL201", "expected `x2apic` or `xapic` after `apic`", keywordSpanOf(statement));
      else this.wrongItem(mode, "`x2apic` or `xapic`", "apic");
    }
    const sourceNames = new Map<string, Span>();
    for (const statement of statements) {
      switch (statement.keyword) {
        case "apic":
          break;
        case "vcpus": {
          const n = this.integer(
            statement.items[0],
            "a vCPU count",
            "vcpus",
            keywordSpanOf(statement),
            1,
            MAX_VCPUS,
          );
          if (n !== undefined) guest.vcpus = n;
          break;
        }
        case "idle": {
          const mode = statement.items[0];
          if (
            mode?.kind === "Ident" &&
            (mode.name === "halt" || mode.name === "poll" || mode.name === "mwait")
          ) {
            guest.idle = mode.name;
            guest.idleSpan = spanOf(statement);
          } else if (mode?.kind === "Ident")
            this.unknown("TL114", "idle mode", mode, ["halt", "poll", "mwait"]);
          else if (mode === undefined)
            this.error("TL201", "expected `halt`, `poll` or `mwait` after `idle`", keywordSpanOf(statement));
          else this.wrongItem(mode, "`halt`, `poll` or `mwait`", "idle");
          break;
        }
        default: {
          const source = this.guestSource(statement, guest);
          if (source === undefined) break;
          const first = sourceNames.get(source.name);
          if (first !== undefined) {
            this.error(
              "TL101",
              `duplicate ${source.kind} \`${source.name}\` in guest \`${guest.name}\``,
              source.nameSpan,
              {
                related: [{ span: first, message: "first defined here" }],
              },
            );
            break;
          }
          sourceNames.set(source.name, source.nameSpan);
          guest.sources.push(source);
          def?.children.push({
            kind: source.kind,
            name: source.name,
            span: source.span,
            nameSpan: source.nameSpan,
            detail: arrivalText(source.arrival),
            children: [],
          });
        }
      }
    }
    if (!this.program.guests.has(guest.name)) this.program.guests.set(guest.name, guest);
  }

  private guestSource(statement: Statement, guest: GuestIR): GuestSource | undefined {
    const items = statement.items;
    const span = spanOf(statement);
    const ops = this.guestOps(statement.body?.entries ?? [], guest);
    switch (statement.keyword) {
      case "path": {
        const [name, how, value] = items;
        if (name?.kind !== "Ident") {
          if (name === undefined)
            this.error("TL201", "expected a name after `path`", keywordSpanOf(statement));
          else this.wrongItem(name, "a path name", "path");
          return undefined;
        }
        let arrival: Arrival | undefined;
        if (how?.kind === "Ident" && how.name === "rate") {
          const rate = this.rate(value, "rate", how);
          if (rate !== undefined) arrival = { kind: "poisson", ratePerSec: rate };
        } else if (how?.kind === "Ident" && how.name === "every") {
          const period = this.period(value, "every", how);
          if (period !== undefined) arrival = { kind: "periodic", periodSec: period };
        } else if (how === undefined) {
          this.error("TL201", `expected \`rate R\` or \`every T\` after \`path ${name.name}\``, name);
        } else if (how.kind === "Ident") this.unknown("TL114", "arrival", how, ["rate", "every"]);
        else this.wrongItem(how, "`rate R` or `every T`", `path ${name.name}`);
        if (arrival === undefined) return undefined;
        return { kind: "path", name: name.name, arrival, ops, span, nameSpan: name };
      }
      case "irq": {
        const name = items[0];
        if (name?.kind !== "Ident") {
          if (name === undefined)
            this.error("TL201", "expected a name after `irq`", keywordSpanOf(statement));
          else this.wrongItem(name, "an irq name", "irq");
          return undefined;
        }
        const args = this.keywordArgs(statement, IRQ_ARGS, IRQ_FLAGS, 1);
        if (args === undefined) return undefined;
        const vectorItem = args.get("vector");
        const rateItem = args.get("rate");
        if (vectorItem == null) {
          this.error("TL201", `expected \`vector V\` in \`irq ${name.name}\``, name);
          return undefined;
        }
        // Vectors 0–31 are exceptions; external interrupts use 32–255 (SDM Vol. 3A §6.2).
        const vector = this.integer(vectorItem, "an interrupt vector", "vector", name, 32, 255);
        const rate = rateItem == null ? undefined : this.rate(rateItem, "rate", name);
        if (rateItem == null) this.error("TL201", `expected \`rate R\` in \`irq ${name.name}\``, name);
        if (vector === undefined || rate === undefined) return undefined;
        return {
          kind: "irq",
          name: name.name,
          vector,
          arrival: { kind: "poisson", ratePerSec: rate },
          posted: args.has("posted"),
          ops,
          span,
          nameSpan: name,
        };
      }
      case "timer": {
        const [mode, value] = items;
        let arrival: Arrival | undefined;
        if (mode?.kind === "Ident" && mode.name === "tickless") arrival = { kind: "tickless" };
        else if (mode?.kind === "Ident" && mode.name === "periodic") {
          if (value?.kind === "Quantity" && this.dimensionOf(value) === "time") {
            const period = this.period(value, "periodic", mode);
            if (period !== undefined) arrival = { kind: "periodic", periodSec: period };
          } else {
            const hz = this.rate(value, "periodic", mode);
            if (hz !== undefined) arrival = { kind: "periodic", periodSec: 1 / hz };
          }
        } else if (mode === undefined) {
          this.error("TL201", "expected `periodic F` or `tickless` after `timer`", keywordSpanOf(statement));
        } else if (mode.kind === "Ident") this.unknown("TL114", "timer mode", mode, ["periodic", "tickless"]);
        else this.wrongItem(mode, "`periodic F` or `tickless`", "timer");
        if (arrival === undefined) return undefined;
        return { kind: "timer", name: "timer", arrival, ops, span, nameSpan: keywordSpanOf(statement) };
      }
      case "ipi":
      case "nmi": {
        const [how, value] = items;
        if (how?.kind !== "Ident" || how.name !== "rate") {
          if (how === undefined)
            this.error(
              "TL201",
              `expected \`rate R\` after \`${statement.keyword}\``,
              keywordSpanOf(statement),
            );
          else this.wrongItem(how, "`rate R`", statement.keyword);
          return undefined;
        }
        const rate = this.rate(value, "rate", how);
        if (rate === undefined) return undefined;
        return {
          kind: statement.keyword,
          name: statement.keyword,
          arrival: { kind: "poisson", ratePerSec: rate },
          ops,
          span,
          nameSpan: keywordSpanOf(statement),
        };
      }
    }
    void guest;
    return undefined;
  }

  private guestOps(entries: readonly Block["entries"][number][], guest: GuestIR): GuestOp[] {
    const ops: GuestOp[] = [];
    for (const entry of entries) {
      if (entry.kind !== "Statement" || !entry.known) continue;
      const op = this.guestOp(entry, guest);
      if (op !== undefined) ops.push(op);
    }
    return ops;
  }

  private address(item: Item | undefined, after: string, at: Span): bigint | undefined {
    return this.u64(item, "a guest-physical address", after, at);
  }

  private guestOp(statement: Statement, guest: GuestIR): GuestOp | undefined {
    const keyword = statement.keyword;
    const span = spanOf(statement);
    const [first, second] = statement.items;
    if (SIMPLE_GUEST_OPS.has(keyword)) return { op: keyword as "cpuid", span };
    switch (keyword) {
      case "compute": {
        const cycles = this.cycles(first, statement);
        return cycles === undefined ? undefined : { op: "compute", cycles, span };
      }
      case "send_ipi":
        // Extension: the ICR write that sends an IPI, per the guest's APIC mode.
        return guest.apic === "x2apic"
          ? {
              op: "wrmsr",
              msr: X2APIC_ICR_MSR,
              msrName: msrByIndex(X2APIC_ICR_MSR)?.name ?? "X2APIC_ICR",
              span,
            }
          : { op: "mmio", access: "write", gpa: XAPIC_ICR_LOW_GPA, span };
      case "rdmsr":
      case "wrmsr": {
        if (first === undefined) {
          this.error(
            "TL201",
            `expected an MSR name or number after \`${keyword}\``,
            keywordSpanOf(statement),
          );
          return undefined;
        }
        const msr = this.msrIndex(first, keyword);
        if (msr === undefined) return undefined;
        return msr.name === undefined
          ? { op: keyword, msr: msr.index, span }
          : { op: keyword, msr: msr.index, msrName: msr.name, span };
      }
      case "in":
      case "out": {
        const port = this.integer(first, "a port (0–0xffff)", keyword, keywordSpanOf(statement), 0, 0xffff);
        return port === undefined ? undefined : { op: keyword, port, span };
      }
      case "mmio": {
        if (first?.kind !== "Ident" || (first.name !== "read" && first.name !== "write")) {
          if (first === undefined)
            this.error("TL201", "expected `read` or `write` after `mmio`", keywordSpanOf(statement));
          else this.wrongItem(first, "`read` or `write`", "mmio");
          return undefined;
        }
        const gpa = this.address(second, `mmio ${first.name}`, first);
        return gpa === undefined ? undefined : { op: "mmio", access: first.name, gpa, span };
      }
      case "read":
      case "write":
      case "exec": {
        if (keyword === "read" && first?.kind === "Ident" && (first.name === "cr3" || first.name === "cr8")) {
          return { op: "read_cr", cr: first.name === "cr3" ? 3 : 8, span };
        }
        const gpa = this.address(first, keyword, keywordSpanOf(statement));
        return gpa === undefined ? undefined : { op: "mem", access: keyword, gpa, span };
      }
      case "mov": {
        if (first?.kind === "Ident" && first.name === "dr") return { op: "mov_dr", span };
        const crs: Record<string, 0 | 3 | 4 | 8> = { cr0: 0, cr3: 3, cr4: 4, cr8: 8 };
        const cr = first?.kind === "Ident" ? crs[first.name] : undefined;
        if (cr === undefined) {
          if (first === undefined)
            this.error(
              "TL201",
              "expected `cr0`, `cr3`, `cr4`, `cr8` or `dr` after `mov`",
              keywordSpanOf(statement),
            );
          else if (first.kind === "Ident")
            this.unknown("TL114", "register", first, ["cr0", "cr3", "cr4", "cr8", "dr"]);
          else this.wrongItem(first, "`cr0`, `cr3`, `cr4`, `cr8` or `dr`", "mov");
          return undefined;
        }
        if (second === undefined) return { op: "mov_cr", cr, span };
        const value = this.u64(
          second,
          "a register value",
          `mov ${first!.kind === "Ident" ? first.name : ""}`,
          span,
        );
        return value === undefined ? undefined : { op: "mov_cr", cr, value, span };
      }
      case "pause_loop": {
        const seconds = this.seconds(first, "pause_loop", keywordSpanOf(statement));
        return seconds === undefined
          ? undefined
          : { op: "pause_loop", cycles: Math.round(seconds * this.target.hz), span };
      }
      case "exception": {
        if (first === undefined) {
          this.error("TL201", "expected an exception vector after `exception`", keywordSpanOf(statement));
          return undefined;
        }
        const vector = this.exceptionVector(first, "exception", 31);
        if (vector === undefined) return undefined;
        if (second === undefined) return { op: "exception", vector, span };
        const errorCode = this.integer(second, "an error code", "exception", second, 0, 0xffffffff);
        if (errorCode !== undefined && exceptionByVector(vector)?.hasErrorCode === false) {
          this.report(
            "warning",
            "TL205",
            `${exceptionByVector(vector)!.mnemonic} pushes no error code`,
            second,
            { reference: "L-x86.h x86_exception_has_error_code" },
          );
        }
        return errorCode === undefined ? undefined : { op: "exception", vector, errorCode, span };
      }
      case "dirty": {
        const pages = this.integer(first, "a page count", "dirty", keywordSpanOf(statement), 0, 1 << 30);
        if (
          second !== undefined &&
          !(second.kind === "Ident" && (second.name === "pages" || second.name === "page"))
        ) {
          this.wrongItem(second, "`pages`", `dirty ${first ? itemText(first) : ""}`);
        }
        return pages === undefined ? undefined : { op: "dirty", pages, span };
      }
      case "tsx":
        return { op: "tsx", ops: this.guestOpsIn("tsx", statement, guest), span };
      case "coalesce":
        return this.coalesce(statement, guest);
      case "branch": {
        const arms: GuestArm[] = this.branchArms(statement, (entries) => this.guestOps(entries, guest));
        return { op: "branch", arms, span };
      }
      case "repeat": {
        const body = this.repeatBody(statement, (entries) => this.guestOps(entries, guest));
        return body && { op: "repeat", count: body.count, ops: body.ops, span };
      }
    }
    return undefined;
  }

  /** The body of a `tsx` or `coalesce`, lowered with that block recorded for the nesting rules. */
  private guestOpsIn(keyword: "tsx" | "coalesce", statement: Statement, guest: GuestIR): GuestOp[] {
    const outer = this.guestOpsInside;
    this.guestOpsInside = { keyword, span: keywordSpanOf(statement) };
    try {
      return this.guestOps(statement.body?.entries ?? [], guest);
    } finally {
      this.guestOpsInside = outer;
    }
  }

  /**
   * `coalesce N or T { OPS }`. N ≥ 1 (TL205), T > 0 (TL207), and not inside `tsx` or another
   * `coalesce` (TL213): the pending count lives across executions, which a transaction's abort
   * would have to roll back, and an inner batch inside an outer one has no single meaning.
   */
  private coalesce(statement: Statement, guest: GuestIR): GuestOp | undefined {
    const [countItem, orItem, timeItem] = statement.items;
    const outer = this.guestOpsInside;
    const ops = this.guestOpsIn("coalesce", statement, guest);
    if (outer !== undefined) {
      this.error(
        "TL213",
        outer.keyword === "tsx"
          ? "`coalesce` cannot be inside `tsx`: its pending count outlives the transaction; put the `tsx` inside the `coalesce` or the `coalesce` after the `tsx`"
          : "`coalesce` cannot be inside another `coalesce`: a batch of batches has no single timeout; merge them into one `coalesce`",
        keywordSpanOf(statement),
        { related: [{ span: outer.span, message: `the enclosing \`${outer.keyword}\`` }] },
      );
      return undefined;
    }
    const count = this.integer(
      countItem,
      "a batch size",
      "coalesce",
      keywordSpanOf(statement),
      1,
      MAX_COALESCE,
    );
    if (count === undefined) return undefined;
    if (orItem === undefined || orItem.kind !== "Ident" || orItem.name !== "or") {
      if (orItem === undefined)
        this.error(
          "TL201",
          `expected \`or T\` (the timeout) after \`coalesce ${count}\`, e.g. \`coalesce ${count} or 50us\``,
          countItem!,
        );
      else this.wrongItem(orItem, "`or` and a timeout", `coalesce ${count}`);
      return undefined;
    }
    const timeoutSec = this.seconds(timeItem, "or", orItem);
    if (timeoutSec === undefined) return undefined;
    if (count === 1)
      this.report(
        "warning",
        "TL214",
        "`coalesce 1` flushes at every execution: the timeout never applies (the operations could be written without `coalesce`)",
        countItem!,
      );
    return { op: "coalesce", count, timeoutSec, ops, span: spanOf(statement) };
  }

  // ---- expect and simulate ------------------------------------------------------------------

  private lowerExpect(decl: ExpectDecl): void {
    if (decl.guest === undefined) return;
    this.referenceLater("guest", decl.guest, "TL112");
    const expect: ExpectIR = {
      guest: decl.guest.name,
      guestSpan: decl.guest,
      budgets: [],
      span: spanOf(decl),
    };
    for (const entry of decl.body?.entries ?? []) {
      if (entry.kind !== "Budget") continue;
      const budget = this.budget(entry);
      if (budget !== undefined) expect.budgets.push(budget);
    }
    this.program.expects.push(expect);
  }

  private budget(entry: Budget): ExpectIR["budgets"][number] | undefined {
    if (entry.comparator === undefined || entry.value === undefined) return undefined;
    const comparator = entry.comparator.text;
    if (comparator !== "<" && comparator !== "<=") {
      this.error("TL208", "budgets are upper limits: write `<` or `<=`", entry.comparator);
      return undefined;
    }
    const [head, ...rest] = entry.metric;
    if (head === undefined) return undefined;
    const value = entry.value;
    let metric: ExpectMetric | undefined;
    let normalised: number | undefined;
    const percentile = /^p(\d{1,2}(?:_\d+)?)$/.exec(head.name);
    if (head.name === "overhead" || head.name === "host_cpu") {
      if (rest.length > 0) this.error("TL201", `\`${head.name}\` takes no argument`, rest[0]!);
      metric = { metric: head.name };
      if (value.kind === "Quantity" && this.dimensionOf(value) === "percent") normalised = this.base(value);
      else if (head.name === "host_cpu" && value.kind === "Number")
        normalised = value.value; // cores
      else
        this.error(
          "TL202",
          `expected a percentage${head.name === "host_cpu" ? " or a number of cores" : ""} for \`${head.name}\``,
          value,
        );
    } else if (head.name === "exits") {
      let reason: ExitReasonDef | undefined;
      if (rest.length > 1) this.error("TL201", "`exits` takes at most one exit reason", rest[1]!);
      if (rest[0] !== undefined) {
        reason = exitReasonByName(rest[0].name);
        if (reason === undefined) {
          this.unknown("TL105", "exit reason", rest[0], exitReasonNames());
          return undefined;
        }
        this.referenceLater("handler", rest[0], undefined, reason.name);
      }
      metric = reason === undefined ? { metric: "exits" } : { metric: "exits", reason };
      normalised = this.rate(value, "<", entry.comparator);
    } else if (percentile !== null) {
      const of = rest[0];
      if (of === undefined) {
        this.error(
          "TL201",
          `expected what \`${head.name}\` measures, e.g. \`${head.name} irq_latency\``,
          head,
        );
        return undefined;
      }
      const p = Number(percentile[1]!.replace("_", "."));
      metric = { metric: "latency", percentile: p, of: of.name };
      normalised = this.seconds(value, "<", entry.comparator);
    } else {
      this.unknown("TL114", "metric", head, ["overhead", "exits", "host_cpu", "p50", "p99"]);
      return undefined;
    }
    if (normalised === undefined || metric === undefined) return undefined;
    if (normalised < 0) {
      this.error("TL205", "a budget must not be negative", value);
      return undefined;
    }
    return { metric, comparator, value: normalised, span: spanOf(entry) };
  }

  private lowerSimulate(decl: SimulateDecl): void {
    if (decl.guest === undefined) return;
    this.referenceLater("guest", decl.guest, "TL112");
    if (decl.duration === undefined) return;
    const durationSec = this.seconds(decl.duration, "for", keywordSpanOf(decl));
    let seed = 1;
    if (decl.seed !== undefined) {
      const s = this.integer(decl.seed, "a seed", "seed", decl.seed, 0, Number.MAX_SAFE_INTEGER);
      if (s !== undefined) seed = s;
    }
    if (durationSec === undefined) return;
    const simulate: SimulateIR = {
      guest: decl.guest.name,
      guestSpan: decl.guest,
      durationSec,
      seed,
      span: spanOf(decl),
    };
    this.program.simulates.push(simulate);
  }
}

function arrivalText(arrival: Arrival): string {
  switch (arrival.kind) {
    case "poisson":
      return `rate ${formatRate(arrival.ratePerSec)}`;
    case "periodic":
      return `every ${formatSeconds(arrival.periodSec)}`;
    case "tickless":
      return "tickless";
  }
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${+(perSecond / 1e6).toPrecision(3)}M/s`;
  if (perSecond >= 1e3) return `${+(perSecond / 1e3).toPrecision(3)}k/s`;
  return `${+perSecond.toPrecision(3)}/s`;
}

function formatSeconds(seconds: number): string {
  if (seconds >= 1) return `${+seconds.toPrecision(3)}s`;
  if (seconds >= 1e-3) return `${+(seconds * 1e3).toPrecision(3)}ms`;
  if (seconds >= 1e-6) return `${+(seconds * 1e6).toPrecision(3)}us`;
  return `${+(seconds * 1e9).toPrecision(3)}ns`;
}

export type { VmcsFieldDef };
export { spanUnion };
