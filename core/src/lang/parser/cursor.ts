/**
 * The parser's state: the token stream with two tokens of lookahead, the diagnostics (capped),
 * "did you mean" suggestions and the scratch stack the list-building loops share. Every parsing
 * function (values.ts, blocks.ts, declarations.ts) takes this object as its first argument;
 * recovery (skipping to a line, a body, a balanced `}` or the next declaration) lives here too,
 * since it only moves the cursor.
 */
import type { CodeFix, Diagnostic, Span } from "../../source";
import { TOP_LEVEL_KEYWORDS } from "../grammar";
import type { Scanner, Token } from "../lexer";
import { closestMatch } from "../suggest";

/** Deeper nesting than this (e.g. `repeat` in `repeat` …) is reported and skipped. */
export const MAX_BLOCK_DEPTH = 64;
/** Syntax diagnostics after this many are summarised in one. */
const MAX_SYNTAX_DIAGNOSTICS = 100;

export function describe(token: Token): string {
  switch (token.kind) {
    case "eof":
      return "the end of the file";
    case "ident":
    case "punct":
    case "exception":
    case "number":
    case "quantity":
      return `\`${token.text}\``;
    case "string":
      return `the string \`"${token.text}"\``;
  }
}

export function spanOf(token: Token): Span {
  return { start: token.start, end: token.end };
}

export class Parser {
  /** Tokens consumed so far (progress checks compare it). */
  pos = 0;
  /** Lookahead: at most two tokens (`label :` in arms needs the second). */
  private ahead0: Token | undefined;
  private ahead1: Token | undefined;
  /** End offset of the last consumed token. */
  lastEnd = 0;
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
  scratchTop = 0;

  pushScratch(entry: unknown): void {
    this.scratch[this.scratchTop++] = entry;
  }

  constructor(
    readonly text: string,
    private readonly scanner: Scanner,
  ) {
    // Lexical and syntax diagnostics share one list, in the order they are found.
    this.diagnostics = scanner.diagnostics;
  }

  /** The scratch entries pushed since `base`, as an exact-size array; pops them. */
  collect<T>(base: number): T[] {
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

  peek(): Token {
    let token = this.ahead0;
    if (token === undefined) {
      token = this.scanner.next();
      this.ahead0 = token;
    }
    return token;
  }

  /** The token after the next one. */
  peekSecond(): Token {
    const first = this.peek();
    if (first.kind === "eof") return first;
    let second = this.ahead1;
    if (second === undefined) {
      second = this.scanner.next();
      this.ahead1 = second;
    }
    return second;
  }

  next(): Token {
    const token = this.peek();
    if (token.kind !== "eof") {
      this.ahead0 = this.ahead1;
      this.ahead1 = undefined;
      this.pos++;
      this.lastEnd = token.end;
    }
    return token;
  }

  isPunct(token: Token, text: string): boolean {
    return token.kind === "punct" && token.text === text;
  }

  isTopLevelLineStart(token: Token): boolean {
    return token.lineStart && token.kind === "ident" && TOP_LEVEL_KEYWORDS.has(token.text);
  }

  // ---- diagnostics --------------------------------------------------------------------------

  error(code: string, message: string, span: Span, fixes?: CodeFix[]): void {
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
  suggestion(token: Token, candidates: Iterable<string>): { hint: string; fixes?: CodeFix[] } {
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

  /** `describe`, but "the end of the line" for a token on a later line. */
  found(token: Token): string {
    return token.lineStart && token.kind !== "eof" ? "the end of the line" : describe(token);
  }

  // ---- recovery -----------------------------------------------------------------------------

  /** Skips at least one token, then up to the next line that starts with a top-level keyword. */
  skipToTopLevel(): void {
    this.next();
    while (true) {
      const token = this.peek();
      if (token.kind === "eof" || this.isTopLevelLineStart(token)) return;
      this.next();
    }
  }

  /** Skips the rest of the line (stopping before `}` and, in arms, before a probability). */
  skipLine(inArm: boolean): void {
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
  skipToBody(inArm: boolean): void {
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
  skipBalanced(alreadyOpen = 0): Span | undefined {
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
}
