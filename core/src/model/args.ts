/**
 * The argument reader: every kind of statement argument the language has (an integer in a
 * range, a 64-bit value, a cost, a time, a rate, an exception vector, a port or port range, an
 * MSR, one word of a set, `WORD VALUE` pairs) read from a statement's items in one place, with
 * the "expected …" (TL201), wrong-dimension (TL202) and out-of-range (TL205, TL206, TL207)
 * diagnostics it implies. Statement lowerers (statements/) say which argument they want; the
 * words they accept are declared with the statement's shape in lang/grammar.ts, which the
 * parser and completion read too.
 */

import type { Ident, Item, NumberLit, Statement, Value } from "../lang/ast";
import { keywordSpanOf } from "../lang/ast";
import { DIMENSION_EXAMPLES, type Dimension, toBaseUnit, UNITS } from "../lang/units";
import type { CodeFix, Span } from "../source";
import { exceptionByMnemonic, exceptionMnemonics } from "../vmx/exceptions";
import { msrByIndex, msrByName, msrNames } from "../vmx/msrs";
import { bigOf, itemText, type LowerContext } from "./context";

/** Longest time accepted anywhere (a simulated year is already absurd for VM exits). */
const MAX_SECONDS = 365 * 24 * 3600;
/** Rates above this per vCPU are rejected: one event per nanosecond. */
const MAX_RATE = 1e9;
const MAX_U64 = (1n << 64n) - 1n;

const NO_FLAGS: readonly string[] = [];

export function dimensionOf(item: Item): Dimension | undefined {
  return item.kind === "Quantity" ? UNITS.get(item.unit)?.dimension : undefined;
}

/** A quantity in its dimension's base unit; undefined (already diagnosed) for unknown units. */
export function base(item: Value): number | undefined {
  if (item.kind === "Number") return item.value;
  return toBaseUnit(item.value, item.unit);
}

/** "`a`, `b` or `c`": a set of words as a message lists them. */
export function alternatives(words: readonly string[]): string {
  const quoted = words.map((w) => `\`${w}\``);
  return quoted.length < 2 ? quoted.join("") : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
}

function checkSeconds(ctx: LowerContext, seconds: number, span: Span, what: string): number | undefined {
  if (!(seconds >= 0) || !Number.isFinite(seconds)) {
    ctx.error("TL207", `${what} must not be negative`, span);
    return undefined;
  }
  if (seconds > MAX_SECONDS) {
    ctx.error("TL207", `${what} of ${seconds.toExponential(2)} s is longer than a year`, span);
    return undefined;
  }
  return seconds;
}

/** Cycles from a bare number (cycles) or a time (converted at the target frequency). */
export function cycles(ctx: LowerContext, item: Item | undefined, statement: Statement): number | undefined {
  if (item === undefined) {
    ctx.error(
      "TL201",
      `expected a cost in cycles or a time after \`${statement.keyword}\``,
      keywordSpanOf(statement),
    );
    return undefined;
  }
  if (item.kind === "Number") {
    if (item.value < 0) {
      ctx.error("TL205", `a cost must not be negative`, item);
      return undefined;
    }
    if (item.value / ctx.target.hz > MAX_SECONDS) {
      ctx.error("TL207", `${item.text} cycles is longer than a year at the target frequency`, item);
      return undefined;
    }
    return item.value;
  }
  if (item.kind === "Quantity") {
    const dimension = dimensionOf(item);
    if (dimension === undefined) return undefined; // unknown unit, reported by the lexer
    if (dimension !== "time") {
      ctx.error(
        "TL202",
        `expected a cost in cycles or a time (\`900\`, \`3us\`), found ${DIMENSION_EXAMPLES[dimension].replace(/ such as.*/, "")} \`${item.text}\``,
        item,
      );
      return undefined;
    }
    const seconds = checkSeconds(ctx, base(item)!, item, "a time");
    return seconds === undefined ? undefined : Math.round(seconds * ctx.target.hz);
  }
  ctx.wrongItem(item, "a cost in cycles or a time", statement.keyword);
  return undefined;
}

/** A time greater than zero, in seconds. */
export function seconds(
  ctx: LowerContext,
  item: Item | undefined,
  after: string,
  at: Span,
): number | undefined {
  if (item === undefined) {
    ctx.error("TL201", `expected a time such as \`100ms\` after \`${after}\``, at);
    return undefined;
  }
  if (item.kind === "Quantity" && dimensionOf(item) === "time") {
    const seconds = checkSeconds(ctx, base(item)!, item, "a time");
    if (seconds === 0) {
      ctx.error("TL207", "the time must be greater than zero", item);
      return undefined;
    }
    return seconds;
  }
  if (item.kind === "Quantity" && dimensionOf(item) === undefined) return undefined;
  ctx.error(
    "TL202",
    `expected a time such as \`100ms\` after \`${after}\`, found \`${itemText(item)}\``,
    item,
  );
  return undefined;
}

