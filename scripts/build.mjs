// Bundles every Trapline artefact with esbuild. Type checking is separate (`npm run typecheck`).
//
//   node scripts/build.mjs                  development build (sourcemaps)
//   node scripts/build.mjs --production     minified, no sourcemaps (what the .vsix ships)
//   node scripts/build.mjs --watch          rebuild on change
//   node scripts/build.mjs --only=cli,client  build only the named bundles
//
// esbuild fixes platform and format per context, so the bundles are grouped into one context per
// kind of output (Node CommonJS, browser scripts, the monaco playground); within a group every
// entry point shares one context and one incremental rebuild. An entry whose source file does
// not exist yet is skipped with a one-line note so the build works while others write them.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as esbuild from "esbuild";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Every bundle: `name` is what --only selects; `out` is the output path without extension,
 * relative to the repository root. `group` decides the esbuild options (see GROUPS).
 */
export const BUNDLES = [
  { name: "cli", group: "node", entry: "cli/src/main.ts", out: "dist/cli/trapline" },
  { name: "client", group: "node", entry: "client/src/extension.ts", out: "dist/client/extension" },
  { name: "server", group: "browser", entry: "server/src/browser.ts", out: "dist/server/browser" },
  { name: "webview", group: "browser", entry: "webview/src/main.ts", out: "dist/webview/timeline" },
  { name: "webview-css", group: "browser", entry: "webview/src/timeline.css", out: "dist/webview/timeline" },
  { name: "sim-worker", group: "browser", entry: "webview/src/simWorker.ts", out: "dist/webview/sim-worker" },
  // The sweep panel page (Trapline: Run Sweep): its own page, estimates run in it.
  { name: "sweep", group: "browser", entry: "webview/src/sweepPage.ts", out: "dist/webview/sweep" },
  { name: "sweep", group: "browser", entry: "webview/src/sweep.css", out: "dist/webview/sweep" },
  { name: "playground", group: "playground", entry: "playground/src/main.ts", out: "playground-dist/main" },
  {
    // Monaco runs its language-independent services (diffing, links, word ranges) in a worker;
    // the playground points MonacoEnvironment.getWorkerUrl at this file.
    name: "playground",
    group: "playground",
    entry: "node_modules/monaco-editor/esm/vs/editor/editor.worker.js",
    out: "playground-dist/editor.worker",
    requires: "playground/src/main.ts",
  },
  // The playground's copies of the extension's language server (as a worker) and timeline panel
  // page; playground-dist/ must be self-contained so any static host can serve it.
  {
    name: "playground",
    group: "playground",
    entry: "server/src/browser.ts",
    out: "playground-dist/lsp-worker",
    requires: "playground/src/main.ts",
  },
  {
    name: "playground",
    group: "playground",
    entry: "webview/src/main.ts",
    out: "playground-dist/timeline/timeline",
    requires: "playground/src/main.ts",
  },
  {
    name: "playground",
    group: "playground",
    entry: "webview/src/timeline.css",
    out: "playground-dist/timeline/timeline",
    requires: "playground/src/main.ts",
  },
  {
    name: "playground",
    group: "playground",
    entry: "webview/src/simWorker.ts",
    out: "playground-dist/timeline/sim-worker",
    requires: "playground/src/main.ts",
  },
];

function groupOptions(group, production) {
  const common = {
    bundle: true,
    minify: production,
    sourcemap: production ? false : "linked",
    sourcesContent: !production,
    logLevel: "warning",
    absWorkingDir: repoRoot,
    outdir: repoRoot,
    // Keep the source tree's relative paths out of the output; entry names come from `out`.
    entryNames: "[dir]/[name]",
    legalComments: production ? "none" : "inline",
  };
  switch (group) {
    case "node":
      return {
        ...common,
        platform: "node",
        format: "cjs",
        target: "node20",
        // The extension host provides `vscode`; everything else (vscode-languageclient,
        // vscode-languageserver) is bundled so the .vsix needs no node_modules.
        external: ["vscode"],
        // Prefer the CommonJS/Node builds of dual packages.
        mainFields: ["main", "module"],
      };
    case "browser":
      return {
        ...common,
        platform: "browser",
        format: "iife",
        target: ["chrome110", "firefox115", "safari16"],
        define: { "process.env.NODE_ENV": production ? '"production"' : '"development"' },
      };
    case "playground":
      return {
        ...common,
        platform: "browser",
        format: "iife",
        target: ["chrome110", "firefox115", "safari16"],
        // Monaco's codicon font; CSS imported by monaco is collected into main.css.
        // The examples/ files are bundled as text (playground/src/examples.ts).
        loader: { ".ttf": "file", ".vmcs": "text" },
        assetNames: "playground-dist/assets/[name]-[hash]",
        define: { "process.env.NODE_ENV": production ? '"production"' : '"development"' },
      };
    default:
      throw new Error(`unknown bundle group ${group}`);
  }
}

