/**
 * The lexer: one pass over UTF-16 char codes, no regular expressions, no per-character
 * allocation. Newlines are not tokens; instead every token records whether it is the first on
 * its line (`lineStart`), which is all the parser needs to find statement ends.
 */
import type { Diagnostic, Span } from "../source";
import {
  CH_0,
  CH_AT,
  CH_BOM,
  CH_COLON,
  CH_COMMA,
  CH_CR,
  CH_DOT,
  CH_EQ,
  CH_FF,
  CH_GT,
  CH_HASH,
  CH_LBRACE,
  CH_LF,
  CH_LPAREN,
  CH_LT,
  CH_MINUS,
  CH_PERCENT,
  CH_QUOTE,
  CH_RBRACE,
  CH_RPAREN,
  CH_SLASH,
  CH_SPACE,
  CH_STAR,
  CH_TAB,
  CH_UNDERSCORE,
  CH_VT,
  canStartToken,
  hexDigitValue,
  IDENT_PART,
  isDigit,
  isIdentPart,
  isIdentStart,
} from "./chars";
import { isKnownUnit, UNIT_LIST_TEXT } from "./units";

export type TokenKind =
  | "ident"
  /** A plain number: `4096`, `0xfebf_0000`, `2.1`, `-5`. */
  | "number"
  /** A number with an attached unit: `3us`, `2.1GHz`, `100k/s`, `95%`. */
  | "quantity"
  /** An exception mnemonic: `#PF`. */
  | "exception"
  /** `{ } ( ) , = @ : < <= > >= ..` */
  | "punct"
  /**
   * A string literal: `"traces/run1.txt"`. It ends at the next `"` on the same line; there are
   * no escapes (a backslash is an ordinary character, so `"C:\traces\a.txt"` is what it
   * says), so a string cannot hold `"` or a line break. `text` is the content without quotes.
   */
  | "string"
  | "eof";

export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /**
   * Identifier name, punctuation, exception mnemonic (with `#`), the number's source text, or a
   * string's content (without the quotes).
   */
  text: string;
  /** Numeric value of a number or quantity (the number part, before the unit); 0 otherwise. */
  value: number;
  /** Unit of a quantity as written (`us`, `GHz`, `k/s`, `%`); "" otherwise. */
  unit: string;
  /** True for integer literals (no fraction); their exact value is {@link integerValue}. */
  integer: boolean;
  /** First token on its line (or of the file). */
  lineStart: boolean;
}

export interface LexResult {
  tokens: Token[];
  diagnostics: Diagnostic[];
}

/** At most this many "unexpected characters" diagnostics; binary input must not yield thousands. */
const MAX_BAD_CHARACTER_DIAGNOSTICS = 20;
const TWO_POW_63 = 2 ** 63;
const MAX_U64 = (1n << 64n) - 1n;

/** Tokens a reusing scanner cycles through (a power of two). */
const TOKEN_RING_SIZE = 8;

function newToken(kind: TokenKind, start: number, end: number, text: string, lineStart: boolean): Token {
  return { kind, start, end, text, value: 0, unit: "", integer: false, lineStart };
}

/** Slots of the intern table (a power of two) and how many of them may be filled. */
const INTERN_SLOTS = 8192;
const INTERN_LIMIT = 4096;
/** Longer texts are rarely repeated: not worth hashing twice. */
const MAX_INTERNED_LENGTH = 64;

/** Whether `candidate` equals the same-length run of `text` at `start`. */
function sameText(candidate: string, text: string, start: number): boolean {
  for (let k = 0; k < candidate.length; k++) {
    if (candidate.charCodeAt(k) !== text.charCodeAt(start + k)) return false;
  }
  return true;
}

/** Printable rendering of a run of bad characters for a message (control chars as \xNN). */
function showBadRun(run: string): string {
  let out = "";
  const limit = Math.min(run.length, 16);
  for (let i = 0; i < limit; i++) {
    const c = run.charCodeAt(i);
    if (c < 32 || c === 127) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c > 126 && c < 256) out += `\\x${c.toString(16)}`;
    else out += run[i];
  }
  return run.length > limit ? `${out}…` : out;
}

