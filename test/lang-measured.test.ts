/**
 * String literals (lexer) and `measured "TRACE" [tolerance P%]` (guest statement): what the
 * lexer reads, where its errors sit, how the statement lowers, and that completion offers it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyze } from "../core/src/index";
import { lex } from "../core/src/lang/lexer";
import { completeAt } from "../server/src/features/completion";

describe("string literals", () => {
  test("a string is one token whose text is its content; a backslash is an ordinary character", () => {
    const { tokens, diagnostics } = lex('measured "C:\\traces\\a b.txt" x');
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      tokens.map((t) => [t.kind, t.text]),
      [
        ["ident", "measured"],
        ["string", "C:\\traces\\a b.txt"],
        ["ident", "x"],
        ["eof", ""],
      ],
    );
    assert.equal(tokens[1]!.start, 9);
    assert.equal(tokens[1]!.end, 9 + '"C:\\traces\\a b.txt"'.length);
  });

  test("an unterminated string is TL006 on the rest of its line; the next line lexes as usual", () => {
    const text = 'a "open\nb';
    const { tokens, diagnostics } = lex(text);
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]!.code, "TL006");
    assert.deepEqual(diagnostics[0]!.span, { start: 2, end: 7 });
    assert.deepEqual(
      tokens.map((t) => [t.kind, t.text, t.lineStart]),
      [
        ["ident", "a", true],
        ["string", "open", false],
        ["ident", "b", true],
        ["eof", "", true],
      ],
    );
  });

  test("an empty string is a string", () => {
    const { tokens, diagnostics } = lex('""');
    assert.deepEqual(diagnostics, []);
    assert.equal(tokens[0]!.kind, "string");
    assert.equal(tokens[0]!.text, "");
  });
});

const FILE = (line: string) => `target skylake_server
vmcs v {
  proc hlt_exiting
}
handler HLT { halt }
guest g on v {
  idle halt
  ${line}
}
`;

const codesOf = (text: string) => analyze(text).diagnostics.map((d) => d.code);

describe("measured", () => {
  test("records the path as written, its span and the tolerance as a fraction", () => {
    const text = FILE('measured "traces/run 1.txt" tolerance 10%');
    const a = analyze(text);
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    const m = a.program.guests.get("g")!.measured!;
    assert.equal(m.path, "traces/run 1.txt");
    assert.equal(text.slice(m.pathSpan.start, m.pathSpan.end), '"traces/run 1.txt"');
    assert.equal(m.tolerance, 0.1);
    assert.equal(text.slice(m.span.start, m.span.end), 'measured "traces/run 1.txt" tolerance 10%');
    assert.equal(analyze(FILE('measured "t.txt"')).program.guests.get("g")!.measured!.tolerance, undefined);
  });

  test("bad forms are located errors", () => {
    assert.ok(codesOf(FILE("measured")).includes("TL201"));
    assert.ok(codesOf(FILE("measured trace.txt")).includes("TL201"));
    assert.ok(codesOf(FILE('measured ""')).includes("TL201"));
    assert.ok(codesOf(FILE('measured "t.txt" tolerance 10us')).includes("TL202"));
    assert.ok(codesOf(FILE('measured "t.txt" tolerance 0%')).includes("TL205"));
    assert.ok(codesOf(FILE('measured "t.txt" tolerence 10%')).includes("TL114"));
    assert.ok(codesOf(FILE('measured "a.txt"\n  measured "b.txt"')).includes("TL101"));
    assert.ok(codesOf(FILE('measured "t.txt')).includes("TL006"));
    // Each corrected form is clean.
    for (const line of ['measured "t.txt"', 'measured "t.txt" tolerance 10%'])
      assert.deepEqual(
        analyze(FILE(line)).diagnostics.filter((d) => d.severity === "error"),
        [],
        line,
      );
  });

  test("completion offers `measured` in a guest and `tolerance` after its path", () => {
    const inGuest = FILE("me");
    const at = inGuest.indexOf("  me\n") + 4;
    const items = completeAt(analyze(inGuest), inGuest, at);
    assert.ok(
      items.some((i) => i.label === "measured"),
      JSON.stringify(items.map((i) => i.label)),
    );
    const after = FILE('measured "t.txt" ');
    const at2 = after.indexOf('"t.txt" ') + 8;
    const words = completeAt(analyze(after), after, at2);
    assert.ok(
      words.some((i) => i.label === "tolerance"),
      JSON.stringify(words.map((i) => i.label)),
    );
  });
});

test("completion offers nothing inside the string", () => {
  const text = FILE('measured "tr');
  const items = completeAt(analyze(text), text, text.indexOf('"tr') + 3);
  assert.deepEqual(items, []);
});
