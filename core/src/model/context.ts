/**
 * The state every statement lowerer works on: the program under construction, the target (times
 * become cycles at its frequency), the symbol index and the diagnostics sink, with the reporting
 * helpers every lowerer shares. One `LowerContext` per `Lowerer` (one per analysis); the
 * statement modules of `statements/` are functions of it, so one class is the receiver of every
 * call in the hot path.
 */

import type { Ident, Item, NumberLit, Statement } from "../lang/ast";
import { keywordSpanOf } from "../lang/ast";
import { STATEMENTS } from "../lang/grammar";
import { closestMatch } from "../lang/suggest";
import type { CodeFix, Diagnostic, RelatedInfo, Span } from "../source";
import { CONTROL_WORDS } from "../vmx/controls";
import { vmcsFieldByName } from "../vmx/vmcsFields";
import type { Program, TargetIR, VmcsIR } from "./ir";
import { type SymbolDef, SymbolIndex } from "./symbols";

export interface LowerOptions {
  /** Profile used when the file has no `target` line (default: DEFAULT_PROFILE_NAME). */
  defaultTarget?: string;
}

/** The optional parts of a diagnostic. */
export type DiagnosticExtra = { fixes?: CodeFix[]; related?: RelatedInfo[]; reference?: string };

/**
 * A plain copy of a syntax node's range. The IR keeps a statement's or a declaration's range as
 * a span of its own rather than the node itself (which is a span too): the node would carry its
 * whole subtree into anything that copies the IR or the estimates (a structured clone to the
 * timeline panel, JSON). Single tokens (Ident, Number, …) are kept as they are: they are small.
 */
export function spanOf(node: Span): Span {
  return { start: node.start, end: node.end };
}

export function spanUnion(a: Span, b: Span): Span {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

/** An item as written, for "found `…`" messages. */
export function itemText(item: Item): string {
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
    case "String":
      return `"${item.value}"`;
  }
}

/** Exact value of an integer literal (the lexer already rejected values past 2^64 − 1). */
export function bigOf(n: NumberLit): bigint | undefined {
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

export class LowerContext {
  readonly diagnostics: Diagnostic[] = [];
  readonly symbols = new SymbolIndex();
  /** Set by the target lowering before any declaration that needs it is lowered. */
  target!: TargetIR;
  readonly program: Program;
  /** fn → the fns it calls, for the recursion check. */
  readonly fnCalls = new Map<string, { fn: string; span: Span }[]>();
  /** The `tsx` / `coalesce` block the guest operations being lowered are in (nesting rules). */
  guestOpsInside: { keyword: "tsx" | "coalesce"; span: Span } | undefined = undefined;
  /** Low and high 32 bits of each control word (CONTROL_WORDS order) of the vmcs being lowered. */
  readonly writtenWords = new Int32Array(2 * CONTROL_WORDS.length);
  /** References whose definition may come later in the file: resolved in `Lowerer.finish`. */
  readonly pendingReferences: {
    kind: "vmcs" | "guest" | "handler" | "hypervisor";
    ident: Ident;
    code: string | undefined;
    /** The defined name to look up, when not the name as written (a handler's canonical reason). */
    lookupName: string | undefined;
  }[] = [];

  constructor(
    /** The source text (fixes that insert lines read its indentation). */
    readonly text: string,
    readonly options: LowerOptions,
  ) {
    this.program = {
      target: undefined as unknown as TargetIR,
      vmcs: new Map(),
      handlers: new Map(),
      fns: new Map(),
      guests: new Map(),
      hypervisors: new Map(),
      expects: [],
      simulates: [],
    };
  }

  // ---- diagnostics --------------------------------------------------------------------------

  report(
    severity: Diagnostic["severity"],
    code: string,
    message: string,
    span: Span,
    extra?: DiagnosticExtra,
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

  error(code: string, message: string, span: Span, extra?: DiagnosticExtra): void {
    this.report("error", code, message, span, extra);
  }

  /** Reports an unknown name with a "did you mean" fix over the candidates. */
  unknown(
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

  /** TL201 at the keyword: what the statement's shape expects (or `what`) is missing. */
  missing(statement: Statement, what?: string): void {
    const shape = STATEMENTS.vmcs?.get(statement.keyword);
    const expects = what ?? shape?.expects ?? "a value";
    this.error("TL201", `expected ${expects} after \`${statement.keyword}\``, keywordSpanOf(statement));
  }

  /** TL201 at an item of the wrong kind. */
  wrongItem(item: Item, expected: string, after: string): void {
    this.error("TL201", `expected ${expected} after \`${after}\`, found \`${itemText(item)}\``, item);
  }

  // ---- program ------------------------------------------------------------------------------

  /** Records a VMCS field a statement sets (a sugar statement, or `field`). */
  setField(vmcs: VmcsIR, name: string, value: bigint, span: Span): void {
    const field = vmcsFieldByName(name);
    if (field !== undefined) vmcs.fields.set(name, { field, value, span: spanOf(span) });
  }

  // ---- references ---------------------------------------------------------------------------

  /** A reference resolved in `Lowerer.finish`, when every declaration is defined. */
  referenceLater(
    kind: "vmcs" | "guest" | "handler" | "hypervisor",
    ident: Ident,
    code: string | undefined,
    lookupName?: string,
  ): void {
    this.pendingReferences.push({ kind, ident, code, lookupName });
  }

  /** Records the reference; an unknown name is reported with `code` (none: not reported here). */
  resolveReference(
    kind: "vmcs" | "guest" | "fn" | "handler" | "hypervisor",
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
}
