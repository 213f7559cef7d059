/**
 * The TextMate grammar and the Monarch tokenizer: generated files are current, the snapshot
 * fixtures (test/grammar/*.vmcs) pass vscode-tmgrammar-test, every example tokenizes cleanly,
 * and the Monarch tokenizer colours every word as the TextMate grammar does.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import * as esbuild from "esbuild";
import * as oniguruma from "vscode-oniguruma";
import * as textmate from "vscode-textmate";
import { vmcsMonarchLanguage } from "../playground/src/monarch";
import { REPO_ROOT, staleFiles, TEXTMATE_PATH } from "../scripts/build-grammar";
import { NAME_CATEGORIES, WORD_CATEGORIES } from "../syntaxes/vmcs.grammar";
import { launchChromium, requireChromiumOrSkip } from "./support/chromium";

const execFileAsync = promisify(execFile);
const require = createRequire(import.meta.url);

test("generated grammar files are up to date (run `npm run build:grammar` if not)", () => {
  assert.deepEqual(staleFiles(), []);
});

test("TextMate snapshot fixtures pass vscode-tmgrammar-test", async () => {
  const cli = join(REPO_ROOT, "node_modules", ".bin", "vscode-tmgrammar-test");
  try {
    await execFileAsync(cli, ["--compact", "--config", "test/grammar/grammars.json", "test/grammar/*.vmcs"], {
      cwd: REPO_ROOT,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    assert.fail(`vscode-tmgrammar-test failed:\n${stdout ?? ""}${stderr ?? ""}`);
  }
});

interface TmToken {
  text: string;
  start: number;
  scopes: string[];
}

let registryPromise: Promise<textmate.IGrammar> | undefined;
function loadGrammar(): Promise<textmate.IGrammar> {
  registryPromise ??= (async () => {
    const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new textmate.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (sources: string[]) => new oniguruma.OnigScanner(sources),
        createOnigString: (text: string) => new oniguruma.OnigString(text),
      }),
      loadGrammar: async () =>
        textmate.parseRawGrammar(readFileSync(join(REPO_ROOT, TEXTMATE_PATH), "utf8"), TEXTMATE_PATH),
    });
    const grammar = await registry.loadGrammar("source.vmcs");
    assert.ok(grammar, "grammar source.vmcs did not load");
    return grammar;
  })();
  return registryPromise;
}

function tokenizeTextMate(grammar: textmate.IGrammar, text: string): TmToken[][] {
  let state = textmate.INITIAL;
  return text.split("\n").map((line) => {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    return result.tokens.map((token) => ({
      text: line.slice(token.startIndex, token.endIndex),
      start: token.startIndex,
      scopes: token.scopes,
    }));
  });
}

function exampleFiles(): { name: string; text: string }[] {
  const dir = join(REPO_ROOT, "examples");
  return readdirSync(dir)
    .filter((name) => name.endsWith(".vmcs"))
    .map((name) => ({ name, text: readFileSync(join(dir, name), "utf8") }));
}

test("every example tokenizes without invalid scopes and with handler reasons recognised", async () => {
  const grammar = await loadGrammar();
  const examples = exampleFiles();
  assert.ok(examples.length > 0, "no examples/*.vmcs to tokenize");
  const controls = WORD_CATEGORIES.find((category) => category.id === "controls")!;
  for (const { name, text } of examples) {
    const lines = tokenizeTextMate(grammar, text);
    lines.forEach((tokens, lineIndex) => {
      for (const token of tokens) {
        const invalid = token.scopes.find((scope) => scope.startsWith("invalid"));
        assert.equal(invalid, undefined, `${name}:${lineIndex + 1}: "${token.text}" scoped ${invalid}`);
      }
      // The name after `handler` must be a known exit reason (also a check on the examples).
      const handler = tokens.findIndex(
        (token) => token.text === "handler" && !token.scopes.some((scope) => scope.startsWith("comment")),
      );
      if (handler >= 0) {
        const reason = tokens.slice(handler + 1).find((token) => token.text.trim() !== "");
        const exitReasons = NAME_CATEGORIES.find((category) => category.id === "exitReasons")!;
        assert.ok(
          reason && exitReasons.words.includes(reason.text),
          `${name}:${lineIndex + 1}: handler reason "${reason?.text}" is not a known exit reason`,
        );
      }
      // Every control name outside comments carries the control scope.
      for (const token of tokens) {
        if (
          controls.words.includes(token.text) &&
          !token.scopes.some((scope) => scope.startsWith("comment"))
        ) {
          assert.ok(token.scopes.includes(controls.scope), `${name}:${lineIndex + 1}: ${token.text}`);
        }
      }
    });
  }
});

// A small interpreter of the Monarch rules, following monaco's monarchLexer: at each position
// the first rule whose regex matches at that position wins; group actions cover the match
// group by group; `cases` look the matched text up in the named word lists.
type MonarchAction = string | { token?: string; next?: string; cases?: Record<string, string> };
type MonarchToken = { start: number; text: string; token: string };

function tokenizeMonarch(text: string): MonarchToken[][] {
  const language = vmcsMonarchLanguage as unknown as Record<string, unknown> & {
    tokenizer: Record<string, [RegExp, MonarchAction | MonarchAction[], string?][]>;
  };
  const compiled = new Map<RegExp, RegExp>();
  const anchored = (regex: RegExp) => {
    let result = compiled.get(regex);
    if (!result) {
      result = new RegExp(`^(?:${regex.source})`, regex.flags);
      compiled.set(regex, result);
    }
    return result;
  };
  const resolve = (action: MonarchAction, matched: string): { token: string; next?: string } => {
    if (typeof action === "string") return { token: action };
    if (action.cases) {
      for (const [key, token] of Object.entries(action.cases)) {
        if (key === "@default") continue;
        const words = language[key.slice(1)] as string[] | undefined;
        assert.ok(Array.isArray(words), `Monarch cases refer to a missing list ${key}`);
        if (words.includes(matched)) return { token };
      }
      return { token: action.cases["@default"]!, next: action.next };
    }
    return { token: action.token ?? "", next: action.next };
  };
  const stack = ["root"];
  return text.split("\n").map((line) => {
    const tokens: MonarchToken[] = [];
    let pos = 0;
    while (pos < line.length) {
      const rules = language.tokenizer[stack[stack.length - 1]!];
      assert.ok(rules, `Monarch state ${stack[stack.length - 1]} missing`);
      let advanced = false;
      for (const [regex, action, nextState] of rules) {
        const match = anchored(regex).exec(line.slice(pos));
        if (!match || match[0].length === 0) continue;
        let next = nextState;
        if (Array.isArray(action)) {
          let offset = pos;
          action.forEach((groupAction, index) => {
            const groupText = match[index + 1] ?? "";
            const resolved = resolve(groupAction, groupText);
            if (groupText) tokens.push({ start: offset, text: groupText, token: resolved.token });
            if (resolved.next) next = resolved.next;
            offset += groupText.length;
          });
        } else {
          const resolved = resolve(action, match[0]);
          tokens.push({ start: pos, text: match[0], token: resolved.token });
          if (resolved.next) next = resolved.next;
        }
        if (next === "@pop") stack.pop();
        else if (next) stack.push(next.replace(/^@/, ""));
        pos += match[0].length;
        advanced = true;
        break;
      }
      assert.ok(advanced, `Monarch tokenizer is stuck at "${line.slice(pos)}"`);
    }
    return tokens;
  });
}

test("Monarch tokenizer colours every listed word as the TextMate grammar does", async () => {
  const grammar = await loadGrammar();
  const categories = [...WORD_CATEGORIES, ...NAME_CATEGORIES];
  let compared = 0;
  const fixtures = readdirSync(join(REPO_ROOT, "test", "grammar"))
    .filter((name) => name.endsWith(".vmcs"))
    .map((name) => ({ name, text: readFileSync(join(REPO_ROOT, "test", "grammar", name), "utf8") }));
  for (const { name, text } of [...exampleFiles(), ...fixtures]) {
    const tmLines = tokenizeTextMate(grammar, text);
    const monarchLines = tokenizeMonarch(text);
    tmLines.forEach((tmTokens, lineIndex) => {
      const monarchByStart = new Map(monarchLines[lineIndex]!.map((token) => [token.start, token]));
      for (const tmToken of tmTokens) {
        const category = categories.find((candidate) => tmToken.scopes.includes(candidate.scope));
        if (!category || tmToken.scopes.some((scope) => scope.startsWith("comment"))) continue;
        const monarchToken = monarchByStart.get(tmToken.start);
        assert.equal(
          monarchToken?.token,
          category.monarch,
          `${name}:${lineIndex + 1}:${tmToken.start + 1}: "${tmToken.text}" is ${category.id} in TextMate`,
        );
        compared++;
      }
      // Comments agree too: a comment in one is a comment in the other.
      for (const tmToken of tmTokens) {
        if (!tmToken.scopes.some((scope) => scope.startsWith("comment")) || tmToken.text.trim() === "")
          continue;
        const covering = monarchLines[lineIndex]!.find(
          (token) => token.start <= tmToken.start && tmToken.start < token.start + token.text.length,
        );
        assert.equal(covering?.token, "comment", `${name}:${lineIndex + 1}: comment "${tmToken.text}"`);
      }
    });
  }
  assert.ok(compared > 200, `only ${compared} words compared`);
});

test("language configuration: word pattern keeps #PF, hex numbers and quantities whole", () => {
  const configuration = JSON.parse(readFileSync(join(REPO_ROOT, "language-configuration.json"), "utf8"));
  const wordPattern = new RegExp(configuration.wordPattern, "g");
  const words = "exceptions #PF #GP  io trap 0xfebf_0018  rate 2.5M/s  compute 3us  EPT_MISCONFIG".match(
    wordPattern,
  );
  assert.deepEqual(words, [
    "exceptions",
    "#PF",
    "#GP",
    "io",
    "trap",
    "0xfebf_0018",
    "rate",
    "2.5M/s",
    "compute",
    "3us",
    "EPT_MISCONFIG",
  ]);
  assert.deepEqual(configuration.comments, { lineComment: "//", blockComment: ["/*", "*/"] });
  const increase = new RegExp(configuration.indentationRules.increaseIndentPattern);
  assert.ok(increase.test("vmcs kvm {"));
  assert.ok(!increase.test("handler HLT { halt }"));
  assert.ok(!increase.test("// not code {"));
});

