/**
 * VT-x facts live in core/src/vmx only (docs/ARCHITECTURE.md, "Where facts live"). This test
 * reads the engine's sources under core/src/analysis, core/src/sim and core/src/model with the
 * TypeScript parser and fails on
 * - a hex literal (a mask, an MSR index, an address, an encoding: the shape VT-x facts take), and
 * - an exit-reason number used as one: an integer compared with, assigned to or passed as an exit
 *   reason (`code === 49`, `exitPlan(52)`, `const REASON_PAUSE = 40`, `case 12:` in a switch on a
 *   reason, a number list named after exits).
 * Literals that are not VT-x facts are allowed by name below, each with its reason; an allowed
 * literal that disappears must leave the list (the list is checked both ways).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCANNED = ["core/src/analysis", "core/src/sim", "core/src/model"];

/** `file literal` → why it is not a VT-x fact (or where it will move, for files others own). */
const ALLOWED: Record<string, string> = {
  // Hashing and random numbers: algorithm constants.
  "core/src/analysis/exitLeaf.ts 0x811c9dc5": "FNV-1a offset basis (decision-signature hash)",
  "core/src/analysis/exitLeaf.ts 0x01000193": "FNV-1a prime (decision-signature hash)",
  "core/src/analysis/exitLeaf.ts 0x1_0000_0000": "2^32, splitting a double into two 32-bit hash inputs",
  "core/src/sim/rng.ts 0x9e3779b9": "splitmix32 golden-ratio increment",
  "core/src/sim/rng.ts 0x85ebca6b": "splitmix32 / murmur3 finalizer multiplier",
  "core/src/sim/rng.ts 0xc2b2ae35": "splitmix32 / murmur3 finalizer multiplier",
  "core/src/sim/rng.ts 0x27d4eb2d": "seed mixing multiplier",
  "core/src/sim/rng.ts 0x6a09e667": "seed mixing constant (SHA-256 initial hash word)",
  "core/src/sim/rng.ts 0xbb67ae85": "seed mixing constant (SHA-256 initial hash word)",
  "core/src/sim/rng.ts 0x3c6ef372": "seed mixing constant (SHA-256 initial hash word)",
  // IEEE-754 double layout (the histogram's bucket index reads the exponent bits).
  "core/src/sim/histogram.ts 0x3ff00000": "high word of the double 1.0 (endianness probe)",
  "core/src/sim/histogram.ts 0xfffff": "the 20 mantissa bits of a double's high word",
  // Argument ranges of the language (what a number in a .vmcs statement may be), not VT-x facts.
  "core/src/model/args.ts 0xffff": "range of a port argument: the 16-bit I/O address space",
  "core/src/model/args.ts 0xffffffff": "range of an MSR-number argument: ECX is 32 bits",
  "core/src/model/statements/guestOps.ts 0xffff": "range of the `io` port argument (16-bit I/O space)",
  "core/src/model/statements/guestOps.ts 0xffffffff": "range of an `exception` error-code argument (32 bits)",
  "core/src/model/statements/vmcsValues.ts 0xffffffffn":
    "32-bit range of the page-fault error-code mask and match",
  "core/src/model/statements/vmcsValues.ts 0xffffffff":
    "range of a 32-bit VMCS field written by a sugar statement",
  "core/src/model/statements/ept.ts 0xfffn":
    "a 4 KiB page's offset bits (the `ept` statement rounds to pages)",
};

/** Names that say a value is an exit reason. */
const REASON_NAME = /(^|[^a-z])(code|reason|reasoncode|exitreason)s?$|REASON|EXIT_CODE|EXIT_REASON/i;
/** Calls whose numeric argument is an exit reason. */
const REASON_CALL = /(exitReasonByCode|exitPlan|handlerCost|exitsWith|exitReason|\breason|handlers\.get)$/;

export interface Finding {
  file: string;
  line: number;
  literal: string;
  why: string;
}

function textOf(node: ts.Node, source: ts.SourceFile): string {
  return node.getText(source);
}

function isHex(text: string): boolean {
  return /^0[xX]/.test(text);
}

function isInteger(node: ts.Node): node is ts.NumericLiteral {
  return ts.isNumericLiteral(node) && /^\d+$/.test(node.text);
}

