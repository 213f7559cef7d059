/**
 * The server's typed handles on Trapline's LSP extensions: the messages and their shapes are
 * defined once in protocol/lsp.ts (shared with the VS Code client and the playground); this
 * module adds vscode-languageserver's RequestType/NotificationType objects for the server.
 */
import { NotificationType, RequestType } from "vscode-languageserver";
import {
  COMPARE_METHOD,
  type CompareParams,
  type CompareResult,
  ESTIMATE_REPORT_METHOD,
  type EstimateReportParams,
  type EstimateReportResult,
  FILE_INFO_METHOD,
  FILE_STATUS_METHOD,
  type FileInfoParams,
  type FileInfoResult,
  type FileStatusParams,
} from "../../protocol/lsp";

export * from "../../protocol/lsp";

export const FileStatusNotification = new NotificationType<FileStatusParams>(FILE_STATUS_METHOD);
export const EstimateReportRequest = new RequestType<EstimateReportParams, EstimateReportResult, void>(
  ESTIMATE_REPORT_METHOD,
);
export const CompareRequest = new RequestType<CompareParams, CompareResult, void>(COMPARE_METHOD);
export const FileInfoRequest = new RequestType<FileInfoParams, FileInfoResult, void>(FILE_INFO_METHOD);
