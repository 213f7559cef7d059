/**
 * Traces without a file system (the browser server: the playground, VS Code for the Web): the
 * client hands the server a trace's text with the TRACE_PROVIDED notification (the playground
 * does when a trace is dropped, pasted or opened with "Open trace…"), and that trace then stands
 * in for every `measured "PATH"` of the open documents — hovers, lenses, the Show Estimate
 * report and TL409/TL410 as the Node server gives them for the file PATH names (docs/lsp.md
 * "Measured traces"). Before any trace is provided, `measured` gets TL410 (information) saying
 * how to provide one.
 */
import type { Connection } from "vscode-languageserver";
import { TRACE_PROVIDED_METHOD } from "../../protocol/lsp";
import type { OpenTrace, TraceFiles } from "./measurements";
import { type ServerOptions, startServer } from "./server";

export { TRACE_PROVIDED_METHOD };

export interface ProvidedTrace {
  fileName: string;
  text: string;
}

export class MemoryTraceFiles implements TraceFiles {
  private trace: ProvidedTrace | undefined;
  /** Bumped per provided trace: its "modification time", so the store reads a new one. */
  private version = 0;
  private readonly listeners = new Set<() => void>();

  /** Sets the trace every `measured` path stands for (replacing the previous one). */
  provide(trace: ProvidedTrace): void {
    this.trace = { fileName: trace.fileName || "trace.txt", text: trace.text };
    this.version++;
    for (const listener of [...this.listeners]) listener();
  }

  resolve(_documentUri: string, _path: string): { file: string } | { error: string } {
    if (!this.trace)
      return {
        error:
          "there is no file system here (in the playground, open, drop or paste the trace with Open trace… and it stands in for this path)",
      };
    return { file: `provided:${this.trace.fileName}` };
  }

  async open(file: string): Promise<OpenTrace> {
    const trace = this.trace;
    if (!trace || file !== `provided:${trace.fileName}`)
      throw Object.assign(new Error("no such file"), { code: "ENOENT" });
    const text = trace.text;
    return {
      // Characters, not bytes: the limit is checked on what is held (the text).
      size: text.length,
      mtimeMs: this.version,
      async *chunks() {
        for (let i = 0; i < text.length; i += 1 << 20) yield text.slice(i, i + (1 << 20));
      },
      close: async () => undefined,
    };
  }

  onDidChangeFiles(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
}

/**
 * The browser server's start (server/src/browser.ts): startServer with a MemoryTraceFiles that
 * the client fills with TRACE_PROVIDED_METHOD.
 */
export function startServerWithProvidedTraces(connection: Connection, options: ServerOptions = {}): void {
  const traceFiles = new MemoryTraceFiles();
  connection.onNotification(TRACE_PROVIDED_METHOD, (params: Partial<ProvidedTrace> | undefined) => {
    if (typeof params?.text === "string")
      traceFiles.provide({
        fileName: typeof params.fileName === "string" ? params.fileName : "",
        text: params.text,
      });
  });
  startServer(connection, { ...options, traceFiles });
}