/** The exact value of an integer literal token (hex or decimal, `_` separators, optional `-`). */
export function integerValue(token: Token): bigint {
  const cleaned = token.text.replaceAll("_", "");
  if (cleaned.startsWith("-")) return -BigInt(cleaned.slice(1));
  return BigInt(cleaned);
}

export function lex(text: string): LexResult {
  const scanner = new Scanner(text);
  const tokens: Token[] = [];
  while (true) {
    const token = scanner.next();
    tokens.push(token);
    if (token.kind === "eof") break;
  }
  return { tokens, diagnostics: scanner.diagnostics };
}

/**
 * The streaming lexer: `next()` returns one token at a time, so the parser never holds the
 * whole token array (a 10 MB file has millions of tokens; short-lived tokens are cheap for the
 * garbage collector, retained ones are not).
 */
export class Scanner {
  readonly diagnostics: Diagnostic[] = [];
  private i = 0;
  private lineStart = true;
  private badRuns = 0;
  /**
   * Interned token texts by a hash of their characters (open addressing, linear probing): a
   * keyword, control or unit written a thousand times is one string, not a thousand copies
   * (fewer allocations while lexing, a smaller syntax tree for the garbage collector to move).
   * Filled up to INTERN_LIMIT entries; later texts are sliced as usual.
   */
  private readonly interned: (string | undefined)[] = new Array(INTERN_SLOTS).fill(undefined);
  private readonly internedHashes = new Int32Array(INTERN_SLOTS);
  private internCount = 0;

  /**
   * With `reuseTokens`, tokens come from a ring of TOKEN_RING_SIZE objects that are overwritten
   * in turn: a token stays valid for the next TOKEN_RING_SIZE − 1 tokens scanned. The parser
   * copies what it keeps (text, spans) out of tokens and holds at most a few at once, so it
   * streams millions of tokens without allocating one object per token.
   */
  private readonly ring: Token[] | undefined;
  private ringNext = 0;

  constructor(
    private readonly text: string,
    options?: { reuseTokens?: boolean },
  ) {
    if (options?.reuseTokens) {
      this.ring = [];
      for (let k = 0; k < TOKEN_RING_SIZE; k++) this.ring.push(newToken("eof", 0, 0, "", false));
    }
  }

  /** `text.slice(start, end)`, shared with every earlier token of the same text. */
  private intern(start: number, end: number): string {
    const text = this.text;
    let hash = 0;
    for (let k = start; k < end; k++) hash = (Math.imul(hash, 31) + text.charCodeAt(k)) | 0;
    return this.internHashed(start, end, hash);
  }

  /** `intern` with the hash (see `intern`) already computed while scanning. */
  private internHashed(start: number, end: number, hash: number): string {
    const text = this.text;
    const table = this.interned;
    const hashes = this.internedHashes;
    let slot = hash & (INTERN_SLOTS - 1);
    while (true) {
      const candidate = table[slot];
      if (candidate === undefined) break;
      if (hashes[slot] === hash && candidate.length === end - start && sameText(candidate, text, start))
        return candidate;
      slot = (slot + 1) & (INTERN_SLOTS - 1);
    }
    const fresh = text.slice(start, end);
    if (this.internCount < INTERN_LIMIT && end - start <= MAX_INTERNED_LENGTH) {
      table[slot] = fresh;
      hashes[slot] = hash;
      this.internCount++;
    }
    return fresh;
  }

  private make(kind: TokenKind, start: number, end: number, tokenText: string): Token {
    const ring = this.ring;
    let token: Token;
    if (ring === undefined) token = newToken(kind, start, end, tokenText, this.lineStart);
    else {
      token = ring[this.ringNext]!;
      this.ringNext = (this.ringNext + 1) & (TOKEN_RING_SIZE - 1);
      token.kind = kind;
      token.start = start;
      token.end = end;
      token.text = tokenText;
      token.value = 0;
      token.unit = "";
      token.integer = false;
      token.lineStart = this.lineStart;
    }
    this.lineStart = false;
    return token;
  }

