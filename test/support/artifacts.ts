/**
 * test-artifacts/ (git-ignored): screenshots, logs and packaged files that tests leave for a
 * human or CI to look at. Each test writes below its own subfolder.
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ARTIFACTS_ROOT = join(REPO_ROOT, "test-artifacts");

/** test-artifacts/<subdir>, created if needed. */
export function artifactsDir(subdir: string): string {
  const dir = join(ARTIFACTS_ROOT, subdir);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A file path under test-artifacts/<subdir>/ (the folder is created). */
export function artifactPath(subdir: string, name: string): string {
  return join(artifactsDir(subdir), name);
}
