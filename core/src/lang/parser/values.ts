/**
 * Items and values: the identifiers, numbers, ranges, quantities, exception mnemonics and
 * punctuation a statement's arguments are made of, and the `expect…` helpers declarations use
 * for their header words (`vmcs NAME`, `target PROFILE @ FREQ`).
 */
import type {
  ExceptionLit,
  Ident,
  Item,
  NumberLit,
  PunctLit,
  QuantityLit,
  RangeLit,
  StringLit,
  Value,
} from "../ast";
import type { Token } from "../lexer";
import { UNITS } from "../units";
import { type Parser, spanOf } from "./cursor";

/** Units that may be written (wrongly) after a space: `3 us`. */
const DETACHABLE_UNITS = new Set(["ns", "us", "ms", "s", "Hz", "kHz", "MHz", "GHz"]);

export function numberLit(token: Token): NumberLit {
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
export function parseItem(p: Parser, allowDetachedUnit: boolean): Item | undefined {
  const token = p.next();
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
      const from = numberLit(token);
      const after = p.peek();
      if (p.isPunct(after, "..")) {
        p.next();
        const to = p.peek();
        if (to.kind === "number") {
          p.next();
          return {
            kind: "Range",
            from,
            to: numberLit(to),
            start: token.start,
            end: to.end,
          } satisfies RangeLit;
        }
        p.error("TL011", `expected the end of the range after \`..\`, found ${p.found(to)}`, spanOf(to));
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
        p.next();
        p.error(
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
      p.error("TL011", `unexpected \`${text}\``, spanOf(token));
      return undefined;
    }
    case "string":
      return { kind: "String", value: token.text, start: token.start, end: token.end } satisfies StringLit;
    case "eof":
      return undefined;
  }
}

/** An identifier on the same line (`vmcs NAME`), or TL011 naming `what` and `after`. */
export function expectIdent(p: Parser, what: string, after: string): Ident | undefined {
  const token = p.peek();
  if (token.kind === "ident" && !token.lineStart && !p.isPunct(token, "{")) {
    p.next();
    return { kind: "Ident", name: token.text, start: token.start, end: token.end };
  }
  p.error("TL011", `expected ${what} after \`${after}\`, found ${p.found(token)}`, spanOf(token));
  return undefined;
}

/** A number or quantity on the same line (`@ 2.1GHz`), or TL011 naming `what` and `after`. */
export function expectValue(p: Parser, what: string, after: string): Value | undefined {
  const token = p.peek();
  if ((token.kind === "number" || token.kind === "quantity") && !token.lineStart) {
    const item = parseItem(p, false);
    if (item !== undefined && (item.kind === "Number" || item.kind === "Quantity")) return item;
    return undefined;
  }
  p.error("TL011", `expected ${what} after \`${after}\`, found ${p.found(token)}`, spanOf(token));
  return undefined;
}
