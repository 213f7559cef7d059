/**
 * Property tests (fast-check): generated and mutated `.vmcs` text through the whole pipeline,
 * and random edit streams through the language server in this process. A modest count per
 * `npm test` run (seeded, so a failure repeats); `npm run fuzz` (scripts/fuzz.ts) is the long
 * run. A failure prints the shrunk counterexample: it becomes a test in
 * test/fuzz-regressions.test.ts once fixed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { CancellationTokenSource } from "vscode-languageserver/node";
import {
  checkPipeline,
  EXAMPLES,
  estimateProblems,
  generatedFile,
  mutatedExample,
  spanInside,
} from "./support/fuzz";
import { startInProcess } from "./support/lspHarness";

/** Runs per property in `npm test`; FUZZ_RUNS raises it (FUZZ_SEED picks another seed). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const SEED = Number(process.env.FUZZ_SEED ?? 15);

const pipelineHolds = (text: string) => {
  const report = checkPipeline(text);
  if (report.problems.length > 0) throw new Error(report.problems.join("\n"));
};

describe("the pipeline on generated and mutated text (fast-check)", () => {
  it("text generated from the grammar: no exception, spans inside the text, finite estimates, fixes that parse, streaming = whole-tree lowering, bounded simulations", () => {
    fc.assert(fc.property(generatedFile(), pipelineHolds), { numRuns: RUNS, seed: SEED });
  });

  it("the examples mutated (tokens and lines deleted, duplicated, swapped; random bytes; huge numbers; deep nesting)", () => {
    fc.assert(fc.property(mutatedExample, pipelineHolds), { numRuns: RUNS, seed: SEED });
  });

  it("the checks can fail: a span outside the text and figures that are not numbers are reported", () => {
    // A check that cannot fail is a defect: the same functions the properties use, on broken values.
    assert.equal(spanInside({ start: 0, end: 10 }, 10), true);
    assert.equal(spanInside({ start: 3, end: 11 }, 10), false);
    assert.equal(spanInside({ start: 5, end: 4 }, 10), false);
    const clean =
      "vmcs kvm { proc hlt_exiting }\nhandler HLT { halt }\nguest g on kvm { path p rate 1k/s { hlt } }\n";
    const report = checkPipeline(clean);
    assert.deepEqual(report.problems, []);
    assert.equal(report.simulated, 1, "a clean file is simulated");
    const estimate = report.analysis!.estimates.get("g")!;
    assert.deepEqual(estimateProblems("g", estimate), []);
    const broken = {
      ...estimate,
      byReason: estimate.byReason,
      paths: estimate.paths,
      operations: estimate.operations,
      hostCpu: Number.NaN,
      overhead: 1.5,
      exitsPerSecond: -1,
    };
    assert.deepEqual(estimateProblems("g", broken), [
      "estimate of g: exitsPerSecond = -1",
      "estimate of g: hostCpu = NaN",
      "estimate of g: overhead 1.5 above 100 %",
    ]);
  });
});

// ---- the language server under random edit streams -------------------------------------------

interface Position {
  line: number;
  character: number;
}

type Step =
  | { kind: "incremental"; start: number; end: number; insert: string }
  | { kind: "full"; text: string }
  | { kind: "request"; method: string; at: number; outOfRange: boolean; cancel: boolean };

const REQUESTS = [
  "textDocument/hover",
  "textDocument/completion",
  "textDocument/definition",
  "textDocument/references",
  "textDocument/prepareRename",
  "textDocument/rename",
  "textDocument/codeAction",
  "textDocument/codeLens",
  "textDocument/inlayHint",
  "textDocument/semanticTokens/full",
  "textDocument/semanticTokens/range",
  "textDocument/documentSymbol",
  "textDocument/foldingRange",
  "textDocument/diagnostic",
  "trapline/estimateReport",
  "trapline/compare",
  "trapline/fileInfo",
];

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        fc.nat(),
        fc.nat({ max: 40 }),
        fc.oneof(
          fc.string({ maxLength: 6 }),
          fc.constantFrom(
            "{",
            "}",
            "\n",
            "repeat 3 {",
            "call f0",
            "cpuid",
            "proc hlt_exiting",
            "\r\n",
            "😀",
            "\uD800",
          ),
        ),
      )
      .map(([start, length, insert]) => ({
        kind: "incremental" as const,
        start,
        end: start + length,
        insert,
      })),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(mutatedExample, generatedFile()).map((text) => ({ kind: "full" as const, text })),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...REQUESTS), fc.nat(), fc.boolean(), fc.boolean())
      .map(([method, at, outOfRange, cancel]) => ({
        kind: "request" as const,
        method,
        at,
        outOfRange,
        cancel,
      })),
  },
);

function positionOf(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  const line = before.split("\n").length - 1;
  return { line, character: offset - (before.lastIndexOf("\n") + 1) };
}

function paramsFor(method: string, uri: string, position: Position, text: string): unknown {
  const textDocument = { uri };
  const end = positionOf(text, text.length);
  switch (method) {
    case "textDocument/references":
      return { textDocument, position, context: { includeDeclaration: true } };
    case "textDocument/rename":
      return { textDocument, position, newName: "renamed" };
    case "textDocument/codeAction":
      return { textDocument, range: { start: position, end: position }, context: { diagnostics: [] } };
    case "textDocument/inlayHint":
    case "textDocument/semanticTokens/range":
      return { textDocument, range: { start: { line: 0, character: 0 }, end } };
    case "textDocument/codeLens":
    case "textDocument/semanticTokens/full":
    case "textDocument/documentSymbol":
    case "textDocument/foldingRange":
    case "textDocument/diagnostic":
      return { textDocument };
    case "trapline/estimateReport":
    case "trapline/fileInfo":
      return { uri };
    case "trapline/compare":
      return { uri, guest: "g" };
    default:
      return { textDocument, position };
  }
}

/** How long one request may take on a loaded 2-core machine before the test calls it a hang. */
const REQUEST_TIMEOUT_MS = 30_000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms: ${what}`)),
      REQUEST_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("the language server under random edit streams (in process)", () => {
  it("incremental and full changes, requests at random and out-of-range positions, cancellations: every request answered, diagnostics inside the text", async () => {
    const client = await startInProcess({}, 5);
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...[0, 1, 2, 3, 4]),
          fc.array(step, { minLength: 5, maxLength: 30 }),
          async (example, steps) => {
            const uri = `file:///fuzz/stream-${run++}.vmcs`;
            let text = EXAMPLES[example]!.text;
            let version = 1;
            client.open(uri, text);
            const pending: Promise<unknown>[] = [];
            for (const s of steps) {
              if (s.kind === "incremental") {
                const start = s.start % (text.length + 1);
                const end = Math.min(text.length, start + (s.end - s.start));
                const range = { start: positionOf(text, start), end: positionOf(text, end) };
                text = text.slice(0, start) + s.insert + text.slice(end);
                void client.connection.sendNotification("textDocument/didChange", {
                  textDocument: { uri, version: ++version },
                  contentChanges: [{ range, text: s.insert }],
                });
              } else if (s.kind === "full") {
                text = s.text;
                client.change(uri, ++version, text);
              } else {
                const position = s.outOfRange
                  ? { line: 100_000 + s.at, character: 5_000 + s.at }
                  : positionOf(text, s.at % (text.length + 1));
                const source = new CancellationTokenSource();
                const answer = client.connection
                  .sendRequest(s.method, paramsFor(s.method, uri, position, text), source.token)
                  .then(
                    () => "answered",
                    () => "error answered",
                  );
                if (s.cancel) source.cancel();
                pending.push(withTimeout(answer, `${s.method} at ${JSON.stringify(position)}`));
              }
            }
            await Promise.all(pending);
            // The server is alive and its final diagnostics lie inside the final text.
            const diagnostics = await withTimeout(
              client.diagnostics(uri, version),
              `diagnostics of version ${version}`,
            );
            const lines = text.split(/\r\n|\r|\n/);
            for (const d of diagnostics) {
              for (const p of [d.range.start, d.range.end]) {
                assert.ok(
                  p.line >= 0 && p.line < lines.length,
                  `line ${p.line} of ${lines.length}: ${d.message}`,
                );
                assert.ok(
                  p.character >= 0 && p.character <= lines[p.line]!.length,
                  `character ${p.character}: ${d.message}`,
                );
              }
            }
            await withTimeout(
              client.request("textDocument/documentSymbol", { textDocument: { uri } }),
              "documentSymbol after the stream",
            );
            void client.connection.sendNotification("textDocument/didClose", { textDocument: { uri } });
          },
        ),
        { numRuns: Math.max(10, Math.round(RUNS / 6)), seed: SEED },
      );
    } finally {
      // Shut down first, so nothing the server still sends meets a closed stream.
      await withTimeout(client.request("shutdown", null), "shutdown");
      await client.close();
    }
  });
});
