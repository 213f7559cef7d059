/**
 * Tests that need a tool from outside npm (Chromium, Neovim, code-server) skip with a clear
 * message on a developer machine without it, and fail in CI (process.env.CI), where
 * .ci/run installs everything.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";

export function isCi(): boolean {
  const value = process.env.CI;
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}

/** Skips the test (or fails it under CI) because `what` is missing; `howToGet` says how to install it. */
export function missingTool(t: TestContext, what: string, howToGet: string): void {
  const message = `${what} is not available: ${howToGet}`;
  if (isCi()) assert.fail(`${message} (CI requires it)`);
  t.skip(message);
}
