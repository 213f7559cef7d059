/**
 * Language-server memory over a long edit session: 20,000 incremental edits over stdio against
 * the built server (`dist/cli/trapline.js lsp --stdio`, with the Node flags bin/trapline.js
 * gives it), as a typist would send them, each followed by the requests an editor sends while
 * one types (completion after every edit; hover, semantic tokens delta, inlay hints, code lenses
 * and code actions after every tenth; a request cancelled at once after every seventh; another
 * document opened and closed every 500 edits), with the published diagnostics awaited every
 * 50 edits so the debounce publishes too.
 *
 * Every 1,000 edits the server is sampled: its RSS (/proc/PID/status VmRSS) and its heap after
 * two full garbage collections (`heapUsed`, read by a probe preloaded into the server with
 * `--require`: on SIGUSR2 it runs `gc()` and writes `process.memoryUsage()` to stderr — the
 * server itself has no such hook). Pass: the heap after GC levels off — over the second half of
 * the session it grows by less than PLATEAU_TOLERANCE_MB (a leak of one analysis per version
 * would add hundreds of MB; a per-edit leak of ~100 bytes 1 MB). RSS is printed, not judged: V8
 * keeps freed pages mapped.
 *
 * Options (environment):
 *   LSP_MEMORY_EDITS=N       edits (default 20000)
 *   LSP_MEMORY_FILE=PATH     the edited file (default examples/kvm-default.vmcs)
 *   LSP_MEMORY_SHIPPED_FLAGS=0  without bin/trapline.js's --max-semi-space-size (V8's default
 *                            young generation), to see how much of the RSS is that flag's
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CancellationTokenSource,
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-languageserver/node";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const EDITS = Number(process.env.LSP_MEMORY_EDITS ?? 20_000);
const SAMPLE_EVERY = Math.max(1, Math.floor(EDITS / 20));
const PLATEAU_TOLERANCE_MB = 4;

const PROBE = `
const { writeSync } = require("node:fs");
process.on("SIGUSR2", () => {
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  writeSync(2, "TRAPLINE_MEMORY " + JSON.stringify({ heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers }) + "\\n");
});
`;

interface Sample {
  edits: number;
  rssMb: number;
  heapMb: number;
  externalMb: number;
}

function shippedNodeFlags(): string[] {
  const bin = readFileSync(join(REPO_ROOT, "bin", "trapline.js"), "utf8");
  const flag = /const SEMI_SPACE_FLAG = "([^"]+)"/.exec(bin)?.[1];
  return flag ? [flag] : [];
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

function startServer(probe: string): {
  child: ChildProcess;
  connection: MessageConnection;
  heap: () => Promise<{ heapUsed: number; external: number }>;
  diagnosticsOf: (uri: string, version: number) => Promise<void>;
} {
  const bundle = join(REPO_ROOT, "dist", "cli", "trapline.js");
  if (!existsSync(bundle)) throw new Error("dist/cli/trapline.js is missing: run `npm run build` first");
  const child = spawn(
    process.execPath,
    [
      ...(process.env.LSP_MEMORY_SHIPPED_FLAGS === "0" ? [] : shippedNodeFlags()),
      "--expose-gc",
      "--require",
      probe,
      bundle,
      "lsp",
      "--stdio",
    ],
    { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  const heapWaiters: ((value: { heapUsed: number; external: number }) => void)[] = [];
  child.stderr!.on("data", (chunk) => {
    stderr += String(chunk);
    for (;;) {
      const at = stderr.indexOf("\n");
      if (at < 0) break;
      const line = stderr.slice(0, at);
      stderr = stderr.slice(at + 1);
      if (line.startsWith("TRAPLINE_MEMORY ")) heapWaiters.shift()?.(JSON.parse(line.slice(16)));
      else if (line.trim()) process.stderr.write(`server: ${line}\n`);
    }
  });
  const connection = createMessageConnection(
    new StreamMessageReader(child.stdout!),
    new StreamMessageWriter(child.stdin!),
  );
  const published = new Map<string, number>();
  const waiters: { uri: string; version: number; resolve: () => void }[] = [];
  connection.onNotification(
    "textDocument/publishDiagnostics",
    (params: { uri: string; version?: number }) => {
      published.set(params.uri, params.version ?? -1);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!;
        if (w.uri === params.uri && (params.version ?? -1) >= w.version) {
          waiters.splice(i, 1);
          w.resolve();
        }
      }
    },
  );
  connection.onNotification(() => undefined);
  connection.onRequest(() => null);
  connection.listen();
  return {
    child,
    connection,
    heap: () =>
      new Promise((resolvePromise) => {
        heapWaiters.push(resolvePromise);
        child.kill("SIGUSR2");
      }),
    diagnosticsOf: (uri, version) =>
      (published.get(uri) ?? -1) >= version
        ? Promise.resolve()
        : new Promise((resolvePromise) => waiters.push({ uri, version, resolve: resolvePromise })),
  };
}

/** Offset → position in `text`. */
function positionAt(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length - 1;
  return { line, character: offset - (before.lastIndexOf("\n") + 1) };
}

