/**
 * The Trapline LSP extension names the page uses (server/src/protocol.ts). Repeated here as
 * plain strings because importing protocol.ts at run time pulls vscode-languageserver into the
 * page bundle (~180 kB minified) for two constants; test/playground-state.test.ts checks they
 * equal the server's.
 */
export const FILE_STATUS_METHOD = "trapline/fileStatus";
export const RUN_SIMULATION_COMMAND = "trapline.runSimulation";
