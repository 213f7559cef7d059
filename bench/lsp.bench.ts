/**
 * Language-server latency over stdio on a 10,000-line file (bench/generate.ts), measured from a
 * JSON-RPC client as an editor sees it:
 *
 * - hover p50 (target ≤ 2 ms; answered from the cached analysis and the position index);
 * - completion p50 (target ≤ 5 ms);
 * - edit → published diagnostics of *that* version (target ≤ 50 ms, debounce excluded): the
 *   client sends one incremental `didChange` (a range edit, as editors send keystrokes) and waits
 *   for the `publishDiagnostics` whose `version` is the edited one; the server's debounce delay
 *   (50 ms, the server's default) is subtracted. The server's `trapline/fileStatus` of the same
 *   version carries the core's own analyse time, which splits each edit into core `analyze` and
 *   the rest (server conversion, publishing, transport, timer lateness).
 *
 * The server measured is the current source: this bench bundles cli/src/main.ts with esbuild
 * into a temporary directory (as scripts/build.mjs does) and runs `trapline lsp --stdio` from it,
 * so a stale dist/ never gets measured, with the Node flags bin/trapline.js gives the server.
 * Options (environment):
 *   LSP_BENCH_CPU_PROF=DIR   run the server with --cpu-prof, profiles written to DIR
 *   LSP_BENCH_NODE_ARGS="…"  more Node flags for the server (e.g. --trace-gc)
 *   LSP_BENCH_EDITS=N        edits per series (default 30)
 *   LSP_BENCH_PAUSE_MS=N     gap before each edit of the paced series (default 150)
 *   LSP_BENCH_FROM_DIST=1    measure dist/cli/trapline.js instead of a fresh bundle
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Position, PublishDiagnosticsParams } from "vscode-languageserver";
import {
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-languageserver/node";
import { upperBound } from "../core/src/util/search";
import { DEFAULT_DEBOUNCE_MS } from "../server/src/server";
import { generateVmcs } from "./generate";

/** What the measured server waits after an edit (`trapline lsp` runs with the default). */
const DEBOUNCE_MS = DEFAULT_DEBOUNCE_MS;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Line starts of a text, for offset → position in the client (as an editor keeps them). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

function positionIn(starts: number[], offset: number): Position {
  const line = upperBound(starts, offset) - 1;
  return { line, character: offset - starts[line]! };
}

/** Bundles the CLI (the `trapline lsp` entry) as scripts/build.mjs's node group does. */
async function bundleServer(dir: string): Promise<string> {
  const esbuild = await import("esbuild");
  const outfile = join(dir, "trapline.js");
  await esbuild.build({
    entryPoints: [join(REPO_ROOT, "cli", "src", "main.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    mainFields: ["main", "module"],
    external: ["vscode"],
    outfile,
    logLevel: "warning",
  });
  return outfile;
}

interface FileStatus {
  version: number | null;
  analysisMs: number;
}

interface Client {
  connection: MessageConnection;
  child: ChildProcess;
  /** Resolves with the receive time of the diagnostics published for `version`. */
  diagnosticsOf(version: number): Promise<{ at: number; params: PublishDiagnosticsParams }>;
  statusOf(version: number): Promise<FileStatus>;
}

/**
 * The Node flags `trapline lsp --stdio` runs the server with: bin/trapline.js re-starts itself
 * with a larger young generation (SEMI_SPACE_FLAG), which this bench must measure too.
 */
function shippedNodeFlags(): string[] {
  const bin = readFileSync(join(REPO_ROOT, "bin", "trapline.js"), "utf8");
  const flag = /const SEMI_SPACE_FLAG = "([^"]+)"/.exec(bin)?.[1];
  return flag ? [flag] : [];
}

