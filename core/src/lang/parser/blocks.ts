/**
 * Blocks and what they hold: statements (extent from the statement shapes of grammar.ts),
 * probability arms (`50% label: …`), EPT entries and budgets, with the block-level recovery
 * (resynchronise on newlines and `}`; a line starting with a top-level keyword closes an
 * unclosed block; nesting capped at MAX_BLOCK_DEPTH).
 */
import type {
  Arm,
  Block,
  BlockContext,
  BlockEntry,
  Budget,
  EptEntry,
  Ident,
  Item,
  NumberLit,
  PunctLit,
  QuantityLit,
  RangeLit,
  Statement,
  Value,
} from "../ast";
import { ARM_OPS, CONTEXT_NOUN, STATEMENTS, type StatementShape, TOP_LEVEL_KEYWORDS } from "../grammar";
import { describe, MAX_BLOCK_DEPTH, type Parser, spanOf } from "./cursor";
import { expectValue, parseItem } from "./values";

export function expectBlock(p: Parser, context: BlockContext, title: string): Block | undefined {
  const token = p.peek();
  if (p.isPunct(token, "{")) return parseBlock(p, context, 1);
  p.error("TL011", `expected \`{\` after \`${title}\`, found ${p.found(token)}`, spanOf(token));
  return undefined;
}

/** At `{`. */
export function parseBlock(p: Parser, context: BlockContext, depth: number): Block {
  const openToken = p.next();
  const start = openToken.start;
  if (depth > MAX_BLOCK_DEPTH) {
    p.error(
      "TL013",
      `blocks are nested more than ${MAX_BLOCK_DEPTH} deep; this block is skipped`,
      spanOf(openToken),
    );
    const close = p.skipBalanced(1);
    return { kind: "Block", context, entries: [], closed: close !== undefined, start, end: p.lastEnd };
  }
  const base = p.scratchTop;
  let closed = false;
  const armOps = ARM_OPS[context];
  while (true) {
    const token = p.peek();
    if (p.isPunct(token, "}")) {
      p.next();
      closed = true;
      break;
    }
    // `handler` inside `hypervisor { … }` is the block's statement, not the next declaration.
    if (token.kind === "eof" || (p.isTopLevelLineStart(token) && !STATEMENTS[context]?.has(token.text))) {
      p.error(
        "TL012",
        token.kind === "eof"
          ? "this `{` is never closed: expected `}` before the end of the file"
          : `this \`{\` is never closed: expected \`}\` before \`${token.text}\``,
        { start, end: start + 1 },
      );
      break;
    }
    const before = p.pos;
    let entry: BlockEntry | undefined;
    if (armOps !== undefined) entry = parseArm(p, armOps, depth);
    else if (context === "ept") entry = parseEptEntry(p);
    else if (context === "expect") entry = parseBudget(p);
    else entry = parseStatement(p, context, depth, false);
    if (entry !== undefined) p.pushScratch(entry);
    if (p.pos === before) p.next();
  }
  const entries = p.collect<BlockEntry>(base);
  return { kind: "Block", context, entries, closed, start, end: p.lastEnd };
}

function parseStatement(
  p: Parser,
  context: BlockContext,
  depth: number,
  inArm: boolean,
): Statement | undefined {
  const table = STATEMENTS[context]!;
  const keywordToken = p.peek();
  if (keywordToken.kind !== "ident") {
    p.error(
      "TL014",
      `expected ${CONTEXT_NOUN[context]}, found ${describe(keywordToken)}`,
      spanOf(keywordToken),
    );
    p.next();
    p.skipLine(inArm);
    return undefined;
  }
  const shape = table.get(keywordToken.text);
  if (shape === undefined) {
    const { hint, fixes } = p.suggestion(keywordToken, table.keys());
    p.error(
      "TL014",
      `unknown ${CONTEXT_NOUN[context].replace(/^an? /, "")} \`${keywordToken.text}\`${hint}`,
      spanOf(keywordToken),
      fixes,
    );
    // The token object is recycled by the scanner: keep its text and span.
    const keyword = keywordToken.text;
    const start = keywordToken.start;
    p.next();
    const base = p.scratchTop;
    // Keep what follows on the line as items (for completion), without further messages.
    while (true) {
      const token = p.peek();
      if (token.kind === "eof" || token.lineStart || p.isPunct(token, "}")) break;
      if (token.kind === "ident" && table.has(token.text)) break;
      if (inArm && token.kind === "quantity" && token.unit === "%") break;
      if (p.isPunct(token, "{")) {
        p.skipBalanced();
        break;
      }
      const item = parseItem(p, true);
      if (item !== undefined) p.pushScratch(item);
    }
    return {
      kind: "Statement",
      keyword,
      items: p.collect<Item>(base),
      // Same fields in the same order as a known statement: one object shape for the tree's
      // most common node keeps property reads monomorphic.
      body: undefined,
      known: false,
      start,
      end: p.lastEnd,
    };
  }
  return parseKnownStatement(p, context, table, shape, depth, inArm);
}

