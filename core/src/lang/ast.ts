/**
 * The syntax tree. Every node is its own text range: it extends {@link Span} with the `start`
 * and `end` offsets of the text it covers (as TypeScript's nodes carry `pos` and `end`), so a
 * node is passed wherever a span is expected and the tree holds no separate span objects —
 * a 10,000-line file has some 40,000 nodes, and half of the tree's objects were their spans.
 * Declarations also keep their keyword span, statements their keyword span, blocks their
 * braces, so the language server can append to a `proc` line, complete inside a list, or
 * rename a single token.
 *
 * Statements are uniform (keyword + items + optional body) rather than one node type per
 * keyword: the parser knows each keyword's shape (grammar.ts) for extent and messages, and
 * lowering interprets the items. This keeps partial, erroneous input representable.
 */
import type { Span } from "../source";

export interface Ident extends Span {
  kind: "Ident";
  name: string;
}

export interface NumberLit extends Span {
  kind: "Number";
  /** Numeric value (may be inexact beyond 2^53; use `integerValue` from the lexer for bigint). */
  value: number;
  /** Source text, e.g. `0xfebf_0000`. */
  text: string;
  integer: boolean;
}

export interface QuantityLit extends Span {
  kind: "Quantity";
  /** The number part. */
  value: number;
  /** As written: `us`, `GHz`, `k/s`, `%`. */
  unit: string;
  text: string;
}

export interface ExceptionLit extends Span {
  kind: "Exception";
  /** With the `#`: `#PF`. */
  mnemonic: string;
}

export interface RangeLit extends Span {
  kind: "Range";
  from: NumberLit;
  to: NumberLit;
}

/** `=`, `<`, `<=`, `:` and `@` kept as items where the grammar has them (`field X = 1`). */
export interface PunctLit extends Span {
  kind: "Punct";
  text: string;
}

/** A string literal (`"traces/run1.txt"`): `value` is the content without the quotes, no escapes. */
export interface StringLit extends Span {
  kind: "String";
  value: string;
}

export type Value = NumberLit | QuantityLit;
export type Item = Ident | NumberLit | QuantityLit | ExceptionLit | RangeLit | PunctLit | StringLit;

/** The grammar context of a block: which statements it holds. */
export type BlockContext =
  | "vmcs"
  | "handler"
  | "guest"
  | "guestOps"
  | "target"
  | "ept"
  | "expect"
  | "handlerArms"
  | "guestArms"
  /** `hypervisor NAME on VMCS { handler REASON { … } … }`: L1's handlers (nested virtualization). */
  | "hypervisor";

/** A statement starts with its keyword: the keyword's span is `keywordSpanOf(statement)`. */
export interface Statement extends Span {
  kind: "Statement";
  /** As written (an identifier is exactly its text, so it ends at `start + keyword.length`). */
  keyword: string;
  /** Items in order; commas are separators and not kept. */
  items: Item[];
  body?: Block;
  /** False when the keyword is not a statement of its block (already diagnosed). */
  known: boolean;
}

/** One arm of `branch { P% [LABEL:] OPS … }`. */
export interface Arm extends Span {
  kind: "Arm";
  probability: Value;
  label?: Ident;
  statements: Statement[];
}

/** One line of an `ept { … }` block: `RANGE PERMS`. A single address means its 4 KiB page. */
export interface EptEntry extends Span {
  kind: "EptEntry";
  range: RangeLit | NumberLit;
  perms: Ident[];
}

/** One budget in `expect G { METRIC < VALUE … }`: metric words, comparator, limit. */
export interface Budget extends Span {
  kind: "Budget";
  /** `overhead`, `exits EPT_MISCONFIG`, `p99 irq_latency`. */
  metric: Ident[];
  comparator?: PunctLit;
  value?: Value;
}

export type BlockEntry = Statement | Arm | EptEntry | Budget;

/** The keyword each declaration starts with. */
const DECL_KEYWORDS = {
  Target: "target",
  Vmcs: "vmcs",
  Handler: "handler",
  Fn: "fn",
  Guest: "guest",
  Expect: "expect",
  Simulate: "simulate",
  Hypervisor: "hypervisor",
} as const;

/**
 * The span of a statement's or a declaration's keyword. Both start with their keyword, so the
 * span is made on demand (for a diagnostic) instead of being stored in every node.
 */
export function keywordSpanOf(node: Statement | Decl): Span {
  const keyword = node.kind === "Statement" ? node.keyword : DECL_KEYWORDS[node.kind];
  return { start: node.start, end: node.start + keyword.length };
}

/** `{ … }`: it starts at its `{`; when `closed`, it ends just after its `}`. */
export interface Block extends Span {
  kind: "Block";
  context: BlockContext;
  entries: BlockEntry[];
  /** False when the `}` is missing (diagnosed); the block then ends at its last entry. */
  closed: boolean;
}

type DeclBase = Span;

export interface TargetDecl extends DeclBase {
  kind: "Target";
  profile?: Ident;
  /** After `@`. */
  frequency?: Value;
  body?: Block;
}

export interface VmcsDecl extends DeclBase {
  kind: "Vmcs";
  name?: Ident;
  /** `vmcs NAME nested { … }`: the span of `nested` (the VMCS L1 writes for its L2, vmcs12). */
  nested?: Span;
  body?: Block;
}

export interface HandlerDecl extends DeclBase {
  kind: "Handler";
  /** Exit-reason name, or a basic exit-reason number. */
  reason?: Ident | NumberLit;
  /**
   * The operand the handler is specialised by, as written between the reason and `{`
   * (`IA32_TSC_DEADLINE`, `port 0x3f8..0x3ff out`, `gpa 0xfebf0000..0xfebf0fff`, `nr 11`);
   * absent for the general handler. Lowering reads it (model/statements/handlerOperand.ts).
   */
  operand?: Item[];
  body?: Block;
}

export interface FnDecl extends DeclBase {
  kind: "Fn";
  name?: Ident;
  body?: Block;
}

export interface GuestDecl extends DeclBase {
  kind: "Guest";
  name?: Ident;
  onSpan?: Span;
  vmcs?: Ident;
  /** `guest NAME on VMCS in HYPERVISOR`: the span of `in` (nested virtualization). */
  inSpan?: Span;
  /** The L1 hypervisor that runs this L2 guest, as written after `in`. */
  hypervisor?: Ident;
  body?: Block;
}

export interface ExpectDecl extends DeclBase {
  kind: "Expect";
  guest?: Ident;
  body?: Block;
}

export interface SimulateDecl extends DeclBase {
  kind: "Simulate";
  guest?: Ident;
  duration?: Value;
  seed?: NumberLit;
}

/** `hypervisor NAME on VMCS { handler REASON { … } … }`: L1 and the VMCS L0 runs it with (vmcs01). */
export interface HypervisorDecl extends DeclBase {
  kind: "Hypervisor";
  name?: Ident;
  onSpan?: Span;
  vmcs?: Ident;
  body?: Block;
}

export type Decl =
  | TargetDecl
  | VmcsDecl
  | HandlerDecl
  | FnDecl
  | GuestDecl
  | ExpectDecl
  | SimulateDecl
  | HypervisorDecl;

export interface SourceFile extends Span {
  kind: "File";
  decls: Decl[];
}

export type Node = SourceFile | Decl | Block | BlockEntry | Item;
