/**
 * VT-x facts live in core/src/vmx only (docs/ARCHITECTURE.md, "Where facts live"). This test
 * reads the engine's sources under core/src/analysis, core/src/sim, core/src/model and
 * core/src/trace with the TypeScript parser and fails on
 * - a hex literal (a mask, an MSR index, an address, an encoding: the shape VT-x facts take), and
 * - an exit-reason number used as one: an integer compared with, assigned to or passed as an exit
 *   reason (`code === 49`, `exitPlan(52)`, `const REASON_PAUSE = 40`, `const HLT = 12` (a name
 *   that is an exit reason's), `case 12:` in a switch on a reason, a number list named after exits).
 * Literals that are not VT-x facts are allowed by name below, each with its reason; an allowed
 * literal that disappears must leave the list (the list is checked both ways).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { exitReasonNames } from "../core/src/vmx/exitReasons";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCANNED = ["core/src/analysis", "core/src/sim", "core/src/model", "core/src/trace"];

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
  // core/src/trace: hashing of the importer's tables (algorithm constants).
  "core/src/trace/pairing.ts 0x811c9dc5": "FNV-1a offset basis (reason-name and detail-text hash)",
  "core/src/trace/pairing.ts 0x01000193": "FNV-1a prime (reason-name and detail-text hash)",
  "core/src/trace/pairing.ts 0x3fffffff": "keeps a hash within 30 bits (a small integer for the hash maps)",
  "core/src/trace/pairingBytes.ts 0x811c9dc5":
    "FNV-1a offset basis (pairing.ts's reason and detail hashes, on bytes)",
  "core/src/trace/pairingBytes.ts 0x01000193":
    "FNV-1a prime (pairing.ts's reason and detail hashes, on bytes)",
  "core/src/trace/pairingBytes.ts 0x3fffffff": "keeps a hash within 30 bits, as pairing.ts does",
  "core/src/trace/eventBytes.ts 0x9e3779b9": "golden-ratio seed of the prefix-template slot hash",
  "core/src/trace/eventBytes.ts 0x85ebca6b": "murmur3 multiplier of the prefix-template slot hash",
  "core/src/trace/stats.ts 0x9e3779b1": "golden-ratio multiplier of the RIP table's multiplicative hash",
  "core/src/trace/stats.ts 0x85ebca6b": "murmur3 finalizer multiplier of the RIP table's hash",
  // core/src/trace: reading and writing the trace text formats, not VT-x facts.
  "core/src/trace/details.ts 0x80000":
    "2^19 on the high 32-bit word: a hex value below 2^51 stays exact when multiplied by 4 (number keys)",
  "core/src/trace/events.ts 0x20": "ASCII case bit: `0X` reads as `0x` in a hex prefix",
  "core/src/trace/eventBytes.ts 0x20":
    "ASCII case bit: `0X` reads as `0x` in a hex prefix (events.ts's, on bytes)",
  "core/src/trace/eventBytes.ts 0x20202020":
    "four ASCII blanks as one 32-bit word (padding skipped by words)",
  "core/src/trace/eventBytes.ts 0x80000":
    "2^19 on the high 32-bit word: details.ts's below-2^51 bound, on bytes",
  "core/src/trace/exportNested.ts 0xffffffff81000000n":
    "made-up guest RIP base of the exported trace (RIPs are not simulated; docs/traces.md)",
  "core/src/trace/exportNested.ts 0xffffffffc0000000n": "made-up RIP base of L1's exits in a nested export",
  "core/src/trace/exportNested.ts 0x1_0000_0000n": "made-up vmcs12 address printed by kvm_nested_vmenter",
  "core/src/trace/exportNested.ts 0x10": "spacing of the made-up RIPs, one per exit source",
  // core/src/trace: table capacities and synthetic ids whose names merely contain REASON.
  "core/src/trace/pairing.ts 8": "REASONS_PER_FIRST_CHAR: reason texts tried in place, a lookup-table size",
  "core/src/trace/pairingState.ts 64": "DETAIL_KEYS_PER_REASON: a table capacity",
  "core/src/trace/pairingState.ts 1024": "RIPS_PER_REASON: a table capacity",
  "core/src/trace/pairingState.ts 512": "VCPU_REASON_HISTOGRAMS: a table capacity",
  "core/src/trace/timeline.ts 30_000":
    "UNKNOWN_REASON_BASE: synthetic timeline values above every VT-x and SVM code, for unnamed reasons",
  "core/src/trace/timeline.ts 1": "-1, the timeline's reason value of a guest (non-exit) interval",
  // core/src/trace/infer.ts: defaults of the program inferred from a trace (the .vmcs it writes).
  "core/src/trace/infer.ts 0x1000":
    "DEFAULT_FAULT_GPA: the guest address an EPT_VIOLATION op gets when the trace names none",
  "core/src/trace/infer.ts 0x7fff_ffff":
    "EPT_TOP: the top of the identity-mapped guest memory the inferred `ept` block grants (its layout)",
  "core/src/trace/infer.ts 0xfebf0000n":
    "the guest address an `mmio` op gets when an EPT_MISCONFIG row names none (a made-up device page)",
  "core/src/trace/infer.ts 0x80":
    "the port an `io` op gets when an IO_INSTRUCTION row names none (the PC's POST port)",
};

/** Names that say a value is an exit reason. */
const REASON_NAME = /(^|[^a-z])(code|reason|reasoncode|exitreason)s?$|REASON|EXIT_CODE|EXIT_REASON/i;
/** Exit-reason names (`HLT`, `EPT_VIOLATION`): a constant so named holds that reason's number. */
const EXIT_NAMES = new Set(exitReasonNames());
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
    if (REASON_NAME.test(name) || EXIT_NAMES.has(name)) return `assigned to ${name}`;
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
        "const HLT = 12; const WIDTH = 12;",
      ].join("\n"),
    );
    assert.deepEqual(
      findings.map((f) => `${f.line} ${f.literal}`),
      ["1 0x80n", "2 49", "3 40", "4 52", "5 12", "6 48", "6 44", "9 12"],
    );
  });

  it("core/src/analysis, core/src/sim, core/src/model and core/src/trace have none beyond the documented allow-list", () => {
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