test("snippets are valid and scoped to vmcs", () => {
  const snippets = JSON.parse(readFileSync(join(REPO_ROOT, "snippets", "vmcs.code-snippets"), "utf8"));
  const prefixes = Object.values(snippets).map((snippet) => (snippet as { prefix: string }).prefix);
  for (const required of ["vmcs", "handler", "guest", "path", "irq", "expect", "simulate"]) {
    assert.ok(prefixes.includes(required), `snippet ${required} missing`);
  }
  for (const [name, snippet] of Object.entries(snippets) as [string, { scope: string; body: string[] }][]) {
    assert.equal(snippet.scope, "vmcs", name);
    assert.ok(Array.isArray(snippet.body) && snippet.body.length > 0, name);
  }
});

test("the Monarch tokenizer runs in real monaco (Chromium)", { timeout: 120_000 }, async (t) => {
  const chromium = requireChromiumOrSkip(t);
  if (!chromium) return;
  // Bundle monaco's editor API with the generated tokenizer, as the playground does.
  const bundle = await esbuild.build({
    stdin: {
      contents: [
        'import * as monaco from "monaco-editor/editor/editor.api";',
        'import { VMCS_LANGUAGE_ID, vmcsMonarchLanguage } from "./playground/src/monarch";',
        "monaco.languages.register({ id: VMCS_LANGUAGE_ID });",
        "monaco.languages.setMonarchTokensProvider(VMCS_LANGUAGE_ID, vmcsMonarchLanguage);",
        "window.tokenizeVmcs = (text) =>",
        "  monaco.editor.tokenize(text, VMCS_LANGUAGE_ID).map((line) => line.map((token) => [token.offset, token.type]));",
      ].join("\n"),
      resolveDir: REPO_ROOT,
      sourcefile: "monarch-probe.ts",
      loader: "ts",
    },
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    loader: { ".ttf": "empty", ".css": "empty" },
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]!.text;
  const browser = await launchChromium({ executablePath: chromium });
  try {
    await browser.page.setContent("<!doctype html><body></body>");
    await browser.page.addScriptTag({ content: script });
    const text =
      "handler EPT_MISCONFIG { 95% doorbell: userspace 9us }\nvmcs kvm { proc2 enable_ept exceptions #PF } // x";
    const lines = (await browser.page.evaluate(
      (source) =>
        (window as unknown as { tokenizeVmcs(text: string): [number, string][][] }).tokenizeVmcs(source),
      text,
    )) as [number, string][][];
    const typeAt = (line: number, offset: number) => lines[line]!.find(([start]) => start === offset)?.[1];
    assert.equal(typeAt(0, 0), "keyword.declaration.vmcs");
    assert.equal(typeAt(0, 8), "constant.exit-reason.vmcs");
    assert.equal(typeAt(0, 24), "number.vmcs");
    assert.equal(typeAt(0, 26), "number.unit.vmcs");
    assert.equal(typeAt(0, 28), "type.label.vmcs");
    assert.equal(typeAt(0, 38), "keyword.handler-op.vmcs");
    assert.equal(typeAt(1, 11), "type.control-word.vmcs");
    assert.equal(typeAt(1, 17), "variable.predefined.control.vmcs");
    assert.equal(typeAt(1, 39), "constant.exception.vmcs");
    assert.equal(typeAt(1, 45), "comment.vmcs");
    assert.deepEqual(
      browser.consoleLog.filter((entry) => entry.startsWith("[pageerror]")),
      [],
    );
  } finally {
    await browser.close();
  }
});
