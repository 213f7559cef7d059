/**
 * The wrappers every request handler runs in: the shutdown rule, params checking, cancellation,
 * and "never let an exception escape" (a failing feature is logged and answered empty).
 */
import {
  type CancellationToken,
  ErrorCodes,
  LSPErrorCodes,
  type Diagnostic as LspDiagnostic,
  type Position,
  ResponseError,
} from "vscode-languageserver";
import type { AnalysisCache } from "./documents";
import { describeError } from "./documents";
import type { DocumentModel } from "./model";
import { checkedOffset, type EchoedDiagnostic, invalidParams } from "./params";

export class RequestRunner {
  /** Set by `shutdown`: every later request is answered InvalidRequest, as the LSP says. */
  shutDown = false;

  constructor(
    private readonly cache: AnalysisCache,
    private readonly log: (message: string) => void,
  ) {}

  /**
   * Wraps a request handler: after `shutdown` the answer is InvalidRequest; the raw params are
   * read (and checked) by `read` first, a bad field answering InvalidParams; a cancelled request
   * answers RequestCancelled. Registered with `connection.onRequest` directly: the library's
   * `onHover`-style helpers read `params.workDoneToken` before any handler runs and threw on
   * `params: null`.
   */
  guard<P, R>(
    method: string,
    read: (raw: unknown) => P,
    handler: (params: P, token: CancellationToken) => R | ResponseError<void>,
  ): (raw: unknown, token: CancellationToken) => R | ResponseError<void> {
    return (raw, token) => {
      if (this.shutDown)
        return new ResponseError(ErrorCodes.InvalidRequest, `${method}: the server is shut down`);
      // Params sent as an array are spread into the handler's arguments by vscode-jsonrpc: with
      // other than one element the token is not where it belongs.
      if (typeof (token as Partial<CancellationToken> | undefined)?.isCancellationRequested !== "boolean")
        return invalidParams(`${method}: params must be an object`);
      if (token.isCancellationRequested) return cancelled();
      let params: P;
      try {
        params = read(raw);
      } catch (error) {
        if (error instanceof ResponseError) return error as ResponseError<void>;
        throw error;
      }
      return handler(params, token);
    };
  }

  /**
   * Runs a request handler against the current model: answers "cancelled" when the client has
   * cancelled, `empty` when the document is not open or the feature throws (after logging); an
   * InvalidParams the handler throws (a position past the last line) is the answer.
   */
  withModel<T>(
    name: string,
    uri: string,
    token: CancellationToken | undefined,
    empty: T,
    handler: (model: DocumentModel) => T,
  ): T | ResponseError<void> {
    if (token?.isCancellationRequested) return cancelled();
    try {
      const model = this.cache.model(uri);
      if (!model) return empty;
      if (token?.isCancellationRequested) return cancelled();
      return handler(model);
    } catch (error) {
      if (error instanceof ResponseError) return error as ResponseError<void>;
      this.log(`trapline: ${name} failed on ${uri}: ${describeError(error)}`);
      return empty;
    }
  }
}

/** The offset of a request's position in the analysed text (InvalidParams past the last line). */
export function offsetIn(model: DocumentModel, position: Position): number {
  return checkedOffset(model.analysis.lines.lineCount, position, (p) => model.analysis.lines.offsetAt(p));
}

/** The same diagnostic (as published and as echoed by the client, which may drop `data`). */
export function sameDiagnostic(a: LspDiagnostic, b: EchoedDiagnostic): boolean {
  return (
    a.code === b.code &&
    a.message === b.message &&
    a.range.start.line === b.range.start.line &&
    a.range.start.character === b.range.start.character &&
    a.range.end.line === b.range.end.line &&
    a.range.end.character === b.range.end.character
  );
}

export function cancelled(): ResponseError<void> {
  return new ResponseError(LSPErrorCodes.RequestCancelled, "request cancelled");
}

/** The last path segment of `uri`, percent-decoded when its escapes are valid (else as written). */
export function fileNameOf(uri: string): string {
  const path = uri.split(/[?#]/, 1)[0]!;
  const name = path.slice(path.lastIndexOf("/") + 1);
  try {
    return decodeURIComponent(name);
  } catch {
    // `%zz` or a lone `%`: an ordinary URI string to us (the document is keyed by it as sent).
    return name;
  }
}
