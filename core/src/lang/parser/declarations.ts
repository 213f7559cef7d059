/**
 * The file and its top-level declarations. Each declaration keyword has one small function in
 * DECLARATIONS that parses what follows the keyword (the keyword itself is consumed, its start
 * offset passed in); parseFile dispatches on the table and reports what is left on the
 * declaration's line. To add a declaration: add its keyword to TOP_LEVEL_KEYWORDS
 * (core/src/lang/grammar.ts), its node to core/src/lang/ast.ts, and its function here.
 */
import type { Span } from "../../source";
import type { Decl, Ident, Item, NumberLit, SourceFile, Value } from "../ast";
import { TOP_LEVEL_KEYWORDS } from "../grammar";
import { expectBlock, parseBlock } from "./blocks";
import { describe, type Parser, spanOf } from "./cursor";
import { expectIdent, expectValue, numberLit, parseItem } from "./values";

/** Parses a declaration after its keyword; `start` is the keyword's start offset. */
export type DeclarationParser = (p: Parser, start: number) => Decl | undefined;

/** `target PROFILE [@ FREQUENCY] [{ … }]` */
function parseTarget(p: Parser, start: number): Decl {
  const profile = expectIdent(p, "a CPU profile name", "target");
  let frequency: Value | undefined;
  if (p.isPunct(p.peek(), "@")) {
    p.next();
    frequency = expectValue(p, "a frequency such as `2.1GHz`", "@");
  }
  const body = p.isPunct(p.peek(), "{") ? parseBlock(p, "target", 1) : undefined;
  return { kind: "Target", profile, frequency, body, start, end: p.lastEnd };
}

/** The words that may follow `vmcs NAME` before its block. */
const VMCS_MODIFIERS = ["nested"] as const;

/** `vmcs NAME [nested] { … }` (`nested`: the vmcs12 an L1 hypervisor writes for its L2) */
function parseVmcs(p: Parser, start: number): Decl {
  const name = expectIdent(p, "a name", "vmcs");
  let nested: Span | undefined;
  const modifier = p.peek();
  if (name !== undefined && modifier.kind === "ident" && !modifier.lineStart) {
    if (modifier.text === "nested") nested = spanOf(p.next());
    else {
      // A misspelt modifier (`nestd`): one located error with its did-you-mean fix, then the block.
      const { hint, fixes } = p.suggestion(modifier, VMCS_MODIFIERS);
      if (hint) {
        p.next();
        p.error(
          "TL011",
          `expected \`{\` or \`nested\` after \`vmcs ${name.name}\`, found ${p.found(modifier)}${hint}`,
          spanOf(modifier),
          fixes,
        );
      }
    }
  }
  const title = name ? `vmcs ${name.name}${nested ? " nested" : ""}` : "vmcs";
  const body = expectBlock(p, "vmcs", title);
  return { kind: "Vmcs", name, ...(nested ? { nested } : {}), body, start, end: p.lastEnd };
}

/** The most items a handler's operand takes (`port 0x3f8..0x3ff out`); more are left to TL011. */
const MAX_OPERAND_ITEMS = 4;

/**
 * `handler REASON [OPERAND] { … }` (REASON a name or an exit-reason number; OPERAND the items
 * up to `{` on the header's line: `IA32_TSC_DEADLINE`, `port 0x3f8..0x3ff`, `gpa A..B`, `nr 11`,
 * which lowering checks against the reason).
 */