/** Blocks of operations, several on a line: a surplus word there starts the next operation. */
const OPERATION_CONTEXTS: ReadonlySet<BlockContext> = new Set<BlockContext>(["guestOps", "handler"]);

function parseKnownStatement(
  p: Parser,
  context: BlockContext,
  table: ReadonlyMap<string, StatementShape>,
  shape: StatementShape,
  depth: number,
  inArm: boolean,
): Statement {
  const keywordToken = p.next();
  // The token object is recycled by the scanner: keep its text and start.
  const keyword = keywordToken.text;
  const start = keywordToken.start;
  const base = p.scratchTop;
  let body: Block | undefined;
  while (true) {
    const token = p.peek();
    if (token.kind === "eof" || p.isPunct(token, "}")) break;
    if (p.isPunct(token, "{")) {
      if (shape.body !== undefined) {
        body = parseBlock(p, shape.body, depth + 1);
      } else {
        p.error("TL011", `expected ${shape.expects} after \`${keyword}\`, found \`{\``, spanOf(token));
        p.skipBalanced();
      }
      break;
    }
    if (token.lineStart) {
      const continues =
        shape.list === true &&
        !(token.kind === "ident" && (table.has(token.text) || TOP_LEVEL_KEYWORDS.has(token.text))) &&
        token.kind !== "punct";
      if (!continues) break;
    } else if (
      token.kind === "ident" &&
      table.has(token.text) &&
      !(p.scratchTop - base < shape.maxItems && shape.subwords?.includes(token.text))
    ) {
      // A keyword where the statement's name goes (`path ipi rate …`): say so, and keep it as
      // the name so the rest of the line stays this statement's (one message, no cascade).
      if (!(p.scratchTop === base && shape.expects.startsWith("a name"))) break;
      p.error(
        "TL011",
        `\`${token.text}\` is a keyword and cannot name ${/^[aeiou]/.test(keyword) ? "an" : "a"} \`${keyword}\`; choose another name (e.g. \`${token.text}_${keyword}\`)`,
        spanOf(token),
      );
    }
    if (inArm && token.kind === "quantity" && token.unit === "%") break;
    if (p.isPunct(token, ",")) {
      p.next();
      continue;
    }
    if (p.scratchTop - base >= shape.maxItems) {
      if (shape.maxItems === 0) break;
      // A word after a complete operation on the same line (`compute 3us frobnicate`) is the next
      // operation, misspelt: end this one so the block reports an unknown operation there,
      // rather than blaming `compute` (issue #12).
      if (token.kind === "ident" && shape.body === undefined && OPERATION_CONTEXTS.has(context)) break;
      // Too many items: report once and drop the rest of the line.
      p.error("TL011", `unexpected ${describe(token)}: \`${keyword}\` takes ${shape.expects}`, spanOf(token));
      if (shape.body === undefined) {
        p.skipLine(inArm);
        break;
      }
      // A statement with a body: drop the extra items but keep its `{ … }` (skipping it too
      // would report a missing `{` on the next line and lose the body's statements).
      p.skipToBody(inArm);
      if (!p.isPunct(p.peek(), "{")) break;
      continue;
    }
    const item = parseItem(p, true);
    if (item !== undefined) p.pushScratch(item);
  }
  const items = p.collect<Item>(base);
  if (shape.body !== undefined && body === undefined) {
    p.error(
      "TL011",
      `expected \`{\` after \`${keyword}\` (it takes ${shape.expects}), found ${p.found(p.peek())}`,
      spanOf(p.peek()),
    );
  }
  const end = p.lastEnd;
  return {
    kind: "Statement",
    keyword,
    items,
    body,
    known: true,
    start,
    end,
  };
}

