/**
 * The import rules of docs/ARCHITECTURE.md ("Layers") fail when broken: probe files that break
 * each rule, and files that keep it, are linted with the repository's biome.json in a scratch
 * copy of the folder layout (Biome's overrides match paths relative to the configuration), and
 * core/tsconfig.json is shown to reject `import "vscode"`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO_ROOT } from "./support/artifacts";

const BIN = join(REPO_ROOT, "node_modules", ".bin");

/** path → source; `bad` files must each be reported, `good` ones never. */
const BAD: Record<string, string> = {
  "core/src/analysis/toSim.ts": 'import "../sim/engine";',
  "core/src/analysis/vscode.ts": 'import "vscode";',
  "core/src/lang/toModel.ts": 'import "../model/ir";',
  "core/src/model/toAnalysis.ts": 'import "../analysis/checks";',
  "core/src/vmx/toLang.ts": 'import "../lang/units";',
  "core/src/util/toSource.ts": 'import "../source";',
  "core/src/sim/node.ts": 'import "node:fs";',
  "core/src/sim/facade.ts": 'import "../index";',
  "cli/src/deep.ts": 'import "../../core/src/vmx/profiles";',
  "cli/src/server.ts": 'import "../../server/src/server";',
  "server/src/features/node.ts": 'import "node:net";',
  "server/src/client.ts": 'import "../../client/src/status";',
  "client/src/webview.ts": 'import "../../webview/src/app";',
  "client/src/server.ts": 'import "../../server/src/protocol";',
  "webview/src/node.ts": 'import "node:fs";',
  "webview/src/deep.ts": 'import "../../core/src/sim/timeline";',
  "playground/src/webview.ts": 'import "../../webview/src/app";',
  "protocol/runtime.ts": 'import "vscode-languageserver";',
  // A cycle: both ends are reported.
  "cli/src/cycleA.ts": 'import { b } from "./cycleB";\nexport const a = b;',
  "cli/src/cycleB.ts": 'import { a } from "./cycleA";\nexport const b = () => a;',
};
const GOOD: Record<string, string> = {
  "core/src/analysis/ok.ts": 'import "../model/ir";\nimport "../util/format";',
  "core/src/sim/ok.ts": 'import "../analysis/exits";',
  "cli/src/ok.ts": 'import "../../core/src/index";\nimport "../../server/src/node";\nimport "node:fs";',
  "server/src/node.ts": 'import "node:net";\nimport "../../core/src/index";',
  "client/src/ok.ts": 'import "vscode";\nimport "../../protocol/lsp";\nimport "../../core/src/util/format";',
  "webview/src/ok.ts": 'import "../../core/src/results";\nimport "../../protocol/panel";',
  "playground/src/ok.ts": 'import "../../protocol/lsp";\nimport "monaco-editor";',
  "protocol/ok.ts": 'import type {} from "../core/src/results";',
};

interface BiomeReport {
  diagnostics: { category: string; location: { path: string } }[];
}

describe("layer rules", () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), "trapline-layers-"));
    copyFileSync(join(REPO_ROOT, "biome.json"), join(scratch, "biome.json"));
    for (const [path, text] of Object.entries({ ...BAD, ...GOOD })) {
      mkdirSync(dirname(join(scratch, path)), { recursive: true });
      writeFileSync(join(scratch, path), `${text}\n`);
    }
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("Biome reports every import that breaks a rule, and only those", () => {
    const run = spawnSync(join(BIN, "biome"), ["lint", "--reporter=json", "--max-diagnostics=none", "."], {
      cwd: scratch,
      encoding: "utf8",
    });
    const report = JSON.parse(run.stdout) as BiomeReport;
    const flagged = new Set(
      report.diagnostics
        .filter(
          (d) =>
            d.category === "lint/style/noRestrictedImports" ||
            d.category === "lint/suspicious/noImportCycles",
        )
        .map((d) => d.location.path),
    );
    for (const path of Object.keys(BAD)) assert.ok(flagged.has(path), `${path} breaks a rule but passed`);
    for (const path of Object.keys(GOOD))
      assert.ok(!flagged.has(path), `${path} keeps the rules but was reported`);
  });

  it("core/tsconfig.json rejects an import of vscode", () => {
    const probe = join(scratch, "probe.ts");
    writeFileSync(probe, 'import * as vscode from "vscode";\nexport const window = vscode.window;\n');
    const config = join(scratch, "tsconfig.json");
    writeFileSync(
      config,
      JSON.stringify({ extends: join(REPO_ROOT, "core", "tsconfig.json"), include: [], files: [probe] }),
    );
    const run = spawnSync(join(BIN, "tsc"), ["-p", config, "--noEmit"], { encoding: "utf8" });
    assert.notEqual(run.status, 0, "the core type-checked an import of vscode");
    assert.match(run.stdout, /core\/src is editor-free/);
  });
});
