/**
 * `trapline lsp --stdio | --node-ipc | --socket=PORT`: the language server from the CLI bundle, as
 * rust-analyzer ships it. The command does not return while a client is connected: the
 * connection owns the process and exits it when the client sends `exit` or the stream closes.
 */
import { startNodeServer } from "../../server/src/node";
import { type Command, type ParsedArgs, UsageError } from "./command";

export const lspCommand: Command = {
  name: "lsp",
  summary: "run the language server (for editors: VS Code, Neovim, Emacs, …)",
  usage: "lsp --stdio | --node-ipc | --socket=PORT",
  options: {
    stdio: { type: "boolean" },
    "node-ipc": { type: "boolean" },
    socket: { type: "string" },
    // Passed by vscode-languageclient; the server library reads it from process.argv itself.
    clientProcessId: { type: "string" },
  },
  help: [
    "  --stdio       speak LSP over stdin/stdout (Neovim, Emacs, Helix, …)",
    "  --node-ipc    speak LSP over the Node IPC channel (the VS Code extension's transport)",
    "  --socket=PORT connect to a client listening on PORT",
  ].join("\n"),
  run(args: ParsedArgs): Promise<number> {
    const transports = ["stdio", "node-ipc", "socket"].filter((name) => args.values[name] !== undefined);
    if (transports.length !== 1)
      throw new UsageError("choose exactly one transport: --stdio, --node-ipc or --socket=PORT");
    if (transports[0] === "socket") {
      // vscode-languageserver reads --socket=PORT from process.argv.
      const flag = `--socket=${String(args.values.socket)}`;
      if (!process.argv.includes(flag)) process.argv.push(flag);
      startNodeServer("argv");
    } else startNodeServer(transports[0] === "stdio" ? "stdio" : "node-ipc");
    return new Promise<number>(() => {
      // Never settles: vscode-languageserver calls process.exit on `exit` or when the stream ends.
    });
  },
};