  /**
   * After a number without a unit: the span of a known rate unit (one with a `/`: `k/s`, `/s`)
   * that follows on the same line after spaces, or undefined.
   */
  private detachedRateUnit(numberEnd: number): [number, number] | undefined {
    const text = this.text;
    const length = text.length;
    let i = numberEnd;
    while (i < length && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
    if (i === numberEnd) return undefined;
    const unitStart = i;
    while (i < length && isIdentPart(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== CH_SLASH || !isIdentStart(text.charCodeAt(i + 1))) return undefined;
    i++;
    while (i < length && isIdentPart(text.charCodeAt(i))) i++;
    return isKnownUnit(text.slice(unitStart, i)) ? [unitStart, i] : undefined;
  }

  private error(code: string, message: string, span: Span): void {
    this.diagnostics.push({ severity: "error", code, message, span });
  }

  next(): Token {
    const text = this.text;
    const length = text.length;
    let i = this.i;
    while (i < length) {
      const c = text.charCodeAt(i);

      if (c === CH_LF || c === CH_CR) {
        this.lineStart = true;
        i++;
        continue;
      }
      if (c === CH_SPACE || c === CH_TAB || c === CH_VT || c === CH_FF || c === CH_BOM) {
        i++;
        continue;
      }

      if (isIdentStart(c)) {
        const start = i;
        // The intern hash is computed in the same pass (same formula as `intern`).
        let hash = c;
        i++;
        while (i < length) {
          const d = text.charCodeAt(i);
          if (d >= 128 || IDENT_PART[d] === 0) break;
          hash = (Math.imul(hash, 31) + d) | 0;
          i++;
        }
        this.i = i;
        return this.make(
          "ident",
          start,
          i,
          i - start <= MAX_INTERNED_LENGTH ? this.internHashed(start, i, hash) : text.slice(start, i),
        );
      }

      if (isDigit(c) || (c === CH_MINUS && isDigit(text.charCodeAt(i + 1)))) {
        return this.number(i);
      }

      if (c === CH_SLASH) {
        const n = text.charCodeAt(i + 1);
        if (n === CH_SLASH) {
          i += 2;
          while (i < length) {
            const d = text.charCodeAt(i);
            if (d === CH_LF || d === CH_CR) break;
            i++;
          }
          continue;
        }
        if (n === CH_STAR) {
          const start = i;
          const close = text.indexOf("*/", i + 2);
          if (close < 0) {
            this.error("TL002", "unterminated block comment: `/*` has no matching `*/`", {
              start,
              end: start + 2,
            });
            i = length;
          } else {
            for (let j = i + 2; j < close; j++) {
              const d = text.charCodeAt(j);
              if (d === CH_LF || d === CH_CR) {
                this.lineStart = true;
                break;
              }
            }
            i = close + 2;
          }
          continue;
        }
      }

      if (c === CH_QUOTE) return this.string(i);

      const punct = punctuationAt(text, i);
      if (punct !== undefined) {
        this.i = i + punct.length;
        return this.make("punct", i, i + punct.length, punct);
      }
      if (c === CH_HASH && isIdentStart(text.charCodeAt(i + 1))) {
        const start = i;
        i++;
        while (i < length && isIdentPart(text.charCodeAt(i))) i++;
        this.i = i;
        return this.make("exception", start, i, this.intern(start, i));
      }

      // A run of characters that cannot start any token: one diagnostic for the whole run.
      const start = i;
      i++;
      while (i < length && !canStartToken(text, i)) i++;
      this.badRuns++;
      if (this.badRuns <= MAX_BAD_CHARACTER_DIAGNOSTICS) {
        const run = text.slice(start, i);
        const hasNul = run.includes("\0");
        this.error(
          "TL001",
          hasNul
            ? `unexpected characters \`${showBadRun(run)}\` (NUL bytes: is this a binary file?)`
            : `unexpected character${i - start > 1 ? "s" : ""} \`${showBadRun(run)}\``,
          { start, end: i },
        );
      } else if (this.badRuns === MAX_BAD_CHARACTER_DIAGNOSTICS + 1) {
        this.error("TL001", "more unexpected characters follow; only the first ones are reported", {
          start,
          end: i,
        });
      }
    }
    this.i = length;
    const eof = this.make("eof", length, length, "");
    eof.lineStart = true;
    return eof;
  }

  /** A string literal at `i` (its opening quote); TL006 when the line ends before it closes. */
  private string(i: number): Token {
    const text = this.text;
    const length = text.length;
    const start = i;
    let j = i + 1;
    while (j < length) {
      const d = text.charCodeAt(j);
      if (d === CH_QUOTE || d === CH_LF || d === CH_CR) break;
      j++;
    }
    if (j < length && text.charCodeAt(j) === CH_QUOTE) {
      this.i = j + 1;
      return this.make("string", start, j + 1, text.slice(start + 1, j));
    }
    // Unterminated: the string runs to the end of the line (the next line lexes as usual). Binary
    // input is full of stray quotes: these count towards the cap on bad-character runs.
    this.badRuns++;
    if (this.badRuns <= MAX_BAD_CHARACTER_DIAGNOSTICS)
      this.error("TL006", 'unterminated string: `"` has no closing `"` on its line', { start, end: j });
    else if (this.badRuns === MAX_BAD_CHARACTER_DIAGNOSTICS + 1)
      this.error(
        "TL006",
        "more unterminated strings or unexpected characters follow; only the first ones are reported",
        { start, end: j },
      );
    this.i = j;
    return this.make("string", start, j, text.slice(start + 1, j));
  }

  private number(i: number): Token {
    const text = this.text;
    const length = text.length;
    const start = i;
    const negative = text.charCodeAt(i) === CH_MINUS;
    if (negative) i++;
    let value = 0;
    let integer = true;
    let hex = false;

    if (text.charCodeAt(i) === CH_0 && (text.charCodeAt(i + 1) | 0x20) === 120 /* x */) {
      hex = true;
      i += 2;
      let digits = 0;
      while (i < length) {
        const c = text.charCodeAt(i);
        const d = hexDigitValue(c);
        if (d >= 0) {
          value = value * 16 + d;
          digits++;
        } else if (c !== CH_UNDERSCORE) break;
        i++;
      }
      if (digits === 0) this.error("TL003", "expected hexadecimal digits after `0x`", { start, end: i });
    } else {
      while (i < length) {
        const c = text.charCodeAt(i);
        if (isDigit(c)) value = value * 10 + (c - CH_0);
        else if (c !== CH_UNDERSCORE) break;
        i++;
      }
      // A fraction needs a digit after the dot, so `1..5` stays a range.
      if (text.charCodeAt(i) === CH_DOT && isDigit(text.charCodeAt(i + 1))) {
        integer = false;
        i++;
        while (i < length && (isDigit(text.charCodeAt(i)) || text.charCodeAt(i) === CH_UNDERSCORE)) i++;
        value = Number.parseFloat(text.slice(negative ? start + 1 : start, i).replaceAll("_", ""));
      }
    }
    const numberEnd = i;
    const numberText =
      numberEnd - start <= MAX_INTERNED_LENGTH ? this.intern(start, numberEnd) : text.slice(start, numberEnd);

    // An attached unit: letters, optionally followed by `/s`; or `/s` alone; or `%`.
    let unitEnd = i;
    const c = text.charCodeAt(i);
    if (c === CH_PERCENT) {
      unitEnd = i + 1;
    } else if (isIdentStart(c) || (c === CH_SLASH && text.charCodeAt(i + 1) === 115) /* s */) {
      while (unitEnd < length && isIdentPart(text.charCodeAt(unitEnd))) unitEnd++;
      if (text.charCodeAt(unitEnd) === CH_SLASH && isIdentStart(text.charCodeAt(unitEnd + 1))) {
        unitEnd++;
        while (unitEnd < length && isIdentPart(text.charCodeAt(unitEnd))) unitEnd++;
      }
    }

    if (integer && Math.abs(value) >= TWO_POW_63) {
      // Doubles round near 2^64, so decide exactly.
      const exact = BigInt(numberText.replaceAll("_", "").replace("-", ""));
      if (exact > MAX_U64) {
        this.error("TL003", `number \`${numberText}\` is too large: values are at most 64 bits (2^64 − 1)`, {
          start,
          end: numberEnd,
        });
      }
    }
    const signed = negative ? -value : value;

    if (unitEnd > numberEnd) {
      const unit =
        unitEnd - numberEnd <= MAX_INTERNED_LENGTH
          ? this.intern(numberEnd, unitEnd)
          : text.slice(numberEnd, unitEnd);
      this.i = unitEnd;
      if (hex) {
        this.error("TL003", `invalid character \`${unit[0]}\` in hexadecimal number \`${numberText}\``, {
          start: numberEnd,
          end: unitEnd,
        });
        const token = this.make("number", start, unitEnd, numberText);
        token.value = signed;
        token.integer = true;
        return token;
      }
      if (!isKnownUnit(unit)) {
        this.error("TL004", `unknown unit \`${unit}\` (units: ${UNIT_LIST_TEXT})`, {
          start: numberEnd,
          end: unitEnd,
        });
      }
      const token = this.make(
        "quantity",
        start,
        unitEnd,
        unitEnd - start <= MAX_INTERNED_LENGTH ? this.intern(start, unitEnd) : text.slice(start, unitEnd),
      );
      token.value = signed;
      token.unit = unit;
      token.integer = integer;
      return token;
    }

    if (!hex) {
      const detached = this.detachedRateUnit(numberEnd);
      if (detached !== undefined) {
        // `100 k/s`: a rate unit written apart. Its `/` is no token of its own, so read it here
        // as one quantity with one located error (the parser does the same for `3 us`), instead
        // of an unexpected `/` that derails the statement and the line after it (issue 12.10).
        const [unitStart, end] = detached;
        const unit = text.slice(unitStart, end);
        const attached = `${numberText}${unit}`;
        this.diagnostics.push({
          severity: "error",
          code: "TL005",
          message: `write the unit attached to the number: \`${attached}\``,
          span: { start, end },
          fixes: [
            {
              title: `Write \`${attached}\``,
              edits: [{ span: { start: numberEnd, end: unitStart }, newText: "" }],
              preferred: true,
            },
          ],
        });
        this.i = end;
        const token = this.make("quantity", start, end, attached);
        token.value = signed;
        token.unit = unit;
        token.integer = integer;
        return token;
      }
    }
    this.i = numberEnd;
    const token = this.make("number", start, numberEnd, numberText);
    token.value = signed;
    token.integer = integer;
    return token;
  }
}

/** The punctuation token at `i`, if any. */
function punctuationAt(text: string, i: number): string | undefined {
  switch (text.charCodeAt(i)) {
    case CH_LBRACE:
      return "{";
    case CH_RBRACE:
      return "}";
    case CH_LPAREN:
      return "(";
    case CH_RPAREN:
      return ")";
    case CH_COMMA:
      return ",";
    case CH_EQ:
      return "=";
    case CH_AT:
      return "@";
    case CH_COLON:
      return ":";
    case CH_LT:
      return text.charCodeAt(i + 1) === CH_EQ ? "<=" : "<";
    case CH_GT:
      return text.charCodeAt(i + 1) === CH_EQ ? ">=" : ">";
    case CH_DOT:
      return text.charCodeAt(i + 1) === CH_DOT ? ".." : undefined;
    default:
      return undefined;
  }
}