/**
 * The command line, read by node:util's parseArgs (strict: an unknown option or a missing
 * value is an error with its name). `--only` takes a comma-separated list, `--only=a,b` or
 * `--only a,b`.
 */
function parseCommandLine(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        watch: { type: "boolean", default: false },
        production: { type: "boolean", default: false },
        only: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`build: ${error.message} (use --watch, --production, --only=NAME[,NAME])`);
    process.exit(2);
  }
  const only = values.only === undefined ? null : new Set(values.only.split(",").filter(Boolean));
  if (only) {
    const known = new Set(BUNDLES.map((bundle) => bundle.name));
    for (const name of only) {
      if (!known.has(name)) {
        console.error(`build: unknown bundle ${name}; known: ${[...known].join(", ")}`);
        process.exit(2);
      }
    }
  }
  return { watch: values.watch, production: values.production, only };
}

/** Logs each rebuild in watch mode, in the shape VS Code's esbuild problem matchers expect. */
function watchLogger(group) {
  return {
    name: "trapline-watch-log",
    setup(build) {
      build.onStart(() => console.log(`[watch] build started (${group})`));
      build.onEnd((result) => {
        for (const message of result.errors) {
          const where = message.location
            ? `${message.location.file}:${message.location.line}:${message.location.column}: `
            : "";
          console.error(`✘ [ERROR] ${where}${message.text}`);
        }
        console.log(`[watch] build finished (${group})`);
      });
    },
  };
}

/** Copies the playground's static files (index.html, …) next to its bundle, if it has any. */
function copyPlaygroundStatic() {
  const staticDir = join(repoRoot, "playground", "static");
  const indexHtml = join(repoRoot, "playground", "index.html");
  mkdirSync(join(repoRoot, "playground-dist"), { recursive: true });
  if (existsSync(staticDir)) cpSync(staticDir, join(repoRoot, "playground-dist"), { recursive: true });
  if (existsSync(indexHtml)) cpSync(indexHtml, join(repoRoot, "playground-dist", "index.html"));
}

export async function build(argv) {
  const args = parseCommandLine(argv);
  const selected = BUNDLES.filter((bundle) => !args.only || args.only.has(bundle.name));
  const present = [];
  for (const bundle of selected) {
    const required = bundle.requires ?? bundle.entry;
    if (existsSync(join(repoRoot, required)) && existsSync(join(repoRoot, bundle.entry)))
      present.push(bundle);
    else if (!bundle.requires)
      console.log(`build: skipping ${bundle.name}: ${bundle.entry} does not exist yet`);
  }

  if (args.production) {
    // A production build must not ship stale sourcemaps from an earlier development build.
    for (const bundle of present) {
      for (const ext of [".js.map", ".css.map"]) rmSync(join(repoRoot, bundle.out + ext), { force: true });
    }
  }

  const groups = new Map();
  for (const bundle of present) {
    if (!groups.has(bundle.group)) groups.set(bundle.group, []);
    groups.get(bundle.group).push(bundle);
  }

  const started = performance.now();
  const contexts = [];
  for (const [group, bundles] of groups) {
    const options = groupOptions(group, args.production);
    contexts.push(
      await esbuild.context({
        ...options,
        entryPoints: bundles.map((bundle) => ({ in: bundle.entry, out: bundle.out })),
        plugins: args.watch ? [watchLogger(group)] : [],
      }),
    );
  }
  if (groups.has("playground")) copyPlaygroundStatic();

  if (args.watch) {
    await Promise.all(contexts.map((context) => context.watch()));
    console.log(`build: watching ${present.map((bundle) => bundle.entry).join(", ")}`);
    return 0;
  }

  let failed = false;
  try {
    await Promise.all(
      contexts.map((context) =>
        context.rebuild().catch(() => {
          // esbuild has already printed the located errors (logLevel "warning").
          failed = true;
        }),
      ),
    );
  } finally {
    await Promise.all(contexts.map((context) => context.dispose()));
  }
  const elapsed = Math.round(performance.now() - started);
  if (failed) {
    console.error(`build: failed after ${elapsed} ms`);
    return 1;
  }
  console.log(
    `build: ${args.production ? "production" : "development"} build of ${present.length} bundle(s) in ${elapsed} ms`,
  );
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const code = await build(process.argv.slice(2));
  if (code !== 0) process.exit(code);
}
