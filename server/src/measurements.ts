/**
 * The traces `.vmcs` files name (`measured "PATH"` in a guest, docs/traces.md "In the editor"):
 * read by the adapter's `TraceFiles` (server/src/node.ts has a file system; the browser server
 * has none), imported with the core's streaming importer off the keystroke path, cached by file
 * and modification time, and re-checked when a document that names them is analysed again
 * (at most once per RECHECK_MS) or when the adapter's watcher says the file changed. A finished
 * import (or a failure) bumps `generation` and calls `onChange`: the server republishes the
 * documents that name the file.
 */
import { TraceImporter, type TraceResult } from "../../core/src/index";
import { describeError } from "./documents";

/** The largest trace the editor reads: the CLI's limit for source files (cli/src/command.ts). */
export const MAX_TRACE_BYTES = 64 * 1024 * 1024;
/** A file read before is stat-ed again at most this often (milliseconds). */
export const RECHECK_MS = 1000;

/** What an adapter gives the server to read traces with. */
export interface TraceFiles {
  /**
   * The file `path` names, relative to the document `documentUri` unless absolute; a string is
   * the message when it cannot be resolved (the document is not a file on disk).
   */
  resolve(documentUri: string, path: string): { file: string } | { error: string };
  /**
   * Opens the file once: its size and modification time are those of the open file (fstat of
   * the descriptor), and `chunks` reads that same file, so a file replaced between the check
   * and the read is never read unchecked (no stat-then-open on the path). Throws a coded error
   * (ENOENT, EISDIR, ENOTREGULAR, EACCES). The caller always calls `close`.
   */
  open(file: string): Promise<OpenTrace>;
  /** Calls `onChange` when the file changes; optional (the re-check on analysis is the fallback). */
  watch?(file: string, onChange: () => void): { dispose(): void };
  /**
   * Calls `listener` when what paths resolve to may have changed as a whole (the browser's
   * provided trace, server/src/memoryTraces.ts): the store forgets every trace and republishes.
   */
  onDidChangeFiles?(listener: () => void): { dispose(): void };
}

/** A trace file opened by TraceFiles.open. */
export interface OpenTrace {
  size: number;
  mtimeMs: number;
  /**
   * The file in chunks (read at most once): its bytes as read (UTF-8; the buffer may be reused
   * once the next chunk is asked for), or text (the browser's provided trace).
   */
  chunks(): AsyncIterable<string | Uint8Array>;
  close(): Promise<void>;
}

export type TraceState =
  | { state: "loading"; file: string }
  | { state: "ready"; file: string; trace: TraceResult; size: number; mtimeMs: number }
  | { state: "error"; file: string; message: string }
  /** The server has no file system (the browser) or the path could not be resolved. */
  | { state: "unavailable"; message: string };

interface Entry {
  state: TraceState;
  checkedAt: number;
  busy: boolean;
  /** Bumped by every read: a read that finishes after a newer one started is dropped. */
  reads: number;
  watcher?: { dispose(): void };
}

const now: () => number = typeof performance !== "undefined" ? () => performance.now() : () => Date.now();

