/**
 * Standard LSP method names the page handles itself (the monaco LSP client does not). Trapline's
 * own method and command names come from protocol/lsp.ts, which imports nothing at run time.
 */
export const DID_CHANGE_CONFIGURATION_METHOD = "workspace/didChangeConfiguration";
export const DIAGNOSTIC_REFRESH_METHOD = "workspace/diagnostic/refresh";
