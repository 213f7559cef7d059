/**
 * The operand of a specialised handler (`handler MSR_WRITE IA32_TSC_DEADLINE { … }`,
 * `handler IO_INSTRUCTION port 0x3f8..0x3ff out { … }`, `handler EPT_MISCONFIG gpa A..B { … }`,
 * `handler VMCALL nr 11 { … }`; docs/language.md "Handlers by operand"), for L0's handlers and
 * a `hypervisor`'s alike: reading it against the reason (TL115), and the overlap check between
 * specialisations of one reason (TL116).
 */
import type { Item } from "../../lang/ast";
import type { Span } from "../../source";
import { EXIT_OPERANDS, type ExitOperandDef, exitOperandOf } from "../../vmx/exitOperands";
import { exitReasonByCode } from "../../vmx/exitReasons";
import type { ExitReasonDef } from "../../vmx/types";
import { integer, msrIndex, portRange, u64 } from "../args";
import { itemText, type LowerContext } from "../context";
import type { HandlerIR, HandlerOperand } from "../ir";

/** The words that introduce an operand (an MSR is written bare). */
const OPERAND_WORDS = new Set(["port", "gpa", "nr"]);

function spanOfItems(items: readonly Item[]): Span {
  return { start: items[0]!.start, end: items[items.length - 1]!.end };
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
const rangeLabel = (from: number | bigint, to: number | bigint): string =>
  from === to ? hex(from) : `${hex(from)}..${hex(to)}`;

/** "MSR_READ, MSR_WRITE (an MSR), IO_INSTRUCTION (`port`), …": the reasons that take an operand. */
function operandReasons(): string {
  const byWord = new Map<string, string[]>();
  for (const [code, def] of EXIT_OPERANDS) {
    const key = def.keyword === "" ? "an MSR" : `\`${def.keyword}\``;
    const names = byWord.get(key) ?? [];
    names.push(exitReasonByCode(code)?.name ?? String(code));
    byWord.set(key, names);
  }
  return [...byWord].map(([word, names]) => `${names.join(", ")} (${word})`).join("; ");
}

/**
 * The operand `items` give `reason`'s handler: undefined for none (the general handler), null
 * when they are wrong (diagnosed; the handler is then left out, so it neither runs nor hides
 * the unhandled-exit diagnostic of another operand).
 */
export function lowerHandlerOperand(
  ctx: LowerContext,
  reason: ExitReasonDef,
  items: readonly Item[] | undefined,
): HandlerOperand | null | undefined {
  if (items === undefined || items.length === 0) return undefined;
  const span = spanOfItems(items);
  const def = exitOperandOf(reason.code);
  const header = `handler ${reason.name}`;
  if (def === undefined) {
    ctx.error(
      "TL115",
      `\`${reason.name}\` exits carry no operand a handler can be specialised by (\`${items.map(itemText).join(" ")}\`); the reasons that do: ${operandReasons()}`,
      span,
      {
        fixes: [
          {
            title: `Make it the general ${reason.name} handler`,
            edits: [{ span: { start: items[0]!.start - 1, end: span.end }, newText: "" }],
            preferred: true,
          },
        ],
      },
    );
    return null;
  }
  const first = items[0]!;
  const word = first.kind === "Ident" && OPERAND_WORDS.has(first.name) ? first.name : "";
  if (word !== def.keyword) {
    const wanted = def.keyword === "" ? "an MSR name or number" : `\`${def.keyword}\` and ${def.what}`;
    ctx.error(
      "TL115",
      `${reason.name} handlers are specialised by ${def.what}: expected ${wanted} after \`${header}\`, found \`${itemText(first)}\``,
      first,
      { reference: def.source },
    );
    return null;
  }
  const rest = def.keyword === "" ? items : items.slice(1);
  const operand = readOperand(ctx, def, header, rest, first, span);
  if (operand === undefined) return null;
  return operand;
}

function tooMany(ctx: LowerContext, def: ExitOperandDef, item: Item, header: string): undefined {
  ctx.error("TL115", `unexpected \`${itemText(item)}\` in \`${header}\`: it takes ${def.what}`, item, {
    reference: def.source,
  });
  return undefined;
}

function readOperand(
  ctx: LowerContext,
  def: ExitOperandDef,
  header: string,
  rest: readonly Item[],
  at: Item,
  span: Span,
): HandlerOperand | undefined {
  const after = def.keyword === "" ? header : def.keyword;
  const value = rest[0];
  if (value === undefined) {
    ctx.error("TL201", `expected ${def.what} after \`${after}\``, at);
    return undefined;
  }
  switch (def.kind) {
    case "msr": {
      if (rest[1]) return tooMany(ctx, def, rest[1], header);
      const msr = msrIndex(ctx, value, header, value);
      if (msr === undefined) return undefined;
      const label = msr.name ?? hex(msr.index);
      return msr.name === undefined
        ? { kind: "msr", msr: msr.index, label, span }
        : { kind: "msr", msr: msr.index, name: msr.name, label, span };
    }
    case "port": {
      const range = portRange(ctx, value, "port");
      if (range === undefined) return undefined;
      const dir = rest[1];
      let direction: "in" | "out" | undefined;
      if (dir !== undefined) {
        if (dir.kind !== "Ident" || (dir.name !== "in" && dir.name !== "out")) {
          ctx.error(
            "TL115",
            `expected \`in\`, \`out\` or \`{\` after the port, found \`${itemText(dir)}\``,
            dir,
          );
          return undefined;
        }
        direction = dir.name;
        if (rest[2]) return tooMany(ctx, def, rest[2], header);
      }
      const label = `port ${rangeLabel(range[0], range[1])}${direction ? ` ${direction}` : ""}`;
      return direction === undefined
        ? { kind: "port", from: range[0], to: range[1], label, span }
        : { kind: "port", from: range[0], to: range[1], direction, label, span };
    }
    case "gpa": {
      if (rest[1]) return tooMany(ctx, def, rest[1], header);
      const bounds = gpaRange(ctx, value);
      if (bounds === undefined) return undefined;
      return {
        kind: "gpa",
        from: bounds[0],
        to: bounds[1],
        label: `gpa ${rangeLabel(bounds[0], bounds[1])}`,
        span,
      };
    }
    case "nr": {
      if (rest[1]) return tooMany(ctx, def, rest[1], header);
      const what = "a hypercall number (0–0xffffffff)";
      const from = value.kind === "Range" ? value.from : value;
      const to = value.kind === "Range" ? value.to : value;
      const a = integer(ctx, from, what, "nr", value, 0, 0xffffffff);
      const b = from === to ? a : integer(ctx, to, what, "nr", value, 0, 0xffffffff);
      if (a === undefined || b === undefined) return undefined;
      if (a > b) {
        ctx.error("TL209", `the range ${itemText(value)} ends before it starts`, value);
        return undefined;
      }
      return { kind: "nr", from: a, to: b, label: `nr ${a === b ? a : `${a}..${b}`}`, span };
    }
  }
}

function gpaRange(ctx: LowerContext, item: Item): [bigint, bigint] | undefined {
  const what = "a guest-physical address";
  if (item.kind === "Range") {
    const from = u64(ctx, item.from, what, "gpa", item);
    const to = u64(ctx, item.to, what, "gpa", item);
    if (from === undefined || to === undefined) return undefined;
    if (from > to) {
      ctx.error("TL209", `the range ${item.from.text}..${item.to.text} ends before it starts`, item);
      return undefined;
    }
    return [from, to];
  }
  const at = u64(ctx, item, what, "gpa", item);
  return at === undefined ? undefined : [at, at];
}

/** Whether two operands of one reason can match the same exit. */
export function operandsOverlap(a: HandlerOperand, b: HandlerOperand): boolean {
  switch (a.kind) {
    case "msr":
      return b.kind === "msr" && a.msr === b.msr;
    case "port":
      return (
        b.kind === "port" &&
        a.from <= b.to &&
        b.from <= a.to &&
        (a.direction === undefined || b.direction === undefined || a.direction === b.direction)
      );
    case "gpa":
      return b.kind === "gpa" && a.from <= b.to && b.from <= a.to;
    case "nr":
      return b.kind === "nr" && a.from <= b.to && b.from <= a.to;
  }
}

/**
 * Adds a specialised handler to `table` (its reason's list), or reports TL116 when it overlaps
 * one already there (the same MSR twice, two ranges sharing a port or an address): which of
 * the two an exit runs would depend on the order, so neither order is chosen.
 */
export function addOperandHandler(
  ctx: LowerContext,
  table: Map<number, HandlerIR[]>,
  handler: HandlerIR & { operand: HandlerOperand },
): void {
  const list = table.get(handler.reason.code) ?? [];
  for (const other of list) {
    if (other.operand === undefined || !operandsOverlap(other.operand, handler.operand)) continue;
    const same = other.operand.label === handler.operand.label;
    ctx.error(
      "TL116",
      same
        ? `duplicate handler ${handler.reason.name} ${handler.operand.label}`
        : `handler ${handler.reason.name} ${handler.operand.label} overlaps handler ${handler.reason.name} ${other.operand.label}: an exit in both would have two handlers`,
      handler.operand.span,
      {
        related: [
          { span: other.operand.span, message: `the handler ${handler.reason.name} ${other.operand.label}` },
        ],
      },
    );
    return;
  }
  list.push(handler);
  table.set(handler.reason.code, list);
}
