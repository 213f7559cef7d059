/**
 * Trapline's own requests (protocol/lsp.ts): the Show Estimate report, Compare, and the file
 * facts the client's pickers read.
 */
import type { Connection } from "vscode-languageserver";
import { PROFILES } from "../../core/src/index";
import { spanToRange } from "./convert";
import type { MeasuredView } from "./features/measured";
import { compareConfigurations, estimateReport } from "./features/reports";
import type { DocumentModel } from "./model";
import { readCustom } from "./params";
import { CompareRequest, EstimateReportRequest, FileInfoRequest } from "./protocol";
import { fileNameOf, type RequestRunner } from "./requests";

export function registerCustomRequests(
  connection: Connection,
  run: RequestRunner,
  measuredOf: (uri: string, model: DocumentModel) => MeasuredView | undefined,
): void {
  connection.onRequest(
    EstimateReportRequest,
    run.guard(
      EstimateReportRequest.method,
      (raw) => readCustom(raw, "optional"),
      (params, token) =>
        run.withModel(
          "estimateReport",
          params.uri,
          token,
          { markdown: "The file is not open." },
          (model) => ({
            markdown: estimateReport(
              model,
              fileNameOf(params.uri),
              params.guest,
              measuredOf(params.uri, model),
            ),
          }),
        ),
    ),
  );
  connection.onRequest(
    CompareRequest,
    run.guard(
      CompareRequest.method,
      (raw) => readCustom(raw, "required"),
      (params, token) =>
        run.withModel(
          "compare",
          params.uri,
          token,
          { guest: params.guest!, rows: [], markdown: "The file is not open." },
          (model) => compareConfigurations(model, params.guest!, params.profiles),
        ),
    ),
  );
  connection.onRequest(
    FileInfoRequest,
    run.guard(
      FileInfoRequest.method,
      (raw) => readCustom(raw, "none"),
      (params, token) =>
        run.withModel(
          "fileInfo",
          params.uri,
          token,
          {
            guests: [],
            vmcs: [],
            profiles: [],
            target: { profile: "", declared: false, profileRange: undefined },
          },
          (model) => {
            const { program, lines } = model.analysis;
            return {
              guests: [...program.guests.keys()],
              vmcs: [...program.vmcs.keys()],
              profiles: PROFILES.map((p) => ({ name: p.name, displayName: p.displayName, year: p.year })),
              target: {
                profile: program.target.profile.name,
                declared: program.target.span !== undefined,
                profileRange: program.target.profileSpan
                  ? spanToRange(lines, program.target.profileSpan)
                  : undefined,
              },
            };
          },
        ),
    ),
  );
}
