/**
 * The Trapline LSP extension names the page uses (server/src/protocol.ts). Repeated here as
 * plain strings because importing protocol.ts at run time pulls vscode-languageserver into the
 * page bundle (~180 kB minified) for a few constants; test/playground-state.test.ts checks they
 * equal the server's.
 */
export const FILE_STATUS_METHOD = "trapline/fileStatus";
export const ESTIMATE_REPORT_METHOD = "trapline/estimateReport";
export const COMPARE_METHOD = "trapline/compare";
export const FILE_INFO_METHOD = "trapline/fileInfo";
export const RUN_SIMULATION_COMMAND = "trapline.runSimulation";
/** The command of the cost lenses when the client says it implements it (`estimateCommand`). */
export const SHOW_ESTIMATE_COMMAND = "trapline.showEstimate";

/** Standard LSP names the page handles itself (the monaco LSP client does not). */
export const DID_CHANGE_CONFIGURATION_METHOD = "workspace/didChangeConfiguration";
export const DIAGNOSTIC_REFRESH_METHOD = "workspace/diagnostic/refresh";