/** Why an integer literal reads as an exit-reason number, or undefined. */
function reasonUse(literal: ts.NumericLiteral, source: ts.SourceFile): string | undefined {
  let node: ts.Node = literal;
  while (ts.isParenthesizedExpression(node.parent) || ts.isPrefixUnaryExpression(node.parent))
    node = node.parent;
  const parent = node.parent;
  if (ts.isBinaryExpression(parent)) {
    const op = parent.operatorToken.kind;
    const comparison =
      op === ts.SyntaxKind.EqualsEqualsEqualsToken ||
      op === ts.SyntaxKind.ExclamationEqualsEqualsToken ||
      op === ts.SyntaxKind.EqualsEqualsToken ||
      op === ts.SyntaxKind.ExclamationEqualsToken ||
      op === ts.SyntaxKind.EqualsToken;
    const other = parent.left === node ? parent.right : parent.left;
    if (comparison && REASON_NAME.test(textOf(other, source).replace(/\W+$/, "")))
      return `compared with ${textOf(other, source)}`;
  }
  if (ts.isCallExpression(parent) && parent.arguments.includes(node as ts.Expression)) {
    const callee = textOf(parent.expression, source);
    if (REASON_CALL.test(callee)) return `passed to ${callee}`;
  }
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) && parent.initializer === node) {
    const name = textOf(parent.name, source);
    if (REASON_NAME.test(name)) return `assigned to ${name}`;
  }
  if (ts.isCaseClause(parent) && parent.expression === node) {
    const switched = textOf(parent.parent.parent.expression, source);
    if (REASON_NAME.test(switched)) return `a case of switch (${switched})`;
  }
  if (ts.isArrayLiteralExpression(parent)) {
    // A number list named after exits: `const MEMORY_EXIT_CODES = new Set([48, 49])`.
    let up: ts.Node = parent.parent;
    while (up && !ts.isVariableDeclaration(up) && !ts.isPropertyAssignment(up) && !ts.isSourceFile(up))
      up = up.parent;
    if (up && (ts.isVariableDeclaration(up) || ts.isPropertyAssignment(up))) {
      const name = textOf(up.name, source);
      if (/EXIT|REASON/i.test(name)) return `an element of ${name}`;
    }
  }
  return undefined;
}

/** Every hex literal and exit-reason number in one source text. */
export function scanSource(file: string, text: string): Finding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Finding[] = [];
  const add = (node: ts.Node, why: string) =>
    out.push({
      file,
      line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
      literal: textOf(node, source),
      why,
    });
  const visit = (node: ts.Node): void => {
    if ((ts.isNumericLiteral(node) || ts.isBigIntLiteral(node)) && isHex(textOf(node, source)))
      add(node, "hex literal");
    else if (isInteger(node)) {
      const why = reasonUse(node, source);
      if (why) add(node, `exit-reason number ${why}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

describe("VT-x facts live in core/src/vmx", () => {
  it("the scanner finds hex literals and exit-reason numbers (and not ordinary integers)", () => {
    const findings = scanSource(
      "example.ts",
      [
        "const MASK = 1n << 7n | 0x80n;",
        "if (plan.code === 49) stop();",
        "const REASON_PAUSE = 40;",
        "const p = exitPlan(52);",
        "switch (reason.code) { case 12: break; }",
        "const MEMORY_EXIT_CODES = new Set<number>([48, 44]);",
        "const n = 3; for (let i = 0; i < 10; i++) f(i * 2);",
        "const label = `MSR 0x1b`;",
      ].join("\n"),
    );
    assert.deepEqual(
      findings.map((f) => `${f.line} ${f.literal}`),
      ["1 0x80n", "2 49", "3 40", "4 52", "5 12", "6 48", "6 44"],
    );
  });

  it("core/src/analysis, core/src/sim and core/src/model have none beyond the documented allow-list", () => {
    const findings = SCANNED.flatMap((dir) =>
      sourceFiles(dir).map((file) => scanSource(file, readFileSync(join(ROOT, file), "utf8"))),
    ).flat();
    const unexplained = findings.filter((f) => ALLOWED[`${f.file} ${f.literal}`] === undefined);
    assert.deepEqual(
      unexplained.map((f) => `${f.file}:${f.line} ${f.literal} (${f.why})`),
      [],
      "move the fact into core/src/vmx (a named constant or a table row) and import it",
    );
    const seen = new Set(findings.map((f) => `${f.file} ${f.literal}`));
    const stale = Object.keys(ALLOWED).filter((key) => !seen.has(key));
    assert.deepEqual(stale, [], "allow-list entries whose literal is gone: remove them");
    assert.ok(relative(ROOT, join(ROOT, SCANNED[0]!)) === SCANNED[0]);
  });
});
