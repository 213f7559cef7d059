/**
 * Definition, references, rename, document symbols and folding, from the model's symbol table
 * (vmcs, guest and fn names) and the handler ↔ exiting-operation relation: "references" of a
 * handler's reason are the guest operations that exit with it.
 */
import {
  type DocumentSymbol,
  type FoldingRange,
  FoldingRangeKind,
  type Location,
  type Range,
  ResponseError,
  SymbolKind,
  type TextEdit,
  type WorkspaceEdit,
} from "vscode-languageserver";
import { handlerOf, type Span } from "../../../core/src/index";
import { spanToRange } from "../convert";
import type { BlockInfo, DocumentModel } from "../model";

function hasDefinition(span: Span): boolean {
  return span.start >= 0;
}

export function definitionAt(model: DocumentModel, uri: string, offset: number): Location | null {
  const lines = model.analysis.lines;
  const symbol = model.symbolAt(offset);
  if (symbol && hasDefinition(symbol.definition))
    return { uri, range: spanToRange(lines, symbol.definition) };
  // From a guest operation that exits, jump to the handler that takes its (first) exit: the
  // one specialised by its operand when one is, else the general handler of the reason.
  const entry = model.elementAt(offset);
  if (entry?.kind === "guestOp") {
    // An L2 operation: the handler of the level that handles its first exit (L1's for an exit
    // L0 reflects, in the hypervisor that runs this guest; L0's otherwise).
    const nested = model.nestedEstimateOf(entry.guest.name);
    if (nested) {
      const operation = nested.operations.find((o) => o.span.start === entry.op.span.start);
      const x = operation?.exits[0];
      const tables =
        x?.level === "L1"
          ? model.analysis.program.hypervisors.get(nested.hypervisor)
          : model.analysis.program;
      const handler = x && tables ? handlerOf(tables, x.code, x.handlerVariant) : undefined;
      return handler ? { uri, range: spanToRange(lines, handler.reasonSpan) } : null;
    }
    const estimate = model.operationAt(entry.guest, entry.op.span.start);
    const effect = estimate?.decision.exits[0];
    const handler = effect
      ? handlerOf(model.analysis.program, effect.reason.code, effect.handler)
      : undefined;
    if (handler) return { uri, range: spanToRange(lines, handler.reasonSpan) };
  }
  return null;
}

export function referencesAt(
  model: DocumentModel,
  uri: string,
  offset: number,
  includeDeclaration: boolean,
): Location[] {
  const lines = model.analysis.lines;
  const symbol = model.symbolAt(offset);
  if (symbol) {
    const spans = [...symbol.references];
    if (includeDeclaration && hasDefinition(symbol.definition)) spans.unshift(symbol.definition);
    return spans.map((span) => ({ uri, range: spanToRange(lines, span) }));
  }
  const entry = model.elementAt(offset);
  if (entry?.kind === "l1HandlerReason") {
    // An L1 handler's references: the L2 operations whose exits L0 reflects to it.
    const locations = model
      .l1Reach(entry.hypervisor, entry.handler)
      .map((r) => ({ uri, range: spanToRange(lines, r.operation.span) }));
    if (includeDeclaration) locations.unshift({ uri, range: spanToRange(lines, entry.handler.reasonSpan) });
    return locations;
  }
  if (entry?.kind === "handlerReason") {
    const locations = model
      .operationsExitingWith(entry.handler.reason.code, entry.handler)
      .map((operation) => ({ uri, range: spanToRange(lines, operation.span) }));
    if (includeDeclaration) locations.unshift({ uri, range: spanToRange(lines, entry.handler.reasonSpan) });
    return locations;
  }
  return [];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function prepareRenameAt(
  model: DocumentModel,
  offset: number,
): { range: Range; placeholder: string } | null {
  const symbol = model.symbolAt(offset);
  if (!symbol) return null;
  const spans = hasDefinition(symbol.definition)
    ? [symbol.definition, ...symbol.references]
    : symbol.references;
  const span = spans.find((s) => s.start <= offset && offset <= s.end) ?? spans[0]!;
  return { range: spanToRange(model.analysis.lines, span), placeholder: symbol.name };
}

export function renameAt(
  model: DocumentModel,
  uri: string,
  offset: number,
  newName: string,
): WorkspaceEdit | null {
  const symbol = model.symbolAt(offset);
  if (!symbol) return null;
  if (!IDENTIFIER.test(newName))
    throw new ResponseError(-32602, `'${newName}' is not a valid name: use letters, digits and _`);
  if (newName !== symbol.name && model.symbols.get(`${symbol.kind}:${newName}`)) {
    throw new ResponseError(-32602, `a ${symbol.kind} named '${newName}' already exists`);
  }
  const lines = model.analysis.lines;
  const spans = hasDefinition(symbol.definition)
    ? [symbol.definition, ...symbol.references]
    : symbol.references;
  const edits: TextEdit[] = spans.map((span) => ({ range: spanToRange(lines, span), newText: newName }));
  return { changes: { [uri]: edits } };
}

const SYMBOL_KIND: Record<BlockInfo["kind"], SymbolKind> = {
  target: SymbolKind.Package,
  vmcs: SymbolKind.Struct,
  handler: SymbolKind.Event,
  fn: SymbolKind.Function,
  guest: SymbolKind.Module,
  expect: SymbolKind.Property,
  simulate: SymbolKind.Method,
  hypervisor: SymbolKind.Class,
};

export function documentSymbols(model: DocumentModel): DocumentSymbol[] {
  const lines = model.analysis.lines;
  return model.blocks.map((block) => ({
    name: block.kind === "handler" || block.kind === "target" ? `${block.kind} ${block.name}` : block.name,
    detail: block.kind === "handler" || block.kind === "target" ? undefined : block.kind,
    kind: SYMBOL_KIND[block.kind],
    range: spanToRange(lines, block.span),
    selectionRange: spanToRange(lines, block.selection),
    children: block.children.map((child) => ({
      name: child.name,
      detail: child.detail,
      // A hypervisor's children are its L1 handlers.
      kind: block.kind === "hypervisor" ? SymbolKind.Event : SymbolKind.Field,
      range: spanToRange(lines, child.span),
      selectionRange: spanToRange(lines, child.selection),
    })),
  }));
}

/**
 * Folding from the braces and block comments of the text itself (correct even when the file does
 * not parse). Linear scan.
 */
export function foldingRanges(
  model: DocumentModel | undefined,
  text: string,
  lineOf: (offset: number) => number,
): FoldingRange[] {
  void model;
  const ranges: FoldingRange[] = [];
  const open: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 47 /* / */ && text.charCodeAt(i + 1) === 47) {
      const end = text.indexOf("\n", i);
      i = end < 0 ? text.length : end + 1;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 42) {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      const startLine = lineOf(i);
      const endLine = lineOf(stop);
      if (endLine > startLine) ranges.push({ startLine, endLine, kind: FoldingRangeKind.Comment });
      i = stop;
      continue;
    }
    if (c === 123) open.push(i);
    else if (c === 125) {
      const start = open.pop();
      if (start !== undefined) {
        const startLine = lineOf(start);
        const endLine = lineOf(i);
        // Keep the closing brace visible: fold up to the line before it.
        if (endLine - 1 > startLine)
          ranges.push({ startLine, endLine: endLine - 1, kind: FoldingRangeKind.Region });
      }
    }
    i++;
  }
  return ranges.sort((a, b) => a.startLine - b.startLine);
}
