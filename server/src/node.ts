/**
 * The server over Node streams: stdio (`trapline lsp --stdio`), IPC (`--node-ipc`, what
 * vscode-languageclient's TransportKind.ipc passes) or a socket (`--socket=PORT`). The transport
 * is chosen from the arguments by vscode-languageserver's own createConnection.
 */
import {
  type Connection,
  createConnection,
  IPCMessageReader,
  IPCMessageWriter,
  ProposedFeatures,
} from "vscode-languageserver/node";
import { type ServerOptions, startServer } from "./server";

export type NodeTransport = "stdio" | "node-ipc" | "argv";

/**
 * Starts the server on an explicit transport: "stdio" and "node-ipc" do not depend on
 * process.argv (the CLI may run under `node -e`); "argv" lets vscode-languageserver read
 * `--socket=PORT` and the like from the command line.
 */
export function startNodeServer(transport: NodeTransport = "argv", options: ServerOptions = {}): void {
  let connection: Connection;
  if (transport === "stdio")
    connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
  else if (transport === "node-ipc") {
    connection = createConnection(
      ProposedFeatures.all,
      new IPCMessageReader(process),
      new IPCMessageWriter(process),
    );
  } else connection = createConnection(ProposedFeatures.all);
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