function parseArm(p: Parser, opsContext: BlockContext, depth: number): Arm | undefined {
  const token = p.peek();
  if (token.kind !== "quantity" || token.unit !== "%") {
    const message =
      token.kind === "number"
        ? `write the probability as a percentage (\`${token.text}%\`)`
        : `expected a probability arm such as \`50% label: …\`, found ${describe(token)}`;
    p.error("TL015", message, spanOf(token));
    p.next();
    p.skipLine(true);
    return undefined;
  }
  const start = token.start;
  p.next();
  const probability: QuantityLit = {
    kind: "Quantity",
    value: token.value,
    unit: token.unit,
    text: token.text,
    start: token.start,
    end: token.end,
  };
  let label: Ident | undefined;
  const maybeLabel = p.peek();
  if (maybeLabel.kind === "ident" && p.isPunct(p.peekSecond(), ":")) {
    label = { kind: "Ident", name: maybeLabel.text, start: maybeLabel.start, end: maybeLabel.end };
    p.next();
    p.next();
  }
  const base = p.scratchTop;
  while (true) {
    const next = p.peek();
    if (next.kind === "eof" || p.isPunct(next, "}") || p.isTopLevelLineStart(next)) break;
    if (next.kind === "quantity" && next.unit === "%") break;
    const before = p.pos;
    const statement = parseStatement(p, opsContext, depth, true);
    if (statement !== undefined) p.pushScratch(statement);
    if (p.pos === before) p.next();
  }
  const statements = p.collect<Statement>(base);
  return { kind: "Arm", probability, label, statements, start, end: p.lastEnd };
}

function parseEptEntry(p: Parser): EptEntry | undefined {
  const token = p.peek();
  if (token.kind !== "number") {
    p.error(
      "TL016",
      `expected a guest-physical range such as \`0x0 .. 0x7fff_ffff\` and permissions, found ${describe(token)}`,
      spanOf(token),
    );
    p.next();
    p.skipLine(false);
    return undefined;
  }
  const start = token.start;
  const range = parseItem(p, false) as RangeLit | NumberLit;
  const base = p.scratchTop;
  while (true) {
    const next = p.peek();
    if (next.kind !== "ident" || next.lineStart) break;
    p.pushScratch({ kind: "Ident", name: next.text, start: next.start, end: next.end } satisfies Ident);
    p.next();
  }
  const perms = p.collect<Ident>(base);
  if (perms.length === 0) {
    p.error(
      "TL016",
      `expected permissions (\`rwx\`, \`r\`, \`rw\`, \`none\`, \`misconfig\`, \`apic\`) after the range, found ${p.found(p.peek())}`,
      spanOf(p.peek()),
    );
  }
  return { kind: "EptEntry", range, perms, start, end: p.lastEnd };
}

function parseBudget(p: Parser): Budget | undefined {
  const first = p.peek();
  if (first.kind !== "ident") {
    p.error(
      "TL017",
      `expected a budget such as \`overhead < 20%\` or \`exits < 400k/s\`, found ${describe(first)}`,
      spanOf(first),
    );
    p.next();
    p.skipLine(false);
    return undefined;
  }
  const start = first.start;
  const metric: Ident[] = [];
  while (true) {
    const token = p.peek();
    if (token.kind !== "ident" || (metric.length > 0 && token.lineStart)) break;
    metric.push({ kind: "Ident", name: token.text, start: token.start, end: token.end });
    p.next();
  }
  const metricText = metric.map((m) => m.name).join(" ");
  const compare = p.peek();
  let comparator: PunctLit | undefined;
  let value: Value | undefined;
  if (
    compare.kind === "punct" &&
    (compare.text === "<" || compare.text === "<=" || compare.text === ">" || compare.text === ">=")
  ) {
    p.next();
    comparator = { kind: "Punct", text: compare.text, start: compare.start, end: compare.end };
    value = expectValue(p, "a limit", compare.text);
  } else {
    p.error(
      "TL017",
      `expected \`<\` or \`<=\` after \`${metricText}\`, found ${p.found(compare)}`,
      spanOf(compare),
    );
    p.skipLine(false);
  }
  return { kind: "Budget", metric, comparator, value, start, end: p.lastEnd };
}
