/**
 * Character classes of the lexer (lexer.ts): the char codes it compares against and the
 * predicates over them, kept apart so the scanner itself stays one readable file.
 */

export const CH_TAB = 9;
export const CH_LF = 10;
export const CH_VT = 11;
export const CH_FF = 12;
export const CH_CR = 13;
export const CH_SPACE = 32;
export const CH_HASH = 35;
export const CH_PERCENT = 37;
export const CH_LPAREN = 40;
export const CH_RPAREN = 41;
export const CH_STAR = 42;
export const CH_COMMA = 44;
export const CH_MINUS = 45;
export const CH_DOT = 46;
export const CH_SLASH = 47;
export const CH_0 = 48;
export const CH_9 = 57;
export const CH_COLON = 58;
export const CH_LT = 60;
export const CH_EQ = 61;
export const CH_GT = 62;
export const CH_AT = 64;
export const CH_UNDERSCORE = 95;
export const CH_LBRACE = 123;
export const CH_RBRACE = 125;
export const CH_QUOTE = 34;
export const CH_BOM = 0xfeff;

export function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

export function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === CH_UNDERSCORE;
}

export function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

/** 1 for the ASCII characters that may continue an identifier (a table load beats four compares). */
export const IDENT_PART = new Uint8Array(128);
for (let c = 0; c < 128; c++) IDENT_PART[c] = isIdentPart(c) ? 1 : 0;

export function hexDigitValue(c: number): number {
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export function isSpace(c: number): boolean {
  return (
    c === CH_SPACE || c === CH_TAB || c === CH_CR || c === CH_LF || c === CH_VT || c === CH_FF || c === CH_BOM
  );
}

/** A character that may start some token (or whitespace/comment); anything else is "bad". */
export function canStartToken(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (isSpace(c) || isIdentStart(c) || isDigit(c)) return true;
  switch (c) {
    case CH_LBRACE:
    case CH_RBRACE:
    case CH_LPAREN:
    case CH_RPAREN:
    case CH_COMMA:
    case CH_EQ:
    case CH_AT:
    case CH_COLON:
    case CH_LT:
    case CH_GT:
    case CH_QUOTE:
      return true;
    case CH_DOT:
      return text.charCodeAt(i + 1) === CH_DOT;
    case CH_SLASH: {
      const n = text.charCodeAt(i + 1);
      return n === CH_SLASH || n === CH_STAR;
    }
    case CH_HASH:
      return isIdentStart(text.charCodeAt(i + 1));
    case CH_MINUS:
      return isDigit(text.charCodeAt(i + 1));
    default:
      return false;
  }
}