function parseHandler(p: Parser, start: number): Decl {
  let reason: Ident | NumberLit | undefined;
  const token = p.peek();
  if (token.kind === "number" && !token.lineStart) reason = numberLit(p.next());
  else reason = expectIdent(p, "an exit reason such as `EPT_VIOLATION`", "handler");
  const operand: Item[] = [];
  if (reason !== undefined) {
    while (operand.length < MAX_OPERAND_ITEMS) {
      const next = p.peek();
      if (next.lineStart || (next.kind !== "ident" && next.kind !== "number")) break;
      const item = parseItem(p, false);
      if (item === undefined) break;
      operand.push(item);
    }
  }
  const words = operand.map((item) => p.text.slice(item.start, item.end)).join(" ");
  const title = reason
    ? `handler ${reason.kind === "Ident" ? reason.name : reason.text}${words ? ` ${words}` : ""}`
    : "handler";
  const body = expectBlock(p, "handler", title);
  return { kind: "Handler", reason, ...(operand.length > 0 ? { operand } : {}), body, start, end: p.lastEnd };
}

/** `fn NAME { … }` (a handler body) */
function parseFn(p: Parser, start: number): Decl {
  const name = expectIdent(p, "a name", "fn");
  const body = expectBlock(p, "handler", name ? `fn ${name.name}` : "fn");
  return { kind: "Fn", name, body, start, end: p.lastEnd };
}

/** The words that may follow `guest NAME on VMCS` before its block. */
const GUEST_MODIFIERS = ["in"] as const;

/**
 * `guest NAME on VMCS [in HYPERVISOR] { … }` (`in`: the L1 hypervisor that runs this L2 guest,
 * for a guest on a `vmcs … nested`; lowering checks it, model/statements/nested.ts)
 */
function parseGuest(p: Parser, start: number): Decl {
  const name = expectIdent(p, "a name", "guest");
  let onSpan: Span | undefined;
  let vmcs: Ident | undefined;
  let inSpan: Span | undefined;
  let hypervisor: Ident | undefined;
  const on = p.peek();
  if (on.kind === "ident" && on.text === "on" && !on.lineStart) {
    onSpan = spanOf(p.next());
    vmcs = expectIdent(p, "a vmcs name", "on");
  } else if (name !== undefined) {
    p.error("TL011", `expected \`on VMCS\` after \`guest ${name.name}\`, found ${p.found(on)}`, spanOf(on));
  }
  const modifier = p.peek();
  if (vmcs !== undefined && modifier.kind === "ident" && !modifier.lineStart) {
    if (modifier.text === "in") {
      inSpan = spanOf(p.next());
      hypervisor = expectIdent(p, "a hypervisor name (the L1 that runs this L2 guest)", "in");
    } else {
      // A misspelt `in` (`inn l1`): one located error with its did-you-mean fix, then the block.
      const { hint, fixes } = p.suggestion(modifier, GUEST_MODIFIERS);
      if (hint) {
        p.next();
        p.error(
          "TL011",
          `expected \`{\` or \`in HYPERVISOR\` after \`guest ${name?.name ?? ""} on ${vmcs.name}\`, found ${p.found(modifier)}${hint}`,
          spanOf(modifier),
          fixes,
        );
        if (p.peek().kind === "ident" && !p.peek().lineStart)
          hypervisor = expectIdent(p, "a hypervisor name", "in");
      }
    }
  }
  const body = expectBlock(p, "guest", name ? `guest ${name.name}` : "guest");
  return {
    kind: "Guest",
    name,
    onSpan,
    vmcs,
    ...(inSpan ? { inSpan } : {}),
    ...(hypervisor ? { hypervisor } : {}),
    body,
    start,
    end: p.lastEnd,
  };
}

/** `hypervisor NAME on VMCS { handler REASON { … } … }` (L1; VMCS is its vmcs01) */
function parseHypervisor(p: Parser, start: number): Decl {
  const name = expectIdent(p, "a name", "hypervisor");
  let onSpan: Span | undefined;
  let vmcs: Ident | undefined;
  const on = p.peek();
  if (on.kind === "ident" && on.text === "on" && !on.lineStart) {
    onSpan = spanOf(p.next());
    vmcs = expectIdent(p, "a vmcs name (the vmcs01 L0 runs it with)", "on");
  } else if (name !== undefined) {
    p.error(
      "TL011",
      `expected \`on VMCS\` after \`hypervisor ${name.name}\` (the vmcs01 L0 runs it with), found ${p.found(on)}`,
      spanOf(on),
    );
  }
  const body = expectBlock(p, "hypervisor", name ? `hypervisor ${name.name}` : "hypervisor");
  return { kind: "Hypervisor", name, onSpan, vmcs, body, start, end: p.lastEnd };
}

