// Builds the production bundles and packages the extension as trapline-<version>.vsix.
// Everything the extension needs at run time is bundled into dist/, so vsce runs with
// --no-dependencies (no node_modules in the .vsix, no `npm list`), which also works offline.
// Relative links in README.md are kept as they are: the repository is not on GitHub, so vsce
// cannot infer absolute ones.
//
//   npm run package            -> trapline-<version>.vsix in the repository root
//   npm run package -- --out=DIR/NAME.vsix
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "./build.mjs";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const manifest = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));
let outOption;
try {
  outOption = parseArgs({ options: { out: { type: "string" } }, strict: true }).values.out;
} catch (error) {
  console.error(`package: ${error.message} (use --out=FILE.vsix)`);
  process.exit(2);
}
const out = outOption ?? join(repoRoot, `${manifest.name}-${manifest.version}.vsix`);

const started = performance.now();
const buildCode = await build(["--production"]);
if (buildCode !== 0) process.exit(buildCode);

const vsce = join(repoRoot, "node_modules", ".bin", "vsce");
try {
  execFileSync(vsce, ["package", "--no-dependencies", "--no-rewrite-relative-links", "--out", out], {
    cwd: repoRoot,
    stdio: ["ignore", "inherit", "inherit"],
  });
} catch {
  console.error("package: vsce package failed (see above)");
  process.exit(1);
}

const size = statSync(out).size;
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `package: ${relative(process.cwd(), out) || out} ${(size / 1024).toFixed(1)} KiB in ${seconds} s`,
);