function startServer(bundle: string, profileDir: string | undefined, shippedFlags: string[]): Client {
  const nodeArgs = [...shippedFlags];
  if (profileDir) nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  const extra = process.env.LSP_BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  nodeArgs.push(...extra);
  const child = spawn(process.execPath, [...nodeArgs, bundle, "lsp", "--stdio"], {
    cwd: REPO_ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const connection = createMessageConnection(
    new StreamMessageReader(child.stdout!),
    new StreamMessageWriter(child.stdin!),
  );
  const diagnostics = new Map<number, { at: number; params: PublishDiagnosticsParams }>();
  const statuses = new Map<number, FileStatus>();
  const waiters: { kind: "d" | "s"; version: number; resolve: (value: never) => void }[] = [];
  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      const value = w.kind === "d" ? diagnostics.get(w.version) : statuses.get(w.version);
      if (value) {
        waiters.splice(i, 1);
        w.resolve(value as never);
      }
    }
  };
  // Arrival is stamped when the bytes of a publishDiagnostics message reach this process, before
  // the JSON-RPC reader parses them (and whatever else arrived in the same chunk, such as the
  // 70 KB file status): the client's own parsing is not the server's latency.
  const arrivals: number[] = [];
  const marker = Buffer.from('"method":"textDocument/publishDiagnostics"');
  child.stdout!.on("data", (chunk: Buffer) => {
    const at = performance.now();
    for (let i = chunk.indexOf(marker); i >= 0; i = chunk.indexOf(marker, i + 1)) arrivals.push(at);
  });
  connection.onNotification("textDocument/publishDiagnostics", (params: PublishDiagnosticsParams) => {
    // A marker split across two chunks is missed: then the handler's own time stands in.
    const at = arrivals.shift() ?? performance.now();
    if (params.version !== undefined) diagnostics.set(params.version, { at, params });
    settle();
  });
  connection.onNotification("trapline/fileStatus", (params: FileStatus) => {
    if (params.version !== null) statuses.set(params.version, params);
    settle();
  });
  connection.onNotification(() => undefined);
  connection.onRequest("workspace/configuration", () => [{}]);
  connection.onRequest("client/registerCapability", () => null);
  connection.listen();
  const wait = <T>(kind: "d" | "s", version: number) =>
    new Promise<T>((resolve) => {
      waiters.push({ kind, version, resolve: resolve as (value: never) => void });
      settle();
    });
  return {
    connection,
    child,
    diagnosticsOf: (version) => wait("d", version),
    statusOf: (version) => wait("s", version),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "trapline-lsp-bench-"));
  const bundle =
    process.env.LSP_BENCH_FROM_DIST === "1"
      ? join(REPO_ROOT, "dist", "cli", "trapline.js")
      : await bundleServer(dir);
  const profileDir = process.env.LSP_BENCH_CPU_PROF ? resolve(process.env.LSP_BENCH_CPU_PROF) : undefined;
  const editCount = Number(process.env.LSP_BENCH_EDITS ?? 30);
  const pauseMs = Number(process.env.LSP_BENCH_PAUSE_MS ?? 150);
  const flags = shippedNodeFlags();
  const client = startServer(bundle, profileDir, flags);
  const { connection } = client;
  try {
    await connection.sendRequest("initialize", {
      processId: process.pid,
      rootUri: null,
      capabilities: {
        textDocument: {
          publishDiagnostics: { relatedInformation: true, tagSupport: { valueSet: [1, 2] } },
          hover: { contentFormat: ["markdown", "plaintext"] },
          completion: { completionItem: { snippetSupport: true, documentationFormat: ["markdown"] } },
        },
        workspace: { configuration: false },
      },
    });
    void connection.sendNotification("initialized", {});

    let text = generateVmcs(10_000);
    let starts = lineStarts(text);
    const uri = "file:///bench/big.vmcs";
    let started = performance.now();
    void connection.sendNotification("textDocument/didOpen", {
      textDocument: { uri, languageId: "vmcs", version: 1, text },
    });
    const opened = await client.diagnosticsOf(1);
    const openMs = opened.at - started;
    const openStatus = await client.statusOf(1);

    // Hovers on guest operations spread over the file (the first builds the position index).
    const targets: number[] = [];
    for (
      let at = text.indexOf("mmio write");
      at >= 0 && targets.length < 400;
      at = text.indexOf("mmio write", at + 1)
    ) {
      targets.push(at + 1);
    }
    started = performance.now();
    await connection.sendRequest("textDocument/hover", {
      textDocument: { uri },
      position: positionIn(starts, targets[0]!),
    });
    const firstHoverMs = performance.now() - started;
    const hoverMs: number[] = [];
    let hovered = 0;
    for (let round = 0; round < 3; round++) {
      for (const offset of targets) {
        started = performance.now();
        const hover = await connection.sendRequest("textDocument/hover", {
          textDocument: { uri },
          position: positionIn(starts, offset),
        });
        hoverMs.push(performance.now() - started);
        if (hover) hovered++;
      }
    }

    // Completion in a proc2 statement.
    const completionAt = text.indexOf("enable_ept");
    const completionMs: number[] = [];
    let completed = 0;
    for (let i = 0; i < 200; i++) {
      started = performance.now();
      const items = (await connection.sendRequest("textDocument/completion", {
        textDocument: { uri },
        position: positionIn(starts, completionAt),
      })) as unknown[] | null;
      completionMs.push(performance.now() - started);
      if (items?.length) completed++;
    }

    // Edits: retype the compute time of a guest path near the middle of the file (a range edit
    // of its digits, which changes that guest's estimate), time until that version's
    // diagnostics arrive. Each edit waits for the previous version's file status (the server
    // has finished it) and then for `pauseMs`, a typist's gap between keystrokes: without it
    // the edit lands in the garbage collection of the previous analysis (a 10–25 ms scavenge
    // that V8 runs right after it), which is the previous edit's cost, not this one's. The
    // back-to-back series (no gap) is reported too.
    const middleOf = (source: string) => {
      const anchor = source.indexOf("compute 3us", source.length >> 1);
      if (anchor < 0) throw new Error("the generated file has no `compute 3us` after its middle");
      return anchor + "compute ".length;
    };
    let middle = middleOf(text);
    let digits = "3";
    let version = 1;
    let expectedDiagnostics = opened.params.diagnostics.length;
    const hoverAfterEditMs: number[] = [];
    /** Retypes the digits at `middle` as the next version (one range edit); returns when it was sent. */
    const sendEdit = (): number => {
      version++;
      const next = String(2 + (version % 5));
      const range = { start: positionIn(starts, middle), end: positionIn(starts, middle + digits.length) };
      text = text.slice(0, middle) + next + text.slice(middle + digits.length);
      digits = next;
      starts = lineStarts(text);
      const sentAt = performance.now();
      void connection.sendNotification("textDocument/didChange", {
        textDocument: { uri, version },
        contentChanges: [{ range, text: next }],
      });
      return sentAt;
    };
    const measureEdits = async (count: number, pauseMs: number, hoverAfter = false) => {
      const total: number[] = [];
      const core: number[] = [];
      for (let i = 0; i < count; i++) {
        if (pauseMs > 0) await new Promise((resolveGap) => setTimeout(resolveGap, pauseMs));
        const sentAt = sendEdit();
        const published = await client.diagnosticsOf(version);
        total.push(published.at - sentAt - DEBOUNCE_MS);
        const status = await client.statusOf(version);
        core.push(status.analysisMs);
        if (published.params.diagnostics.length !== expectedDiagnostics)
          throw new Error(`version ${version}: diagnostics changed under a numeric edit`);
        if (hoverAfter) {
          // The first request on a new version builds its position index.
          const hoverAt = performance.now();
          await connection.sendRequest("textDocument/hover", {
            textDocument: { uri },
            position: positionIn(starts, targets[i % targets.length]!),
          });
          hoverAfterEditMs.push(performance.now() - hoverAt);
        }
      }
      return { total, core, rest: total.map((ms, i) => ms - core[i]!) };
    };
    // Warm-up: the analysis and publishing code runs optimised by the time of the measured
    // edits, as in an editing session.
    await measureEdits(10, 0);
    const paced = await measureEdits(editCount, pauseMs, true);
    const backToBack = await measureEdits(editCount, 0);

    // Completion right after a keystroke (as editors ask while typing): the edited version is
    // not analysed yet when the request arrives.
    const completionAfterEditMs: number[] = [];
    for (let i = 0; i < Math.min(editCount, 15); i++) {
      await new Promise((resolveGap) => setTimeout(resolveGap, pauseMs));
      sendEdit();
      const askedAt = performance.now();
      await connection.sendRequest("textDocument/completion", {
        textDocument: { uri },
        position: positionIn(starts, completionAt),
      });
      completionAfterEditMs.push(performance.now() - askedAt);
      await client.statusOf(version);
    }
    const editMs = paced.total;
    const fileLine = `file: ${starts.length} lines, ${(text.length / 1024).toFixed(0)} KiB, ${opened.params.diagnostics.length} diagnostics; open → diagnostics ${openMs.toFixed(1)} ms (core ${openStatus.analysisMs.toFixed(1)} ms); first hover (index build) ${firstHoverMs.toFixed(1)} ms`;

    // The same edits on a file with diagnostics to convert and publish on every version: an
    // unknown control in every unit (an error with a did-you-mean fix each).
    void connection.sendNotification("textDocument/didClose", { textDocument: { uri } });
    text = generateVmcs(10_000).replaceAll("hlt_exiting", "hlt_exitting");
    starts = lineStarts(text);
    middle = middleOf(text);
    digits = "3";
    version = 1000;
    void connection.sendNotification("textDocument/didOpen", {
      textDocument: { uri, languageId: "vmcs", version, text },
    });
    const reopened = await client.diagnosticsOf(version);
    await client.statusOf(version);
    expectedDiagnostics = reopened.params.diagnostics.length;
    const publishedKiB = Buffer.byteLength(JSON.stringify(reopened.params), "utf8") / 1024;
    await measureEdits(5, 0);
    const withDiagnostics = await measureEdits(Math.min(editCount, 20), pauseMs);

    const p50 = (v: number[]) => percentile(v, 50).toFixed(2);
    const p95 = (v: number[]) => percentile(v, 95).toFixed(2);
    console.log(`server: node ${[...flags, "trapline.js lsp --stdio"].join(" ")} (flags as bin/trapline.js)`);
    console.log(fileLine);
    console.log(
      `hover:      p50 ${p50(hoverMs)} ms  p95 ${p95(hoverMs)} ms  (${hoverMs.length} requests, ${hovered} answered; target p50 ≤ 2 ms)`,
    );
    console.log(
      `completion: p50 ${p50(completionMs)} ms  p95 ${p95(completionMs)} ms  (${completed} answered; target p50 ≤ 5 ms)`,
    );
    const editLine = (label: string, series: { total: number[]; core: number[]; rest: number[] }) => {
      console.log(
        `edit → diagnostics (debounce excluded), ${label}: p50 ${p50(series.total)} ms  p95 ${p95(series.total)} ms  (${series.total.length} edits; target ≤ 50 ms)`,
      );
      console.log(
        `  core analyze: p50 ${p50(series.core)} ms  p95 ${p95(series.core)} ms; the rest (server, transport, timer, GC outside analyze): p50 ${p50(series.rest)} ms  p95 ${p95(series.rest)} ms`,
      );
    };
    editLine(`${pauseMs} ms between edits`, paced);
    console.log(
      `  first hover after each of these edits (builds the version's index): p50 ${p50(hoverAfterEditMs)} ms  p95 ${p95(hoverAfterEditMs)} ms`,
    );
    editLine("back to back", backToBack);
    console.log(
      `completion right after an edit (version not analysed yet): p50 ${p50(completionAfterEditMs)} ms  p95 ${p95(completionAfterEditMs)} ms`,
    );
    editLine(
      `file with ${expectedDiagnostics} diagnostics (${publishedKiB.toFixed(0)} KiB published per version), ${pauseMs} ms between edits`,
      withDiagnostics,
    );
    const failures: string[] = [];
    if (percentile(hoverMs, 50) > 2) failures.push("hover p50 > 2 ms");
    if (percentile(completionMs, 50) > 5) failures.push("completion p50 > 5 ms");
    if (percentile(editMs, 50) > 50) failures.push("edit → diagnostics p50 > 50 ms");
    if (hovered === 0) failures.push("no hover answered");
    if (completed === 0) failures.push("no completion answered");
    if (failures.length) {
      console.log(`lsp bench: over target: ${failures.join(", ")}`);
      process.exitCode = 1;
    }
  } finally {
    try {
      await connection.sendRequest("shutdown");
      void connection.sendNotification("exit");
    } catch {
      // already gone
    }
    await new Promise<void>((resolveExit) => {
      if (client.child.exitCode !== null) resolveExit();
      else client.child.once("exit", () => resolveExit());
      setTimeout(() => client.child.kill(), 3000).unref();
    });
    connection.dispose();
    rmSync(dir, { recursive: true, force: true });
    if (profileDir) console.log(`server CPU profile written to ${profileDir}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
