/**
 * Checks of request params as they arrive off the wire: JSON-RPC hands a handler whatever the
 * client sent (`null`, a string for a position, a missing `textDocument`), and a handler that
 * trusted the typings threw (answered InternalError) or returned an empty result that looked
 * like a real answer. Each reader here returns the params typed, or throws a ResponseError with
 * InvalidParams that names the field, which the handler wrapper sends back as is.
 *
 * A position's line must be a line of the document; a character past the end of its line means
 * the end of the line, as the LSP specifies ("If the character value is greater than the line
 * length it defaults back to the line length"). A range may reach past the end of the document
 * (clients ask for "everything" that way); it is clamped.
 */
import { ErrorCodes, type Position, type Range, ResponseError } from "vscode-languageserver";

export function invalidParams(message: string): ResponseError<void> {
  return new ResponseError(ErrorCodes.InvalidParams, message);
}

type Fields = Record<string, unknown>;

function object(value: unknown, what: string): Fields {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw invalidParams(`${what} must be an object`);
  return value as Fields;
}

function string(value: unknown, what: string): string {
  if (typeof value !== "string") throw invalidParams(`${what} must be a string`);
  return value;
}

function optionalString(value: unknown, what: string): string | undefined {
  return value === undefined || value === null ? undefined : string(value, what);
}

/** LSP's `uinteger` (0 … 2^31 − 1). */
function uinteger(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0x7fffffff)
    throw invalidParams(`${what} must be an integer from 0 to 2147483647`);
  return value;
}

export function readPosition(value: unknown, what = "position"): Position {
  const fields = object(value, what);
  return {
    line: uinteger(fields.line, `${what}.line`),
    character: uinteger(fields.character, `${what}.character`),
  };
}

export function readRange(value: unknown, what = "range"): Range {
  const fields = object(value, what);
  const start = readPosition(fields.start, `${what}.start`);
  const end = readPosition(fields.end, `${what}.end`);
  if (end.line < start.line || (end.line === start.line && end.character < start.character))
    throw invalidParams(`${what} ends before it starts`);
  return { start, end };
}

export interface DocumentParams {
  uri: string;
  raw: Fields;
}

/** `{ textDocument: { uri } }`, the base of every document request. */
export function readDocument(params: unknown): DocumentParams {
  const raw = object(params, "params");
  const textDocument = object(raw.textDocument, "textDocument");
  return { uri: string(textDocument.uri, "textDocument.uri"), raw };
}

export function readDocumentPosition(params: unknown): DocumentParams & { position: Position } {
  const document = readDocument(params);
  return { ...document, position: readPosition(document.raw.position) };
}

export function readDocumentRange(params: unknown): DocumentParams & { range: Range } {
  const document = readDocument(params);
  return { ...document, range: readRange(document.raw.range) };
}

export function readReferences(
  params: unknown,
): DocumentParams & { position: Position; includeDeclaration: boolean } {
  const base = readDocumentPosition(params);
  const context = object(base.raw.context, "context");
  if (typeof context.includeDeclaration !== "boolean")
    throw invalidParams("context.includeDeclaration must be a boolean");
  return { ...base, includeDeclaration: context.includeDeclaration };
}

export function readRename(params: unknown): DocumentParams & { position: Position; newName: string } {
  const base = readDocumentPosition(params);
  return { ...base, newName: string(base.raw.newName, "newName") };
}

/** A diagnostic the client echoes in a code action request: only what matching it needs. */
export interface EchoedDiagnostic {
  range: Range;
  message: string;
  code?: string | number;
  source?: string;
}

export function readCodeAction(
  params: unknown,
): DocumentParams & { range: Range; diagnostics: EchoedDiagnostic[] } {
  const base = readDocumentRange(params);
  const context = object(base.raw.context, "context");
  if (!Array.isArray(context.diagnostics)) throw invalidParams("context.diagnostics must be an array");
  const diagnostics = context.diagnostics.map((item, i): EchoedDiagnostic => {
    const what = `context.diagnostics[${i}]`;
    const fields = object(item, what);
    const code = fields.code;
    if (code !== undefined && code !== null && typeof code !== "string" && typeof code !== "number")
      throw invalidParams(`${what}.code must be a string or a number`);
    return {
      range: readRange(fields.range, `${what}.range`),
      message: string(fields.message, `${what}.message`),
      code: code ?? undefined,
      source: optionalString(fields.source, `${what}.source`),
    };
  });
  return { ...base, diagnostics };
}

/** `previousResultId` of a delta or pull request. */
export function readPreviousResultId(document: DocumentParams, field: string): string | undefined {
  return optionalString(document.raw[field], field);
}

/** The custom requests' `{ uri, guest?, profiles? }`. */
export function readCustom(
  params: unknown,
  guest: "required" | "optional" | "none",
): { uri: string; guest?: string; profiles?: string[] } {
  const raw = object(params, "params");
  const uri = string(raw.uri, "uri");
  if (guest === "none") return { uri };
  const name = guest === "required" ? string(raw.guest, "guest") : optionalString(raw.guest, "guest");
  let profiles: string[] | undefined;
  if (raw.profiles !== undefined && raw.profiles !== null) {
    if (!Array.isArray(raw.profiles)) throw invalidParams("profiles must be an array of strings");
    profiles = raw.profiles.map((p, i) => string(p, `profiles[${i}]`));
  }
  return { uri, guest: name, profiles };
}

/**
 * The offset of `position` in a document of `lineCount` lines, through `offsetAt` (which clamps a
 * character past its line's end): a line past the last one is InvalidParams.
 */
export function checkedOffset(
  lineCount: number,
  position: Position,
  offsetAt: (position: Position) => number,
): number {
  if (position.line >= lineCount)
    throw invalidParams(
      `position.line ${position.line} is past the last line of the document (${lineCount - 1})`,
    );
  return offsetAt(position);
}