export class TraceStore {
  /** Bumped whenever any trace's state changes: cached views keyed on it go stale. */
  generation = 0;
  /** False in an untrusted workspace: nothing is read. */
  trusted = true;
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly files: TraceFiles | undefined,
    private readonly onChange: (file: string) => void,
    private readonly log: (message: string) => void,
  ) {
    files?.onDidChangeFiles?.(() => {
      this.clear();
      try {
        this.onChange("");
      } catch (error) {
        this.log(`trapline: republishing after a trace change failed: ${describeError(error)}`);
      }
    });
  }

  /**
   * The state of the trace `path` names from `documentUri`. Never waits: a trace not read yet
   * (or changed since) is read in the background and `onChange` fires when it is.
   */
  get(documentUri: string, path: string): TraceState {
    if (!this.files)
      return {
        state: "unavailable",
        message:
          "reading a trace file is not available here (no file system): open the trace with Open Trace instead",
      };
    const resolved = this.files.resolve(documentUri, path);
    if ("error" in resolved) return { state: "unavailable", message: resolved.error };
    const file = resolved.file;
    if (!this.trusted)
      return {
        state: "error",
        file,
        message: "not read: the workspace is not trusted (trust it to compare with the trace)",
      };
    let entry = this.entries.get(file);
    if (!entry) {
      entry = { state: { state: "loading", file }, checkedAt: now(), busy: false, reads: 0 };
      this.entries.set(file, entry);
      const watched = entry;
      try {
        entry.watcher = this.files.watch?.(file, () => {
          watched.checkedAt = -Infinity;
          void this.refresh(file, watched);
        });
      } catch {
        // No watcher (the file may not exist yet): the re-check on analysis still works.
      }
      void this.refresh(file, entry);
    } else if (!entry.busy && now() - entry.checkedAt >= RECHECK_MS) {
      void this.refresh(file, entry);
    }
    return entry.state;
  }

  /** Forget every trace (trust changed): the next `get` reads again. */
  clear(): void {
    for (const entry of this.entries.values()) entry.watcher?.dispose();
    this.entries.clear();
    this.generation++;
  }

  /** Stat the file; read it when it is new or changed. Never throws. */
  private async refresh(file: string, entry: Entry): Promise<void> {
    const files = this.files;
    if (!files || entry.busy) return;
    entry.busy = true;
    entry.checkedAt = now();
    const read = ++entry.reads;
    try {
      let opened: OpenTrace;
      try {
        opened = await files.open(file);
      } catch (error) {
        this.settle(file, entry, read, { state: "error", file, message: cannotRead(error) });
        return;
      }
      let trace: TraceResult;
      try {
        const stat = opened;
        const current = entry.state;
        if (current.state === "ready" && current.size === stat.size && current.mtimeMs === stat.mtimeMs)
          return;
        if (stat.size > MAX_TRACE_BYTES) {
          this.settle(file, entry, read, {
            state: "error",
            file,
            message: `not read: larger than the ${MAX_TRACE_BYTES / (1024 * 1024)} MiB limit (use \`trapline estimate --measured\`)`,
          });
          return;
        }
        const importer = new TraceImporter({});
        let chars = 0;
        try {
          for await (const chunk of opened.chunks()) {
            chars += chunk.length;
            // A file that grew past the limit while being read is refused as well.
            if (chars > MAX_TRACE_BYTES) throw Object.assign(new Error("too large"), { code: "EFBIG" });
            if (typeof chunk === "string") importer.feed(chunk);
            else importer.feedBytes(chunk);
            if (importer.detectedFormat === null) break;
          }
        } catch (error) {
          this.settle(file, entry, read, { state: "error", file, message: cannotRead(error) });
          return;
        }
        trace = importer.end();
      } finally {
        await opened.close().catch(() => undefined);
      }
      if (trace.format === undefined) {
        this.settle(file, entry, read, {
          state: "error",
          file,
          message: "not a KVM trace in any format Trapline reads (see `trapline trace --help`)",
        });
        return;
      }
      this.settle(file, entry, read, {
        state: "ready",
        file,
        trace,
        size: opened.size,
        mtimeMs: opened.mtimeMs,
      });
    } catch (error) {
      this.log(`trapline: reading the trace ${file} failed: ${describeError(error)}`);
      this.settle(file, entry, read, { state: "error", file, message: "could not be read (see the log)" });
    } finally {
      entry.busy = false;
      entry.checkedAt = now();
    }
  }

  private settle(file: string, entry: Entry, read: number, state: TraceState): void {
    if (read !== entry.reads || this.entries.get(file) !== entry) return;
    const before = entry.state;
    entry.state = state;
    if (before.state === "error" && state.state === "error" && before.message === state.message) return;
    this.generation++;
    try {
      this.onChange(file);
    } catch (error) {
      this.log(`trapline: republishing after reading ${file} failed: ${describeError(error)}`);
    }
  }
}

/** One line saying why a trace file could not be read (as the CLI says it). */
function cannotRead(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EISDIR":
      return "is a directory";
    case "EACCES":
      return "permission denied";
    case "ENOTREGULAR":
      return "not a regular file (a device, FIFO or socket)";
    case "EFBIG":
      return `larger than the ${MAX_TRACE_BYTES / (1024 * 1024)} MiB limit`;
    default:
      return error instanceof Error ? (error.message.split("\n")[0] ?? "unreadable") : String(error);
  }
}
