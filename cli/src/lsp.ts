/**
 * `trapline lsp [--stdio | --node-ipc | --socket=PORT]`: the language server from the CLI bundle,
 * as rust-analyzer ships it. It never returns while the client is connected; the process exits
 * when the client sends `exit` or closes the stream.
 */
import { startNodeServer } from "../../server/src/node";

export interface LspIO {
  stderr: (text: string) => void;
}

export const LSP_USAGE = "usage: trapline lsp --stdio | --node-ipc | --socket=PORT";

/** Starts the server; resolves never on success (the connection owns the process), 2 on bad usage. */
export function runLsp(args: string[], io: LspIO): Promise<number> {
  const transports = args.filter(
    (a) => a === "--stdio" || a === "--node-ipc" || a.startsWith("--socket=") || a.startsWith("--pipe="),
  );
  const unknown = args.filter((a) => !transports.includes(a) && !a.startsWith("--clientProcessId"));
  if (transports.length !== 1 || unknown.length) {
    io.stderr(`${LSP_USAGE}\n`);
    return Promise.resolve(2);
  }
  // vscode-languageserver reads the transport from process.argv; make sure it sees ours even when
  // the CLI was started with extra leading arguments.
  if (!process.argv.includes(transports[0]!)) process.argv.push(transports[0]!);
  startNodeServer();
  return new Promise<number>(() => {
    // Settled by the connection: on `exit` vscode-languageserver calls process.exit itself.
  });
}
