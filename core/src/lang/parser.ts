/**
 * Hand-written recursive-descent parser with error recovery.
 *
 * Statement extent (docs/language.md, "Statements and lines"): a statement is its keyword
 * followed by items on the same line, up to the next keyword of the block, `{`, `}` or the end of
 * the line. List statements (`pin`/`proc`/… controls, `exceptions`, `io`, `msr`, `cr3_targets`)
 * continue on following lines whose first token cannot start a statement of the block.
 *
 * Recovery: a bad statement reports once and skips to the end of its line; inside blocks the
 * parser resynchronises on newlines and `}`; a line starting with a top-level keyword inside a
 * block closes the unclosed block; at top level it skips to the next line that starts with a
 * top-level keyword. Block nesting is capped (MAX_BLOCK_DEPTH) so no input overflows the stack.
 */
import type { CodeFix, Diagnostic, Span } from "../source";
import type {
  Arm,
  Block,
  BlockContext,
  BlockEntry,
  Budget,
  Decl,
  EptEntry,
  ExceptionLit,
  Ident,
  Item,
  NumberLit,
  PunctLit,
  QuantityLit,
  RangeLit,
  SourceFile,
  Statement,
  Value,
} from "./ast";
import { ARM_OPS, CONTEXT_NOUN, STATEMENTS, type StatementShape, TOP_LEVEL_KEYWORDS } from "./grammar";
import { lex, Scanner, type Token } from "./lexer";
import { closestMatch } from "./suggest";
import { UNITS } from "./units";

export interface ParseResult {
  /** The syntax tree root. */
  file: SourceFile;
  /** Every token (lexed on first access: the parser itself streams them). */
  readonly tokens: Token[];
  /** Lexical and syntax diagnostics. */
  diagnostics: Diagnostic[];
  text: string;
}

/** Deeper nesting than this (e.g. `repeat` in `repeat` …) is reported and skipped. */
export const MAX_BLOCK_DEPTH = 64;
/** Syntax diagnostics after this many are summarised in one. */
const MAX_SYNTAX_DIAGNOSTICS = 100;

const TOP_LEVEL_LIST = "target, vmcs, handler, fn, guest, expect, simulate";
/** Units that may be written (wrongly) after a space: `3 us`. */
const DETACHABLE_UNITS = new Set(["ns", "us", "ms", "s", "Hz", "kHz", "MHz", "GHz"]);

export function parse(text: string): ParseResult {
  // The parser copies what it keeps out of tokens, so the scanner may recycle them.
  const scanner = new Scanner(text, { reuseTokens: true });
  const parser = new Parser(text, scanner);
  const file = parser.parseFile();
  let tokens: Token[] | undefined;
  return {
    file,
    diagnostics: parser.diagnostics,
    text,
    get tokens(): Token[] {
      tokens ??= lex(text).tokens;
      return tokens;
    },
  };
}

/**
 * Parses the file one top-level declaration at a time, handing each to `visit` as soon as it
 * is parsed and keeping none: a caller that lowers each declaration and lets it go never has
 * the whole syntax tree alive at once (analyze does this). The declarations, and the
 * diagnostics returned, are exactly `parse(text)`'s.
 */
export function parseDeclarations(text: string, visit: (decl: Decl) => void): Diagnostic[] {
  const parser = new Parser(text, new Scanner(text, { reuseTokens: true }));
  parser.parseFile(visit);
  return parser.diagnostics;
}

function describe(token: Token): string {
  switch (token.kind) {
    case "eof":
      return "the end of the file";
    case "ident":
    case "punct":
    case "exception":
    case "number":
    case "quantity":
      return `\`${token.text}\``;
  }
}

function spanOf(token: Token): Span {
  return { start: token.start, end: token.end };
}

class Parser {
  /** Tokens consumed so far (progress checks compare it). */
  private pos = 0;
  /** Lookahead: at most two tokens (`label :` in arms needs the second). */
  private ahead0: Token | undefined;
  private ahead1: Token | undefined;
  /** End offset of the last consumed token. */
  private lastEnd = 0;
  private syntaxDiagnostics = 0;
  readonly diagnostics: Diagnostic[];
  /**
   * Shared stack the list-building loops push onto; each list is then copied out at its exact
   * length (`collect`). An array grown by `push` from empty keeps room for 17 elements, and the
   * syntax tree holds tens of thousands of short lists for the whole analysis.
   */
  private readonly scratch: unknown[] = [];
  /**
   * Entries in use on the scratch stack. The array itself never shrinks: setting `length`
   * lower makes V8 trim its backing store, and it grows again at the next list.
   */
  private scratchTop = 0;

