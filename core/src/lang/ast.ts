/**
 * The syntax tree. Every node has a precise `span`; declarations keep their keyword and name
 * spans; statements keep their keyword span and every item with its own span, so the language
 * server can append to a `proc` line, complete inside a list, or rename a single token.
 *
 * Statements are uniform (keyword + items + optional body) rather than one node type per
 * keyword: the parser knows each keyword's shape (grammar.ts) for extent and messages, and
 * lowering interprets the items. This keeps partial, erroneous input representable.
 */
import type { Span } from "../source";

export interface Ident {
  kind: "Ident";
  name: string;
  span: Span;
}

export interface NumberLit {
  kind: "Number";
  /** Numeric value (may be inexact beyond 2^53; use `integerValue` from the lexer for bigint). */
  value: number;
  /** Source text, e.g. `0xfebf_0000`. */
  text: string;
  integer: boolean;
  span: Span;
}

export interface QuantityLit {
  kind: "Quantity";
  /** The number part. */
  value: number;
  /** As written: `us`, `GHz`, `k/s`, `%`. */
  unit: string;
  text: string;
  span: Span;
}

export interface ExceptionLit {
  kind: "Exception";
  /** With the `#`: `#PF`. */
  mnemonic: string;
  span: Span;
}

export interface RangeLit {
  kind: "Range";
  from: NumberLit;
  to: NumberLit;
  span: Span;
}

/** `=`, `<`, `<=`, `:` and `@` kept as items where the grammar has them (`field X = 1`). */
export interface PunctLit {
  kind: "Punct";
  text: string;
  span: Span;
}

export type Value = NumberLit | QuantityLit;
export type Item = Ident | NumberLit | QuantityLit | ExceptionLit | RangeLit | PunctLit;

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
  | "guestArms";

export interface Statement {
  kind: "Statement";
  keyword: string;
  keywordSpan: Span;
  /** Items in order; commas are separators and not kept. */
  items: Item[];
  body?: Block;
  /** False when the keyword is not a statement of its block (already diagnosed). */
  known: boolean;
  span: Span;
}

/** One arm of `branch { P% [LABEL:] OPS … }`. */
export interface Arm {
  kind: "Arm";
  probability: Value;
  label?: Ident;
  statements: Statement[];
  span: Span;
}

/** One line of an `ept { … }` block: `RANGE PERMS`. A single address means its 4 KiB page. */
export interface EptEntry {
  kind: "EptEntry";
  range: RangeLit | NumberLit;
  perms: Ident[];
  span: Span;
}

/** One budget in `expect G { METRIC < VALUE … }`: metric words, comparator, limit. */
export interface Budget {
  kind: "Budget";
  /** `overhead`, `exits EPT_MISCONFIG`, `p99 irq_latency`. */
  metric: Ident[];
  comparator?: PunctLit;
  value?: Value;
  span: Span;
}

export type BlockEntry = Statement | Arm | EptEntry | Budget;

export interface Block {
  kind: "Block";
  context: BlockContext;
  entries: BlockEntry[];
  /** The `{`. */
  open: Span;
  /** The `}`; absent when the block is unclosed (diagnosed). */
  close?: Span;
  span: Span;
}

interface DeclBase {
  keywordSpan: Span;
  span: Span;
}

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
  body?: Block;
}

export interface HandlerDecl extends DeclBase {
  kind: "Handler";
  /** Exit-reason name, or a basic exit-reason number. */
  reason?: Ident | NumberLit;
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

export type Decl = TargetDecl | VmcsDecl | HandlerDecl | FnDecl | GuestDecl | ExpectDecl | SimulateDecl;

export interface SourceFile {
  kind: "File";
  decls: Decl[];
  span: Span;
}

export type Node = SourceFile | Decl | Block | BlockEntry | Item;
