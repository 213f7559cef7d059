import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { integerValue, lex } from "../core/src/lang/lexer";

const kinds = (text: string) => lex(text).tokens.map((t) => `${t.kind}:${t.text}`);

describe("lexer", () => {
  it("lexes identifiers, keywords, punctuation and exception mnemonics with spans", () => {
    const { tokens, diagnostics } = lex("vmcs kvm { exceptions #PF, #AC }\nfield X = 1 < <= @ : ( )");
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      tokens.map((t) => [t.kind, t.text, t.start, t.end]),
      [
        ["ident", "vmcs", 0, 4],
        ["ident", "kvm", 5, 8],
        ["punct", "{", 9, 10],
        ["ident", "exceptions", 11, 21],
        ["exception", "#PF", 22, 25],
        ["punct", ",", 25, 26],
        ["exception", "#AC", 27, 30],
        ["punct", "}", 31, 32],
        ["ident", "field", 33, 38],
        ["ident", "X", 39, 40],
        ["punct", "=", 41, 42],
        ["number", "1", 43, 44],
        ["punct", "<", 45, 46],
        ["punct", "<=", 47, 49],
        ["punct", "@", 50, 51],
        ["punct", ":", 52, 53],
        ["punct", "(", 54, 55],
        ["punct", ")", 56, 57],
        ["eof", "", 57, 57],
      ],
    );
  });

  it("marks the first token of each line", () => {
    const { tokens } = lex("proc a b\n  c /* x\n y */ d // e\nf");
    assert.deepEqual(
      tokens.filter((t) => t.kind === "ident").map((t) => [t.text, t.lineStart]),
      [
        ["proc", true],
        ["a", false],
        ["b", false],
        ["c", true],
        ["d", true], // the block comment spans a line break
        ["f", true],
      ],
    );
  });

  it("lexes decimal, hex, separated, fractional and negative numbers", () => {
    const { tokens, diagnostics } = lex("4096 0xfebf_0000 1_000 2.5 -3 0XFF");
    assert.deepEqual(diagnostics, []);
    const numbers = tokens.filter((t) => t.kind === "number");
    assert.deepEqual(
      numbers.map((t) => [t.value, t.integer]),
      [
        [4096, true],
        [0xfebf0000, true],
        [1000, true],
        [2.5, false],
        [-3, true],
        [255, true],
      ],
    );
    assert.equal(integerValue(numbers[1]!), 0xfebf0000n);
  });

  it("keeps ranges apart from fractions", () => {
    assert.deepEqual(kinds("0x3f8..0x3ff 1..5 0 .. 7"), [
      "number:0x3f8",
      "punct:..",
      "number:0x3ff",
      "number:1",
      "punct:..",
      "number:5",
      "number:0",
      "punct:..",
      "number:7",
      "eof:",
    ]);
  });

  it("attaches units to quantities", () => {
    const { tokens, diagnostics } = lex("3us 2.1GHz 100k/s 2.5M/s 95% 250Hz 10ns 5ms 1s 7/s 3kHz 4MHz");
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      tokens.filter((t) => t.kind === "quantity").map((t) => [t.value, t.unit]),
      [
        [3, "us"],
        [2.1, "GHz"],
        [100, "k/s"],
        [2.5, "M/s"],
        [95, "%"],
        [250, "Hz"],
        [10, "ns"],
        [5, "ms"],
        [1, "s"],
        [7, "/s"],
        [3, "kHz"],
        [4, "MHz"],
      ],
    );
  });

  it("reports unknown units at the unit", () => {
    const { tokens, diagnostics } = lex("work 3parsecs");
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]!.code, "TL004");
    assert.match(diagnostics[0]!.message, /unknown unit `parsecs`/);
    assert.deepEqual(diagnostics[0]!.span, { start: 6, end: 13 });
    assert.equal(tokens[1]!.kind, "quantity");
  });

  it("rejects numbers past 2^64 − 1 exactly", () => {
    assert.deepEqual(lex("18446744073709551615 0xffff_ffff_ffff_ffff").diagnostics, []);
    const big = lex("x 18446744073709551616");
    assert.equal(big.diagnostics.length, 1);
    assert.equal(big.diagnostics[0]!.code, "TL003");
    assert.deepEqual(big.diagnostics[0]!.span, { start: 2, end: 22 });
    assert.equal(lex("0x1_0000_0000_0000_0000").diagnostics[0]!.code, "TL003");
    assert.equal(integerValue(lex("0xffff_ffff_ffff_ffff").tokens[0]!), (1n << 64n) - 1n);
  });

  it("reports bad hex digits and empty hex", () => {
    assert.match(lex("0xfeg").diagnostics[0]!.message, /invalid character `g` in hexadecimal/);
    assert.match(lex("0x ").diagnostics[0]!.message, /expected hexadecimal digits/);
  });

  it("reports one diagnostic per run of bad characters", () => {
    const { tokens, diagnostics } = lex("proc a $$$ b ~ c");
    assert.equal(diagnostics.length, 2);
    assert.deepEqual(diagnostics[0]!.span, { start: 7, end: 10 });
    assert.equal(diagnostics[0]!.code, "TL001");
    assert.deepEqual(
      tokens.filter((t) => t.kind === "ident").map((t) => t.text),
      ["proc", "a", "b", "c"],
    );
  });

  it("reports an unterminated block comment at its start", () => {
    const { diagnostics } = lex("vmcs a { } /* never closed");
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]!.code, "TL002");
    assert.deepEqual(diagnostics[0]!.span, { start: 11, end: 13 });
  });

  it("caps diagnostics for binary input", () => {
    let binary = "";
    for (let i = 0; i < 20000; i++) binary += String.fromCharCode((i * 7919) % 256);
    const { diagnostics } = lex(binary);
    assert.ok(diagnostics.length <= 25, `${diagnostics.length} diagnostics`);
    assert.ok(diagnostics.some((d) => d.message.includes("NUL")));
  });
});