  private pushScratch(entry: unknown): void {
    this.scratch[this.scratchTop++] = entry;
  }

  constructor(
    private readonly text: string,
    private readonly scanner: Scanner,
  ) {
    // Lexical and syntax diagnostics share one list, in the order they are found.
    this.diagnostics = scanner.diagnostics;
  }

  /** The scratch entries pushed since `base`, as an exact-size array; pops them. */
  private collect<T>(base: number): T[] {
    const scratch = this.scratch;
    const n = this.scratchTop - base;
    // Short lists as array literals: exact size, and V8 tracks literal allocation sites, so it
    // can allocate these long-lived arrays in the old generation directly (pretenuring)
    // instead of copying them in every young-generation collection.
    let out: unknown[];
    switch (n) {
      case 0:
        out = [];
        break;
      case 1:
        out = [scratch[base]];
        break;
      case 2:
        out = [scratch[base], scratch[base + 1]];
        break;
      case 3:
        out = [scratch[base], scratch[base + 1], scratch[base + 2]];
        break;
      case 4:
        out = [scratch[base], scratch[base + 1], scratch[base + 2], scratch[base + 3]];
        break;
      default:
        out = scratch.slice(base, this.scratchTop);
    }
    this.scratchTop = base;
    return out as T[];
  }

  // ---- token access -------------------------------------------------------------------------

  private peek(): Token {
    let token = this.ahead0;
    if (token === undefined) {
      token = this.scanner.next();
      this.ahead0 = token;
    }
    return token;
  }