/** `expect GUEST { budgets }` */
function parseExpect(p: Parser, start: number): Decl {
  const guest = expectIdent(p, "a guest name", "expect");
  const body = expectBlock(p, "expect", guest ? `expect ${guest.name}` : "expect");
  return { kind: "Expect", guest, body, start, end: p.lastEnd };
}

/** `simulate GUEST for TIME [seed N]` (the two clauses in either order) */
function parseSimulate(p: Parser, start: number): Decl {
  const guest = expectIdent(p, "a guest name", "simulate");
  let duration: Value | undefined;
  let seed: NumberLit | undefined;
  let sawFor = false;
  while (true) {
    const token = p.peek();
    if (token.kind !== "ident" || token.lineStart) break;
    if (token.text === "for") {
      sawFor = true;
      p.next();
      duration = expectValue(p, "a duration such as `100ms`", "for");
    } else if (token.text === "seed") {
      p.next();
      const value = p.peek();
      if (value.kind === "number" && !value.lineStart) seed = numberLit(p.next());
      else p.error("TL011", `expected a seed number after \`seed\`, found ${p.found(value)}`, spanOf(value));
    } else break;
  }
  if (!sawFor && guest !== undefined) {
    p.error(
      "TL011",
      `expected \`for TIME\` after \`simulate ${guest.name}\`, found ${p.found(p.peek())}`,
      spanOf(p.peek()),
    );
  }
  return { kind: "Simulate", guest, duration, seed, start, end: p.lastEnd };
}

/** One parser per top-level keyword (test/parser.test.ts checks it covers TOP_LEVEL_KEYWORDS). */
export const DECLARATIONS: ReadonlyMap<string, DeclarationParser> = new Map<string, DeclarationParser>([
  ["target", parseTarget],
  ["vmcs", parseVmcs],
  ["handler", parseHandler],
  ["fn", parseFn],
  ["guest", parseGuest],
  ["expect", parseExpect],
  ["simulate", parseSimulate],
  ["hypervisor", parseHypervisor],
]);

/** The keywords as "expected a declaration (…)" lists them. */
const TOP_LEVEL_LIST = [...TOP_LEVEL_KEYWORDS].join(", ");

/** The file; with `visit`, each declaration goes to it instead of into `decls`. */
export function parseFile(p: Parser, visit?: (decl: Decl) => void): SourceFile {
  const decls: Decl[] = [];
  while (p.peek().kind !== "eof") {
    const token = p.peek();
    const start = p.pos;
    if (token.kind === "ident" && TOP_LEVEL_KEYWORDS.has(token.text)) {
      const keyword = token.text;
      const keywordStart = p.next().start;
      const decl = DECLARATIONS.get(keyword)?.(p, keywordStart);
      if (decl !== undefined) {
        if (visit === undefined) decls.push(decl);
        else visit(decl);
      }
      // Anything left on the declaration's line is an error.
      const after = p.peek();
      if (after.kind !== "eof" && !after.lineStart) {
        p.error("TL011", `unexpected ${describe(after)} after the \`${keyword}\` declaration`, spanOf(after));
        p.skipToTopLevel();
      }
    } else {
      const { hint, fixes } =
        token.kind === "ident" ? p.suggestion(token, TOP_LEVEL_KEYWORDS) : { hint: "", fixes: undefined };
      p.error(
        "TL010",
        `expected a declaration (${TOP_LEVEL_LIST}), found ${describe(token)}${hint}`,
        spanOf(token),
        fixes,
      );
      p.skipToTopLevel();
    }
    if (p.pos === start) p.next();
  }
  return { kind: "File", decls, start: 0, end: p.text.length };
}
