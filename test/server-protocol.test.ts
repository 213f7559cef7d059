/** The custom protocol is documented (docs/lsp.md) and the status text reads it correctly. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { formatStatus } from "../client/src/status";
import { CUSTOM_METHODS, type FileStatusParams } from "../server/src/protocol";
import { REPO_ROOT } from "./support/lspHarness";

test("every custom method is documented in docs/lsp.md", () => {
  const doc = readFileSync(join(REPO_ROOT, "docs", "lsp.md"), "utf8");
  for (const method of CUSTOM_METHODS)
    assert.ok(doc.includes(`\`${method}\``), `${method} missing from docs/lsp.md`);
});

test("the language status shows the headline overhead and exits, and saturation", () => {
  const status: FileStatusParams = {
    uri: "file:///a.vmcs",
    version: 3,
    target: { profile: "haswell", hz: 3e9, declared: false },
    guests: [
      {
        name: "g",
        vmcs: "k",
        vcpus: 2,
        exitsPerSecond: 120_000,
        overhead: 0.125,
        hostCpu: 0.5,
        demand: 1.2,
        range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } },
      },
    ],
    totalExitsPerSecond: 120_000,
    maxOverhead: 0.125,
    errors: 0,
    warnings: 1,
    analysisMs: 1,
  };
  const text = formatStatus(status);
  assert.equal(text.text, "$(pulse) 12.5% overhead · 120k/s exits $(warning)");
  assert.match(
    text.detail,
    /^haswell \(default\) · g: 12.5%, 120k\/s, host CPU 0.500 cores · 0 errors, 1 warnings$/,
  );
  assert.equal(text.severity, "warning");
  assert.equal(formatStatus(undefined).detail, "analysing…");
});