  /** The token after the next one. */
  private peekSecond(): Token {
    const first = this.peek();
    if (first.kind === "eof") return first;
    let second = this.ahead1;
    if (second === undefined) {
      second = this.scanner.next();
      this.ahead1 = second;
    }
    return second;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== "eof") {
      this.ahead0 = this.ahead1;
      this.ahead1 = undefined;
      this.pos++;
      this.lastEnd = token.end;
    }
    return token;
  }

  private isPunct(token: Token, text: string): boolean {
    return token.kind === "punct" && token.text === text;
  }

  private isTopLevelLineStart(token: Token): boolean {
    return token.lineStart && token.kind === "ident" && TOP_LEVEL_KEYWORDS.has(token.text);
  }

  private error(code: string, message: string, span: Span, fixes?: CodeFix[]): void {
    this.syntaxDiagnostics++;
    if (this.syntaxDiagnostics > MAX_SYNTAX_DIAGNOSTICS) {
      if (this.syntaxDiagnostics === MAX_SYNTAX_DIAGNOSTICS + 1) {
        this.diagnostics.push({
          severity: "error",
          code: "TL000",
          message: `too many syntax errors; only the first ${MAX_SYNTAX_DIAGNOSTICS} are reported`,
          span,
        });
      }
      return;
    }
    const diagnostic: Diagnostic = { severity: "error", code, message, span };
    if (fixes !== undefined && fixes.length > 0) diagnostic.fixes = fixes;
    this.diagnostics.push(diagnostic);
  }

  /** A "did you mean" fix replacing `token` with the closest candidate, if any. */
  private suggestion(token: Token, candidates: Iterable<string>): { hint: string; fixes?: CodeFix[] } {
    const best = closestMatch(token.text, candidates);
    if (best === undefined) return { hint: "" };
    const hint = `; did you mean \`${best}\`?`;
    // A word glued to characters that cannot start a token (`sim\u{1F600}ulate`) is a fragment:
    // replacing it would leave the rest of the line to fail anew, so no fix, only the hint.
    const next = this.text.charCodeAt(token.end);
    if (token.end < this.text.length && !/[\s{}/,=:;.%#@-]/.test(String.fromCharCode(next))) return { hint };
    return {
      hint,
      fixes: [
        { title: `Change to \`${best}\``, edits: [{ span: spanOf(token), newText: best }], preferred: true },
      ],
    };
  }

  // ---- recovery -----------------------------------------------------------------------------

  /** Skips at least one token, then up to the next line that starts with a top-level keyword. */
  private skipToTopLevel(): void {
    this.next();
    while (true) {
      const token = this.peek();
      if (token.kind === "eof" || this.isTopLevelLineStart(token)) return;
      this.next();
    }
  }

  /** Skips the rest of the line (stopping before `}` and, in arms, before a probability). */
  private skipLine(inArm: boolean): void {
    while (true) {
      const token = this.peek();
      if (token.kind === "eof" || token.lineStart || this.isPunct(token, "}")) return;
      if (inArm && token.kind === "quantity" && token.unit === "%") return;
      if (this.isPunct(token, "{")) {
        this.skipBalanced();
        continue;
      }
      this.next();
    }
  }

  /** Skips the rest of the line up to a `{` on it (not consumed), like `skipLine` otherwise. */
  private skipToBody(inArm: boolean): void {
    while (true) {
      const token = this.peek();
      if (token.kind === "eof" || token.lineStart || this.isPunct(token, "}") || this.isPunct(token, "{"))
        return;
      if (inArm && token.kind === "quantity" && token.unit === "%") return;
      this.next();
    }
  }

  /**
   * At `{`: skips to its matching `}` by counting, without recursion. Stops early at a line that
   * starts with a top-level keyword (the block was never closed). Returns the `}` span if found.
   */
  private skipBalanced(alreadyOpen = 0): Span | undefined {
    let depth = alreadyOpen;
    while (true) {
      const token = this.peek();
      if (token.kind === "eof") return undefined;
      if (depth > 0 && this.isTopLevelLineStart(token)) return undefined;
      this.next();
      if (this.isPunct(token, "{")) depth++;
      else if (this.isPunct(token, "}")) {
        depth--;
        if (depth === 0) return spanOf(token);
      }
    }
  }

  // ---- file and declarations ----------------------------------------------------------------

  /** The file; with `visit`, each declaration goes to it instead of into `decls`. */
  parseFile(visit?: (decl: Decl) => void): SourceFile {
    const decls: Decl[] = [];
    while (this.peek().kind !== "eof") {
      const token = this.peek();
      const start = this.pos;
      if (token.kind === "ident" && TOP_LEVEL_KEYWORDS.has(token.text)) {
        const keyword = token.text;
        const decl = this.parseDecl(keyword);
        if (decl !== undefined) {
          if (visit === undefined) decls.push(decl);
          else visit(decl);
        }
        // Anything left on the declaration's line is an error.
        const after = this.peek();
        if (after.kind !== "eof" && !after.lineStart) {
          this.error(
            "TL011",
            `unexpected ${describe(after)} after the \`${keyword}\` declaration`,
            spanOf(after),
          );
          this.skipToTopLevel();
        }
      } else {
        const { hint, fixes } =
          token.kind === "ident"
            ? this.suggestion(token, TOP_LEVEL_KEYWORDS)
            : { hint: "", fixes: undefined };
        this.error(
          "TL010",
          `expected a declaration (${TOP_LEVEL_LIST}), found ${describe(token)}${hint}`,
          spanOf(token),
          fixes,
        );
        this.skipToTopLevel();
      }
      if (this.pos === start) this.next();
    }
    return { kind: "File", decls, start: 0, end: this.text.length };
  }

  private parseDecl(keyword: string): Decl | undefined {
    const keywordToken = this.next();
    const start = keywordToken.start;
    switch (keyword) {
      case "target": {
        const profile = this.expectIdent("a CPU profile name", "target");
        let frequency: Value | undefined;
        if (this.isPunct(this.peek(), "@")) {
          this.next();
          frequency = this.expectValue("a frequency such as `2.1GHz`", "@");
        }
        const body = this.isPunct(this.peek(), "{") ? this.parseBlock("target", 1) : undefined;
        return { kind: "Target", profile, frequency, body, start, end: this.lastEnd };
      }
      case "vmcs": {
        const name = this.expectIdent("a name", "vmcs");
        const body = this.expectBlock("vmcs", name ? `vmcs ${name.name}` : "vmcs");
        return { kind: "Vmcs", name, body, start, end: this.lastEnd };
      }
      case "handler": {
        let reason: Ident | NumberLit | undefined;
        const token = this.peek();
        if (token.kind === "number" && !token.lineStart) reason = this.numberLit(this.next());
        else reason = this.expectIdent("an exit reason such as `EPT_VIOLATION`", "handler");
        const title = reason ? `handler ${reason.kind === "Ident" ? reason.name : reason.text}` : "handler";
        const body = this.expectBlock("handler", title);
        return { kind: "Handler", reason, body, start, end: this.lastEnd };
      }
      case "fn": {
        const name = this.expectIdent("a name", "fn");
        const body = this.expectBlock("handler", name ? `fn ${name.name}` : "fn");
        return { kind: "Fn", name, body, start, end: this.lastEnd };
      }
      case "guest": {
        const name = this.expectIdent("a name", "guest");
        let onSpan: Span | undefined;
        let vmcs: Ident | undefined;
        const on = this.peek();
        if (on.kind === "ident" && on.text === "on" && !on.lineStart) {
          onSpan = spanOf(this.next());
          vmcs = this.expectIdent("a vmcs name", "on");
        } else if (name !== undefined) {
          this.error(
            "TL011",
            `expected \`on VMCS\` after \`guest ${name.name}\`, found ${this.found(on)}`,
            spanOf(on),
          );
        }
        const body = this.expectBlock("guest", name ? `guest ${name.name}` : "guest");
        return { kind: "Guest", name, onSpan, vmcs, body, start, end: this.lastEnd };
      }
      case "expect": {
        const guest = this.expectIdent("a guest name", "expect");
        const body = this.expectBlock("expect", guest ? `expect ${guest.name}` : "expect");
        return { kind: "Expect", guest, body, start, end: this.lastEnd };
      }
      case "simulate": {
        const guest = this.expectIdent("a guest name", "simulate");
        let duration: Value | undefined;
        let seed: NumberLit | undefined;
        let sawFor = false;
        while (true) {
          const token = this.peek();
          if (token.kind !== "ident" || token.lineStart) break;
          if (token.text === "for") {
            sawFor = true;
            this.next();
            duration = this.expectValue("a duration such as `100ms`", "for");
          } else if (token.text === "seed") {
            this.next();
            const value = this.peek();
            if (value.kind === "number" && !value.lineStart) seed = this.numberLit(this.next());
            else
              this.error(
                "TL011",
                `expected a seed number after \`seed\`, found ${this.found(value)}`,
                spanOf(value),
              );
          } else break;
        }
        if (!sawFor && guest !== undefined) {
          this.error(
            "TL011",
            `expected \`for TIME\` after \`simulate ${guest.name}\`, found ${this.found(this.peek())}`,
            spanOf(this.peek()),
          );
        }
        return { kind: "Simulate", guest, duration, seed, start, end: this.lastEnd };
      }
    }
    return undefined;
  }

  /** `describe`, but "the end of the line" for a token on a later line. */
  private found(token: Token): string {
    return token.lineStart && token.kind !== "eof" ? "the end of the line" : describe(token);
  }

  private expectIdent(what: string, after: string): Ident | undefined {
    const token = this.peek();
    if (token.kind === "ident" && !token.lineStart && !this.isPunct(token, "{")) {
      this.next();
      return { kind: "Ident", name: token.text, start: token.start, end: token.end };
    }
    this.error("TL011", `expected ${what} after \`${after}\`, found ${this.found(token)}`, spanOf(token));
    return undefined;
  }

  private expectValue(what: string, after: string): Value | undefined {
    const token = this.peek();
    if ((token.kind === "number" || token.kind === "quantity") && !token.lineStart) {
      const item = this.parseItem(false);
      if (item !== undefined && (item.kind === "Number" || item.kind === "Quantity")) return item;
      return undefined;
    }
    this.error("TL011", `expected ${what} after \`${after}\`, found ${this.found(token)}`, spanOf(token));
    return undefined;
  }

  private expectBlock(context: BlockContext, title: string): Block | undefined {
    const token = this.peek();
    if (this.isPunct(token, "{")) return this.parseBlock(context, 1);
    this.error("TL011", `expected \`{\` after \`${title}\`, found ${this.found(token)}`, spanOf(token));
    return undefined;
  }

  // ---- blocks -------------------------------------------------------------------------------

  /** At `{`. */
  private parseBlock(context: BlockContext, depth: number): Block {
    const openToken = this.next();
    const start = openToken.start;
    if (depth > MAX_BLOCK_DEPTH) {
      this.error(
        "TL013",
        `blocks are nested more than ${MAX_BLOCK_DEPTH} deep; this block is skipped`,
        spanOf(openToken),
      );
      const close = this.skipBalanced(1);
      return { kind: "Block", context, entries: [], closed: close !== undefined, start, end: this.lastEnd };
    }
    const base = this.scratchTop;
    let closed = false;
    const armOps = ARM_OPS[context];
    while (true) {
      const token = this.peek();
      if (this.isPunct(token, "}")) {
        this.next();
        closed = true;
        break;
      }
      if (token.kind === "eof" || this.isTopLevelLineStart(token)) {
        this.error(
          "TL012",
          token.kind === "eof"
            ? "this `{` is never closed: expected `}` before the end of the file"
            : `this \`{\` is never closed: expected \`}\` before \`${token.text}\``,
          { start, end: start + 1 },
        );
        break;
      }
      const before = this.pos;
      let entry: BlockEntry | undefined;
      if (armOps !== undefined) entry = this.parseArm(armOps, depth);
      else if (context === "ept") entry = this.parseEptEntry();
      else if (context === "expect") entry = this.parseBudget();
      else entry = this.parseStatement(context, depth, false);
      if (entry !== undefined) this.pushScratch(entry);
      if (this.pos === before) this.next();
    }
    const entries = this.collect<BlockEntry>(base);
    return { kind: "Block", context, entries, closed, start, end: this.lastEnd };
  }

  private parseStatement(context: BlockContext, depth: number, inArm: boolean): Statement | undefined {
    const table = STATEMENTS[context]!;
    const keywordToken = this.peek();
    if (keywordToken.kind !== "ident") {
      this.error(
        "TL014",
        `expected ${CONTEXT_NOUN[context]}, found ${describe(keywordToken)}`,
        spanOf(keywordToken),
      );
      this.next();
      this.skipLine(inArm);
      return undefined;
    }
    const shape = table.get(keywordToken.text);
    if (shape === undefined) {
      const { hint, fixes } = this.suggestion(keywordToken, table.keys());
      this.error(
        "TL014",
        `unknown ${CONTEXT_NOUN[context].replace(/^an? /, "")} \`${keywordToken.text}\`${hint}`,
        spanOf(keywordToken),
        fixes,
      );
      // The token object is recycled by the scanner: keep its text and span.
      const keyword = keywordToken.text;
      const start = keywordToken.start;
      this.next();
      const base = this.scratchTop;
      // Keep what follows on the line as items (for completion), without further messages.
      while (true) {
        const token = this.peek();
        if (token.kind === "eof" || token.lineStart || this.isPunct(token, "}")) break;
        if (token.kind === "ident" && table.has(token.text)) break;
        if (inArm && token.kind === "quantity" && token.unit === "%") break;
        if (this.isPunct(token, "{")) {
          this.skipBalanced();
          break;
        }
        const item = this.parseItem(true);
        if (item !== undefined) this.pushScratch(item);
      }
      return {
        kind: "Statement",
        keyword,
        items: this.collect<Item>(base),
        // Same fields in the same order as a known statement: one object shape for the tree's
        // most common node keeps property reads monomorphic.
        body: undefined,
        known: false,
        start,
        end: this.lastEnd,
      };
    }
    return this.parseKnownStatement(context, table, shape, depth, inArm);
  }

  private parseKnownStatement(
    context: BlockContext,
    table: ReadonlyMap<string, StatementShape>,
    shape: StatementShape,
    depth: number,
    inArm: boolean,
  ): Statement {
    const keywordToken = this.next();
    // The token object is recycled by the scanner: keep its text and start.
    const keyword = keywordToken.text;
    const start = keywordToken.start;
    const base = this.scratchTop;
    let body: Block | undefined;
    while (true) {
      const token = this.peek();
      if (token.kind === "eof" || this.isPunct(token, "}")) break;
      if (this.isPunct(token, "{")) {
        if (shape.body !== undefined) {
          body = this.parseBlock(shape.body, depth + 1);
        } else {
          this.error("TL011", `expected ${shape.expects} after \`${keyword}\`, found \`{\``, spanOf(token));
          this.skipBalanced();
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
        !(this.scratchTop - base < shape.maxItems && shape.subwords?.includes(token.text))
      ) {
        break;
      }
      if (inArm && token.kind === "quantity" && token.unit === "%") break;
      if (this.isPunct(token, ",")) {
        this.next();
        continue;
      }
      if (this.scratchTop - base >= shape.maxItems) {
        if (shape.maxItems === 0) break;
        // Too many items: report once and drop the rest of the line.
        this.error(
          "TL011",
          `unexpected ${describe(token)}: \`${keyword}\` takes ${shape.expects}`,
          spanOf(token),
        );
        if (shape.body === undefined) {
          this.skipLine(inArm);
          break;
        }
        // A statement with a body: drop the extra items but keep its `{ … }` (skipping it too
        // would report a missing `{` on the next line and lose the body's statements).
        this.skipToBody(inArm);
        if (!this.isPunct(this.peek(), "{")) break;
        continue;
      }
      const item = this.parseItem(true);
      if (item !== undefined) this.pushScratch(item);
    }
    const items = this.collect<Item>(base);
    if (shape.body !== undefined && body === undefined) {
      this.error(
        "TL011",
        `expected \`{\` after \`${keyword}\` (it takes ${shape.expects}), found ${this.found(this.peek())}`,
        spanOf(this.peek()),
      );
    }
    void context;
    const end = this.lastEnd;
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

  private numberLit(token: Token): NumberLit {
    return {
      kind: "Number",
      value: token.value,
      text: token.text,
      integer: token.integer,
      start: token.start,
      end: token.end,
    };
  }

  /** One item at the current token (consumes at least that token). */
  private parseItem(allowDetachedUnit: boolean): Item | undefined {
    const token = this.next();
    switch (token.kind) {
      case "ident":
        return { kind: "Ident", name: token.text, start: token.start, end: token.end };
      case "exception":
        return {
          kind: "Exception",
          mnemonic: token.text,
          start: token.start,
          end: token.end,
        } satisfies ExceptionLit;
      case "quantity":
        return {
          kind: "Quantity",
          value: token.value,
          unit: token.unit,
          text: token.text,
          start: token.start,
          end: token.end,
        } satisfies QuantityLit;
      case "number": {
        const from = this.numberLit(token);
        const after = this.peek();
        if (this.isPunct(after, "..")) {
          this.next();
          const to = this.peek();
          if (to.kind === "number") {
            this.next();
            return {
              kind: "Range",
              from,
              to: this.numberLit(to),
              start: token.start,
              end: to.end,
            } satisfies RangeLit;
          }
          this.error(
            "TL011",
            `expected the end of the range after \`..\`, found ${this.found(to)}`,
            spanOf(to),
          );
          return from;
        }
        if (
          allowDetachedUnit &&
          after.kind === "ident" &&
          !after.lineStart &&
          DETACHABLE_UNITS.has(after.text) &&
          UNITS.has(after.text)
        ) {
          // `3 us`: units are written attached; accept it with a fix.
          this.next();
          this.error(
            "TL005",
            `write the unit attached to the number: \`${token.text}${after.text}\``,
            {
              start: token.start,
              end: after.end,
            },
            [
              {
                title: `Write \`${token.text}${after.text}\``,
                edits: [{ span: { start: token.end, end: after.start }, newText: "" }],
                preferred: true,
              },
            ],
          );
          return {
            kind: "Quantity",
            value: token.value,
            unit: after.text,
            text: `${token.text}${after.text}`,
            start: token.start,
            end: after.end,
          };
        }
        return from;
      }
      case "punct": {
        const text = token.text;
        if (text === "=" || text === "<" || text === "<=" || text === ":" || text === "@") {
          return { kind: "Punct", text, start: token.start, end: token.end } satisfies PunctLit;
        }
        this.error("TL011", `unexpected \`${text}\``, spanOf(token));
        return undefined;
      }
      case "eof":
        return undefined;
    }
  }

  // ---- special blocks -----------------------------------------------------------------------

  private parseArm(opsContext: BlockContext, depth: number): Arm | undefined {
    const token = this.peek();
    if (token.kind !== "quantity" || token.unit !== "%") {
      const message =
        token.kind === "number"
          ? `write the probability as a percentage (\`${token.text}%\`)`
          : `expected a probability arm such as \`50% label: …\`, found ${describe(token)}`;
      this.error("TL015", message, spanOf(token));
      this.next();
      this.skipLine(true);
      return undefined;
    }
    const start = token.start;
    this.next();
    const probability: QuantityLit = {
      kind: "Quantity",
      value: token.value,
      unit: token.unit,
      text: token.text,
      start: token.start,
      end: token.end,
    };
    let label: Ident | undefined;
    const maybeLabel = this.peek();
    if (maybeLabel.kind === "ident" && this.isPunct(this.peekSecond(), ":")) {
      label = { kind: "Ident", name: maybeLabel.text, start: maybeLabel.start, end: maybeLabel.end };
      this.next();
      this.next();
    }
    const base = this.scratchTop;
    while (true) {
      const next = this.peek();
      if (next.kind === "eof" || this.isPunct(next, "}") || this.isTopLevelLineStart(next)) break;
      if (next.kind === "quantity" && next.unit === "%") break;
      const before = this.pos;
      const statement = this.parseStatement(opsContext, depth, true);
      if (statement !== undefined) this.pushScratch(statement);
      if (this.pos === before) this.next();
    }
    const statements = this.collect<Statement>(base);
    return { kind: "Arm", probability, label, statements, start, end: this.lastEnd };
  }

  private parseEptEntry(): EptEntry | undefined {
    const token = this.peek();
    if (token.kind !== "number") {
      this.error(
        "TL016",
        `expected a guest-physical range such as \`0x0 .. 0x7fff_ffff\` and permissions, found ${describe(token)}`,
        spanOf(token),
      );
      this.next();
      this.skipLine(false);
      return undefined;
    }
    const start = token.start;
    const range = this.parseItem(false) as RangeLit | NumberLit;
    const base = this.scratchTop;
    while (true) {
      const next = this.peek();
      if (next.kind !== "ident" || next.lineStart) break;
      this.pushScratch({ kind: "Ident", name: next.text, start: next.start, end: next.end } satisfies Ident);
      this.next();
    }
    const perms = this.collect<Ident>(base);
    if (perms.length === 0) {
      this.error(
        "TL016",
        `expected permissions (\`rwx\`, \`r\`, \`rw\`, \`none\`, \`misconfig\`, \`apic\`) after the range, found ${this.found(this.peek())}`,
        spanOf(this.peek()),
      );
    }
    return { kind: "EptEntry", range, perms, start, end: this.lastEnd };
  }

  private parseBudget(): Budget | undefined {
    const first = this.peek();
    if (first.kind !== "ident") {
      this.error(
        "TL017",
        `expected a budget such as \`overhead < 20%\` or \`exits < 400k/s\`, found ${describe(first)}`,
        spanOf(first),
      );
      this.next();
      this.skipLine(false);
      return undefined;
    }
    const start = first.start;
    const metric: Ident[] = [];
    while (true) {
      const token = this.peek();
      if (token.kind !== "ident" || (metric.length > 0 && token.lineStart)) break;
      metric.push({ kind: "Ident", name: token.text, start: token.start, end: token.end });
      this.next();
    }
    const metricText = metric.map((m) => m.name).join(" ");
    const compare = this.peek();
    let comparator: PunctLit | undefined;
    let value: Value | undefined;
    if (
      compare.kind === "punct" &&
      (compare.text === "<" || compare.text === "<=" || compare.text === ">" || compare.text === ">=")
    ) {
      this.next();
      comparator = { kind: "Punct", text: compare.text, start: compare.start, end: compare.end };
      value = this.expectValue("a limit", compare.text);
    } else {
      this.error(
        "TL017",
        `expected \`<\` or \`<=\` after \`${metricText}\`, found ${this.found(compare)}`,
        spanOf(compare),
      );
      this.skipLine(false);
    }
    return { kind: "Budget", metric, comparator, value, start, end: this.lastEnd };
  }
}
