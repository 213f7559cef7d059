/**
 * Hand-written recursive-descent parser with error recovery: the entry points. The parser
 * itself lives in parser/: cursor.ts (token stream, diagnostics, recovery), values.ts (items),
 * blocks.ts (blocks, statements, arms, EPT entries, budgets), declarations.ts (the file and one
 * function per top-level declaration).
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
import type { Diagnostic } from "../source";
import type { Decl, SourceFile } from "./ast";
import { lex, Scanner, type Token } from "./lexer";
import { Parser } from "./parser/cursor";
import { parseFile } from "./parser/declarations";

export { MAX_BLOCK_DEPTH } from "./parser/cursor";

export interface ParseResult {
  /** The syntax tree root. */
  file: SourceFile;
  /** Every token (lexed on first access: the parser itself streams them). */
  readonly tokens: Token[];
  /** Lexical and syntax diagnostics. */
  diagnostics: Diagnostic[];
  text: string;
}

export function parse(text: string): ParseResult {
  // The parser copies what it keeps out of tokens, so the scanner may recycle them.
  const scanner = new Scanner(text, { reuseTokens: true });
  const parser = new Parser(text, scanner);
  const file = parseFile(parser);
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
  parseFile(parser, visit);
  return parser.diagnostics;
}