/** The period of a periodic source: a time whose rate (1 / period) TL206 bounds as rates are. */
export function period(
  ctx: LowerContext,
  item: Item | undefined,
  after: string,
  at: Span,
): number | undefined {
  const value = seconds(ctx, item, after, at);
  if (value === undefined || value >= 1 / MAX_RATE) return value;
  ctx.error(
    "TL206",
    `period \`${itemText(item!)}\` is shorter than 1ns: above 1G/s per vCPU, not a plausible workload`,
    item!,
  );
  return undefined;
}

/** Events per second from a rate (`100k/s`) or a frequency (`250Hz`). */
export function rate(ctx: LowerContext, item: Item | undefined, after: string, at: Span): number | undefined {
  if (item === undefined) {
    ctx.error("TL201", `expected a rate such as \`100k/s\` after \`${after}\``, at);
    return undefined;
  }
  if (item.kind === "Quantity") {
    const dimension = dimensionOf(item);
    if (dimension === undefined) return undefined;
    if (dimension === "rate" || dimension === "frequency") {
      const perSecond = base(item)!;
      if (!(perSecond > 0)) {
        ctx.error("TL206", `a rate must be greater than zero, found \`${item.text}\``, item);
        return undefined;
      }
      if (perSecond > MAX_RATE) {
        ctx.error(
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
  ctx.error(
    "TL202",
    `expected a rate such as \`100k/s\` or \`250Hz\` after \`${after}\`, found \`${itemText(item)}\``,
    item,
    { fixes: fix },
  );
  return undefined;
}

/** An integer literal, or undefined (diagnosed: missing at `at`, or not an integer). */
function integerLiteral(
  ctx: LowerContext,
  item: Item | undefined,
  what: string,
  after: string,
  at: Span,
): NumberLit | undefined {
  if (item === undefined) {
    ctx.error("TL201", `expected ${what} after \`${after}\``, at);
    return undefined;
  }
  if (item.kind !== "Number" || !item.integer) {
    ctx.error("TL201", `expected ${what} after \`${after}\`, found \`${itemText(item)}\``, item);
    return undefined;
  }
  return item;
}

/** An integer in [min, max]; `at` is where a missing one is reported. */
export function integer(
  ctx: LowerContext,
  item: Item | undefined,
  what: string,
  after: string,
  at: Span,
  min: number,
  max: number,
): number | undefined {
  const literal = integerLiteral(ctx, item, what, after, at);
  if (literal === undefined) return undefined;
  return inRange(ctx, literal, what, min, max);
}

function inRange(
  ctx: LowerContext,
  item: NumberLit,
  what: string,
  min: number,
  max: number,
): number | undefined {
  if (item.value < min || item.value > max) {
    ctx.error("TL205", `${what} must be between ${min} and ${max}, found ${item.text}`, item);
    return undefined;
  }
  return item.value;
}

/** A 64-bit unsigned value (addresses, MSR and field values). */
export function u64(
  ctx: LowerContext,
  item: Item | undefined,
  what: string,
  after: string,
  at: Span,
): bigint | undefined {
  const literal = integerLiteral(ctx, item, what, after, at);
  if (literal === undefined) return undefined;
  const value = bigOf(literal);
  if (value === undefined) return undefined;
  if (value < 0n) {
    ctx.error("TL205", `${what} must not be negative`, literal);
    return undefined;
  }
  return value > MAX_U64 ? undefined : value;
}

export function address(
  ctx: LowerContext,
  item: Item | undefined,
  after: string,
  at: Span,
): bigint | undefined {
  return u64(ctx, item, "a guest-physical address", after, at);
}

/** How `choice` words its diagnostics. */
export interface ChoiceMessages {
  /** The noun of an unknown word (TL114 with did-you-mean); without it, any other word is TL201. */
  unknown?: string;
  /** What a wrong item is reported as expecting (default: the words, "`a`, `b` or `c`"). */
  expected?: string;
  /** What a missing item is reported as expecting (default: `expected`). */
  missing?: string;
}

/**
 * One word of `words` (`apic x2apic|xapic`, `msr trap read|write|rw`): the word, or undefined
 * (diagnosed: missing at `at`, an unknown word, or an item that is not a word).
 */
export function choice<W extends string>(
  ctx: LowerContext,
  item: Item | undefined,
  words: readonly W[],
  after: string,
  at: Span,
  messages: ChoiceMessages,
): W | undefined {
  if (item?.kind === "Ident" && (words as readonly string[]).includes(item.name)) return item.name as W;
  const expected = messages.expected ?? alternatives(words);
  if (item === undefined)
    ctx.error("TL201", `expected ${messages.missing ?? expected} after \`${after}\``, at);
  else if (item.kind === "Ident" && messages.unknown !== undefined)
    ctx.unknown("TL114", messages.unknown, item, words);
  else ctx.wrongItem(item, expected, after);
  return undefined;
}

/**
 * A name (of a path, an irq, a fn, a VMCS field): the identifier, or undefined (diagnosed:
 * `missing` at `at`, or an item that is not an identifier).
 */
export function identifier(
  ctx: LowerContext,
  item: Item | undefined,
  after: string,
  at: Span,
  messages: { expected: string; missing?: string },
): Ident | undefined {
  if (item?.kind === "Ident") return item;
  if (item === undefined)
    ctx.error("TL201", `expected ${messages.missing ?? messages.expected} after \`${after}\``, at);
  else ctx.wrongItem(item, messages.expected, after);
  return undefined;
}

/**
 * `KEYWORD NAME = VALUE` (`field`, and the target's `msr` and `cost`): the name and the value
 * item, or undefined (diagnosed at the statement).
 */
export function assignment(
  ctx: LowerContext,
  statement: Statement,
  valueWord: string,
): { name: Ident; value: Item } | undefined {
  const [name, eq, value] = statement.items;
  if (name?.kind !== "Ident" || eq?.kind !== "Punct" || eq.text !== "=" || value === undefined) {
    ctx.error("TL201", `expected \`${statement.keyword} NAME = ${valueWord}\``, statement);
    return undefined;
  }
  return { name, value };
}

/**
 * `WORD VALUE WORD VALUE …` items (pf_error_code, cr0, ple, eptp, irq), from `firstItem` on:
 * word → value item, flag → null; undefined (diagnosed) at the first item that is neither.
 */
export function keywordArgs(
  ctx: LowerContext,
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
        ctx.unknown("TL114", `word in \`${statement.keyword}\``, item, [...allowed, ...flags]);
      else ctx.wrongItem(item, allowed.map((a) => `\`${a}\``).join(" or "), statement.keyword);
      return undefined;
    }
    const value = items[i + 1];
    if (value === undefined) {
      ctx.error("TL201", `expected a value after \`${item.name}\``, item);
      return undefined;
    }
    out.set(item.name, value);
    i++;
  }
  return out;
}

/** An exception vector by mnemonic (`#PF`) or number (0–maxVector); a missing one is reported at `at`. */
export function exceptionVector(
  ctx: LowerContext,
  item: Item | undefined,
  after: string,
  maxVector: number,
  at?: Span,
): number | undefined {
  if (item === undefined) {
    if (at !== undefined) ctx.error("TL201", `expected an exception vector after \`${after}\``, at);
    return undefined;
  }
  if (item.kind === "Exception") {
    const exception = exceptionByMnemonic(item.mnemonic);
    if (exception === undefined) {
      ctx.unknown(
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
    return integer(ctx, item, `an exception vector (0–${maxVector})`, after, item, 0, maxVector);
  }
  ctx.wrongItem(item, "an exception vector (`#PF` or a number)", after);
  return undefined;
}

/** A port (`0x60`) or an inclusive port range (`0x3f8..0x3ff`). */
export function portRange(ctx: LowerContext, item: Item, after: string): [number, number] | undefined {
  if (item.kind === "Number") {
    const port = integer(ctx, item, "a port (0–0xffff)", after, item, 0, 0xffff);
    return port === undefined ? undefined : [port, port];
  }
  if (item.kind === "Range") {
    const first = integer(ctx, item.from, "a port (0–0xffff)", after, item, 0, 0xffff);
    const last = integer(ctx, item.to, "a port (0–0xffff)", after, item, 0, 0xffff);
    if (first === undefined || last === undefined) return undefined;
    if (first > last) {
      ctx.error("TL209", `the range ${item.from.text}..${item.to.text} ends before it starts`, item);
      return undefined;
    }
    return [first, last];
  }
  ctx.wrongItem(item, "a port or a port range (`0x3f8..0x3ff`)", after);
  return undefined;
}

/** An MSR by name or number; undefined (diagnosed) when unknown, or missing (reported at `at`). */
export function msrIndex(
  ctx: LowerContext,
  item: Item | undefined,
  after: string,
  at?: Span,
): { index: number; name?: string } | undefined {
  if (item === undefined) {
    if (at !== undefined) ctx.error("TL201", `expected an MSR name or number after \`${after}\``, at);
    return undefined;
  }
  if (item.kind === "Ident") {
    const msr = msrByName(item.name);
    if (msr === undefined) {
      ctx.unknown("TL107", "MSR", item, msrNames());
      return undefined;
    }
    return { index: msr.index, name: msr.name };
  }
  if (item.kind === "Number") {
    const index = integer(ctx, item, "an MSR number (0–0xffffffff)", after, item, 0, 0xffffffff);
    if (index === undefined) return undefined;
    return { index, name: msrByIndex(index)?.name };
  }
  ctx.wrongItem(item, "an MSR name or number", after);
  return undefined;
}
