/**
 * The server over Node streams: stdio (`trapline lsp --stdio`), IPC (`--node-ipc`, what
 * vscode-languageclient's TransportKind.ipc passes) or a socket (`--socket=PORT`). The transport
 * is chosen from the arguments by vscode-languageserver's own createConnection.
 */
import { createConnection, ProposedFeatures } from "vscode-languageserver/node";
import { type ServerOptions, startServer } from "./server";

export function startNodeServer(options: ServerOptions = {}): void {
  const connection = createConnection(ProposedFeatures.all);
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
  startServer(connection, options);
}