async function main(): Promise<void> {
  const file = process.env.LSP_MEMORY_FILE ?? join(REPO_ROOT, "examples", "kvm-default.vmcs");
  const original = readFileSync(file, "utf8");
  const dir = mkdtempSync(join(tmpdir(), "trapline-lsp-memory-"));
  const probe = join(dir, "probe.cjs");
  writeFileSync(probe, PROBE);
  const server = startServer(probe);
  const { connection } = server;
  const samples: Sample[] = [];
  try {
    await connection.sendRequest("initialize", {
      processId: null,
      rootUri: null,
      capabilities: {
        textDocument: {
          publishDiagnostics: { relatedInformation: true },
          semanticTokens: {
            requests: { full: { delta: true }, range: true },
            tokenTypes: [],
            tokenModifiers: [],
            formats: ["relative"],
          },
        },
      },
    });
    void connection.sendNotification("initialized", {});
    const uri = "file:///memory/session.vmcs";
    let text = original;
    let version = 1;
    void connection.sendNotification("textDocument/didOpen", {
      textDocument: { uri, languageId: "vmcs", version, text },
    });
    await server.diagnosticsOf(uri, 1);

    // The edit site: a number inside a guest path, toggled between two digits so the text keeps
    // its size; every fifth edit inserts or removes a comment line above it instead.
    const site = text.indexOf("compute ") + "compute ".length;
    if (site < "compute ".length) throw new Error("the file has no `compute` operation to edit");
    let commentIn = false;
    let previousResultId: string | undefined;

    const sample = async (edits: number) => {
      const heap = await server.heap();
      samples.push({
        edits,
        rssMb: rssOf(server.child.pid!),
        heapMb: heap.heapUsed / 2 ** 20,
        externalMb: heap.external / 2 ** 20,
      });
      const s = samples.at(-1)!;
      console.log(
        `  ${String(edits).padStart(6)} edits: RSS ${s.rssMb.toFixed(1)} MB, heap after GC ${s.heapMb.toFixed(2)} MB, external ${s.externalMb.toFixed(2)} MB`,
      );
    };
    await sample(0);
    const started = performance.now();
    for (let edit = 1; edit <= EDITS; edit++) {
      version++;
      let change: { range: { start: unknown; end: unknown }; text: string };
      if (edit % 5 === 0) {
        const lineStart = text.lastIndexOf("\n", site) + 1;
        const comment = "// typing…\n";
        if (commentIn) {
          change = {
            range: { start: positionAt(text, lineStart), end: positionAt(text, lineStart + comment.length) },
            text: "",
          };
          text = text.slice(0, lineStart) + text.slice(lineStart + comment.length);
        } else {
          change = {
            range: { start: positionAt(text, lineStart), end: positionAt(text, lineStart) },
            text: comment,
          };
          text = text.slice(0, lineStart) + comment + text.slice(lineStart);
        }
        commentIn = !commentIn;
      } else {
        const at = text.indexOf("compute ") + "compute ".length;
        const digit = text[at] === "3" ? "4" : "3";
        change = { range: { start: positionAt(text, at), end: positionAt(text, at + 1) }, text: digit };
        text = text.slice(0, at) + digit + text.slice(at + 1);
      }
      void connection.sendNotification("textDocument/didChange", {
        textDocument: { uri, version },
        contentChanges: [change],
      });
      const cursor = positionAt(text, text.indexOf("compute ") + "compute ".length);
      const doc = { textDocument: { uri } };
      const requests: Promise<unknown>[] = [
        connection.sendRequest("textDocument/completion", { ...doc, position: cursor }),
      ];
      if (edit % 10 === 0) {
        const whole = { start: { line: 0, character: 0 }, end: { line: 10_000, character: 0 } };
        requests.push(
          connection.sendRequest("textDocument/hover", { ...doc, position: cursor }),
          connection
            .sendRequest<{ resultId?: string }>("textDocument/semanticTokens/full/delta", {
              ...doc,
              previousResultId: previousResultId ?? "",
            })
            .then((r) => {
              previousResultId = r?.resultId;
            }),
          connection.sendRequest("textDocument/inlayHint", { ...doc, range: whole }),
          connection.sendRequest("textDocument/codeLens", doc),
          connection.sendRequest("textDocument/codeAction", {
            ...doc,
            range: whole,
            context: { diagnostics: [] },
          }),
        );
      }
      if (edit % 7 === 0) {
        // Cancelled at once: answered RequestCancelled (or, if it already ran, with its result).
        const source = new CancellationTokenSource();
        requests.push(
          connection.sendRequest("textDocument/documentSymbol", doc, source.token).catch(() => undefined),
        );
        source.cancel();
      }
      if (edit % 500 === 0) {
        const other = `file:///memory/other-${edit}.vmcs`;
        void connection.sendNotification("textDocument/didOpen", {
          textDocument: { uri: other, languageId: "vmcs", version: 1, text: original },
        });
        requests.push(
          connection.sendRequest("textDocument/hover", { textDocument: { uri: other }, position: cursor }),
        );
        await Promise.all(requests);
        void connection.sendNotification("textDocument/didClose", { textDocument: { uri: other } });
      }
      await Promise.all(requests);
      if (edit % 50 === 0) await server.diagnosticsOf(uri, version);
      if (edit % SAMPLE_EVERY === 0) await sample(edit);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `  ${EDITS} edits in ${seconds.toFixed(1)} s (${((seconds * 1000) / EDITS).toFixed(2)} ms per edit with its requests)`,
    );

    const half = samples.filter((s) => s.edits >= EDITS / 2);
    const heapGrowth = half.at(-1)!.heapMb - half[0]!.heapMb;
    const rssFirst = samples[1] ?? samples[0]!;
    console.log(
      `  heap after GC: ${samples[0]!.heapMb.toFixed(2)} MB at open, ${half[0]!.heapMb.toFixed(2)} MB at ${half[0]!.edits} edits, ${half.at(-1)!.heapMb.toFixed(2)} MB at ${half.at(-1)!.edits} (second half: ${heapGrowth >= 0 ? "+" : ""}${heapGrowth.toFixed(2)} MB, tolerance ${PLATEAU_TOLERANCE_MB} MB)`,
    );
    console.log(
      `  RSS: ${samples[0]!.rssMb.toFixed(1)} MB at open, ${rssFirst.rssMb.toFixed(1)} MB at ${rssFirst.edits} edits, max ${Math.max(...samples.map((s) => s.rssMb)).toFixed(1)} MB, ${samples.at(-1)!.rssMb.toFixed(1)} MB at the end`,
    );
    if (heapGrowth > PLATEAU_TOLERANCE_MB) {
      console.log("  MISSED: the heap after GC keeps growing");
      process.exitCode = 1;
    }
    await connection.sendRequest("shutdown");
    void connection.sendNotification("exit");
  } finally {
    setTimeout(() => server.child.kill(), 2000).unref();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 2;
});
