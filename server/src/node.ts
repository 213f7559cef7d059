/**
 * The server over Node streams: stdio (`trapline lsp --stdio`), IPC (`--node-ipc`, what
 * vscode-languageclient's TransportKind.ipc passes) or a socket (`--socket=PORT`). The transport
 * is chosen from the arguments by vscode-languageserver's own createConnection.
 */

import { constants, watch } from "node:fs";
import { open } from "node:fs/promises";
import { createConnection as createSocketConnection } from "node:net";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Connection,
  createConnection,
  IPCMessageReader,
  IPCMessageWriter,
  type MessageReader,
  ProposedFeatures,
  SocketMessageReader,
} from "vscode-languageserver/node";
import type { TraceFiles } from "./measurements";
import { type ServerOptions, startServer } from "./server";
import { ImmediateStreamMessageWriter } from "./streamWriter";

export type NodeTransport = "stdio" | "node-ipc" | "argv";

/**
 * Starts the server on an explicit transport: "stdio" and "node-ipc" do not depend on
 * process.argv (the CLI may run under `node -e`); "argv" lets vscode-languageserver read
 * `--socket=PORT` and the like from the command line.
 */
export function startNodeServer(transport: NodeTransport = "argv", options: ServerOptions = {}): void {
  let connection: Connection;
  if (transport === "stdio") {
    // stdout gets a writer that writes each message at once (see streamWriter.ts). stdin stays
    // a stream: createConnection accepts a stream or a reader for either side at run time, and
    // only for a stream input does it exit the process when the client closes it (the typings
    // offer only stream+stream or reader+writer, hence the cast).
    connection = createConnection(
      ProposedFeatures.all,
      process.stdin as unknown as MessageReader,
      new ImmediateStreamMessageWriter(process.stdout),
    );
  } else if (transport === "node-ipc") {
    connection = createConnection(
      ProposedFeatures.all,
      new IPCMessageReader(process),
      new IPCMessageWriter(process),
    );
  } else {
    const port = socketPortFromArgv(process.argv);
    if (port !== undefined) {
      // As vscode-languageserver's own --socket transport (connect to the client's port on
      // 127.0.0.1), with the immediate writer.
      const socket = createSocketConnection(port, "127.0.0.1");
      connection = createConnection(
        ProposedFeatures.all,
        new SocketMessageReader(socket),
        new ImmediateStreamMessageWriter(socket),
      );
    } else connection = createConnection(ProposedFeatures.all);
  }
  // Keep the process alive through any bug in a handler; the handlers log their own failures.
  process.on("uncaughtException", (error) => {
    try {
      connection.console.error(`trapline: uncaught exception: ${error?.stack ?? String(error)}`);
    } catch {
      process.stderr.write(`trapline: uncaught exception: ${error?.stack ?? String(error)}\n`);
    }
  });
  process.on("unhandledRejection", (reason) => {
    process.stderr.write(`trapline: unhandled rejection: ${String(reason)}\n`);
  });
  startServer(connection, { traceFiles: nodeTraceFiles, ...options });
}

/**
 * Trace files on the local disk for `measured "PATH"`: relative to the document's directory
 * (a `file:` URI), regular files only (a FIFO would block, a device never ends), opened once
 * (fstat and reads on the one descriptor), read in 1 MiB chunks decoded as UTF-8 across chunk
 * boundaries, watched with fs.watch.
 */
export const nodeTraceFiles: TraceFiles = {
  resolve(documentUri, path) {
    if (isAbsolute(path)) return { file: resolve(path) };
    if (!documentUri.startsWith("file:"))
      return {
        error:
          "the document is not a file on disk, so a relative trace path has no directory: write an absolute path",
      };
    try {
      return { file: resolve(dirname(fileURLToPath(documentUri)), path) };
    } catch {
      return { error: "the document's file name could not be read from its URI" };
    }
  },
  async open(file) {
    // One open, then fstat of the descriptor and reads from it: the file checked is the file
    // read (no stat-then-open on the path). O_NONBLOCK so that opening a FIFO without a writer
    // returns (and is then refused) instead of blocking the server.
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
      if (!info.isFile()) throw Object.assign(new Error("not a regular file"), { code: "ENOTREGULAR" });
      return {
        size: info.size,
        mtimeMs: info.mtimeMs,
        async *chunks() {
          // The bytes as read (the trace importer's feedBytes reads them without decoding).
          const buffer = Buffer.allocUnsafe(1 << 20);
          for (;;) {
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
            if (bytesRead === 0) break;
            yield buffer.subarray(0, bytesRead);
          }
        },
        close: () => handle.close(),
      };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  },
  watch(file, onChange) {
    // A file that does not exist yet is watched through its directory (created later).
    let watcher: ReturnType<typeof watch>;
    try {
      watcher = watch(file, { persistent: false }, () => onChange());
    } catch {
      const name = basename(file);
      watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
        if (changed === null || String(changed) === name) onChange();
      });
    }
    watcher.on("error", () => watcher.close());
    return { dispose: () => watcher.close() };
  },
};

/** `--socket=PORT` or `--socket PORT`, as vscode-languageserver reads it. */
export function socketPortFromArgv(argv: readonly string[]): number | undefined {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = arg === "--socket" ? argv[i + 1] : arg.startsWith("--socket=") ? arg.slice(9) : undefined;
    if (value === undefined) continue;
    const port = Number.parseInt(value, 10);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  }
  return undefined;
}
