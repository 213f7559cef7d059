/** Analyses a test's `.vmcs` text and fails the test on any error diagnostic (simulator tests). */
import assert from "node:assert/strict";
import { analyze } from "../../core/src/index";

export function cleanProgram(text: string): ReturnType<typeof analyze> {
  const a = analyze(text);
  const errors = a.diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(
    errors.map((d) => `${d.code} ${d.message}`),
    [],
  );
  return a;
}
