/**
 * Semantic tokens, inlay hints and code lenses: the analysis drawn into the text. All three walk
 * the model's index once; none re-analyses.
 */
import {
  type CodeLens,
  type InlayHint,
  InlayHintKind,
  type Range,
  type SemanticTokens,
  type SemanticTokensEdit,
  type SemanticTokensLegend,
} from "vscode-languageserver";
import {
  type ControlDef,
  exitCost,
  type HandlerIR,
  handlerTitle,
  handlerVariantOf,
  primaryGuest,
  primaryVmcs,
  reflectedChainCost,
  type Span,
  vcpuMayMigrate,
} from "../../../core/src/index";
import {
  formatCompact,
  formatCores,
  formatInteger,
  formatPercent,
  formatRate,
} from "../../../core/src/util/format";
import { lowerBound } from "../../../core/src/util/search";
import { spanToRange } from "../convert";
import { type DocumentModel, indexInSpan, nameSpanAtEnd } from "../model";
import { RUN_SIMULATION_COMMAND } from "../protocol";
import { isControlSupported } from "./hoverVmx";
import { handlerLensSuffix, type MeasuredView, measuredLensTitle } from "./measured";

export const TOKEN_TYPES = [
  "vmxControl",
  "exitReason",
  "vmcsField",
  "msr",
  "struct",
  "namespace",
  "function",
  "guestOperation",
  "type",
] as const;
export const TOKEN_MODIFIERS = ["declaration", "unsupported", "exits", "readonly"] as const;

export const SEMANTIC_LEGEND: SemanticTokensLegend = {
  tokenTypes: [...TOKEN_TYPES],
  tokenModifiers: [...TOKEN_MODIFIERS],
};

type TokenType = (typeof TOKEN_TYPES)[number];
const TYPE_INDEX = Object.fromEntries(TOKEN_TYPES.map((type, index) => [type, index])) as Record<
  TokenType,
  number
>;
const DECLARATION = 1 << 0;
const UNSUPPORTED = 1 << 1;
const EXITS = 1 << 2;
const READONLY = 1 << 3;

/**
 * The tokens of one analysed version, sorted by start and never overlapping: four parallel
 * columns (offset, length, type, modifiers). Built once per version on the first request, so a
 * full request after an edit pays for one walk of the index and range requests (the visible part
 * of a large file, on every scroll) only for a binary search and their own tokens.
 */
interface TokenTable {
  count: number;
  start: Int32Array;
  length: Int32Array;
  type: Uint8Array;
  modifiers: Uint8Array;
}

const tokenTables = new WeakMap<DocumentModel, TokenTable>();

/** Longest token kept; with sorted starts, a range request looks back at most this far. */
const MAX_TOKEN_LENGTH = 200;

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function tokenTable(model: DocumentModel): TokenTable {
  const cached = tokenTables.get(model);
  if (cached) return cached;
  const { text, program } = model.analysis;
  const found: { start: number; end: number; type: number; modifiers: number }[] = [];
  const push = (start: number, end: number, type: TokenType, modifiers = 0) => {
    if (end <= start || end - start > MAX_TOKEN_LENGTH) return;
    // Tokens never span lines (most clients cannot draw multi-line tokens).
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) return;
    }
    found.push({ start, end, type: TYPE_INDEX[type], modifiers });
  };
  // Support of a control depends only on its word's capability MSR: one lookup per word.
  const supportedByControl = new Map<ControlDef, boolean>();
  const supported = (control: ControlDef) => {
    let value = supportedByControl.get(control);
    if (value === undefined) {
      value = isControlSupported(program, control);
      supportedByControl.set(control, value);
    }
    return value;
  };

  for (const entry of model.allEntries()) {
    const { span } = entry;
    switch (entry.kind) {
      case "control":
        push(span.start, span.end, "vmxControl", supported(entry.setting.control) ? 0 : UNSUPPORTED);
        break;
      case "handlerReason":
      case "l1HandlerReason":
        push(span.start, span.end, "exitReason", DECLARATION);
        break;
      // An L1 hypervisor is a guest of L0: coloured as guests are.
      case "hypervisorName":
        push(span.start, span.end, "namespace", DECLARATION);
        break;
      case "hypervisorRef":
        push(span.start, span.end, "namespace");
        break;
      case "vmcsName":
        push(span.start, span.end, "struct", DECLARATION);
        break;
      case "vmcsRef":
        push(span.start, span.end, "struct");
        break;
      case "guestName":
        push(span.start, span.end, "namespace", DECLARATION);
        break;
      case "guestRef":
        push(span.start, span.end, "namespace");
        break;
      case "fnName":
        push(span.start, span.end, "function", DECLARATION);
        break;
      case "fnRef":
        push(span.start, span.end, "function");
        break;
      case "target":
        push(span.start, span.end, "type");
        break;
      case "handlerOp":
        if (entry.op.op === "vmread" || entry.op.op === "vmwrite") {
          const name = nameSpanAtEnd(text, span, entry.op.field.name);
          push(name.start, name.end, "vmcsField", entry.op.field.readOnly ? READONLY : 0);
        }
        break;
      case "vmcsField": {
        // Fields set by other statements (`ple gap …` sets PLE_GAP) do not spell the name.
        const at = indexInSpan(text, span, entry.name);
        if (at >= 0) push(at, at + entry.name.length, "vmcsField");
        break;
      }
      case "guestOp": {
        const operation = model.operationAt(entry.guest, entry.op.span.start);
        const exits = operation !== undefined && operation.decision.exits.length > 0;
        let end = span.start;
        while (end < span.end && isWordChar(text.charCodeAt(end))) end++;
        push(span.start, end, "guestOperation", exits ? EXITS : 0);
        break;
      }
      default:
        break;
    }
  }
  // The index is sorted by start already; a stable sort keeps the rare ties in index order.
  found.sort((a, b) => a.start - b.start);
  const table: TokenTable = {
    count: 0,
    start: new Int32Array(found.length),
    length: new Int32Array(found.length),
    type: new Uint8Array(found.length),
    modifiers: new Uint8Array(found.length),
  };
  let lastEnd = -1;
  for (const token of found) {
    if (token.start < lastEnd) continue; // overlapping tokens are not allowed
    const i = table.count++;
    table.start[i] = token.start;
    table.length[i] = token.end - token.start;
    table.type[i] = token.type;
    table.modifiers[i] = token.modifiers;
    lastEnd = token.end;
  }
  tokenTables.set(model, table);
  return table;
}

/**
 * Semantic tokens of the whole file, or of the tokens intersecting `range` (a range request: the
 * visible lines), relative-encoded as the LSP wants. Positions come from one binary search for
 * the first token and then a forward sweep over the line starts: linear in the tokens returned.
 */
export function semanticTokens(model: DocumentModel, range?: Span): SemanticTokens {
  const table = tokenTable(model);
  const lines = model.analysis.lines;
  let first = 0;
  let last = table.count; // exclusive
  if (range) {
    first = lowerBound(table.start, range.start - MAX_TOKEN_LENGTH, 0, table.count);
    while (first < table.count && table.start[first]! + table.length[first]! <= range.start) first++;
    last = lowerBound(table.start, range.end, first, table.count);
  }
  const data: number[] = new Array((last - first) * 5);
  let out = 0;
  let line = first < last ? lines.positionAt(table.start[first]!).line : 0;
  let nextLineStart = lines.lineStart(line + 1);
  const lineCount = lines.lineCount;
  let lineStart = lines.lineStart(line);
  let previousLine = 0;
  let previousCharacter = 0;
  for (let i = first; i < last; i++) {
    const start = table.start[i]!;
    while (line + 1 < lineCount && nextLineStart <= start) {
      line++;
      lineStart = nextLineStart;
      nextLineStart = lines.lineStart(line + 1);
    }
    const character = start - lineStart;
    data[out++] = line - previousLine;
    data[out++] = line === previousLine ? character - previousCharacter : character;
    data[out++] = table.length[i]!;
    data[out++] = table.type[i]!;
    data[out++] = table.modifiers[i]!;
    previousLine = line;
    previousCharacter = character;
  }
  return { data };
}

/**
 * `semanticTokens/full/delta`: the edits that turn the previous result's data into `next`'s, as
 * one replacement between their common prefix and common suffix (an edit usually changes a few
 * tokens, so the client receives a few numbers instead of the whole file's tokens again).
 */
export function semanticTokensEdits(
  previous: readonly number[],
  next: readonly number[],
): SemanticTokensEdit[] {
  let prefix = 0;
  const shorter = Math.min(previous.length, next.length);
  while (prefix < shorter && previous[prefix] === next[prefix]) prefix++;
  if (prefix === previous.length && prefix === next.length) return [];
  let suffix = 0;
  while (
    suffix < shorter - prefix &&
    previous[previous.length - 1 - suffix] === next[next.length - 1 - suffix]
  )
    suffix++;
  return [
    {
      start: prefix,
      deleteCount: previous.length - prefix - suffix,
      data: next.slice(prefix, next.length - suffix),
    },
  ];
}

/**
 * After each leaf guest operation that exits: "⟶ 100k/s EPT_MISCONFIG", only for the operations
 * in `range` (the visible lines): a binary search into the index, then the entries in the range.
 */
export function inlayHints(model: DocumentModel, range: Span): InlayHint[] {
  const hints: InlayHint[] = [];
  const lines = model.analysis.lines;
  const entries = model.allEntries();
  // A leaf operation that starts before the range and reaches into it contains no other entry,
  // so it is among the few entries just before the first one starting in the range.
  let i = model.firstEntryFrom(range.start);
  for (let back = 0; i > 0 && back < 16; back++) i--;
  for (; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.span.start > range.end) break;
    if (entry.kind !== "guestOp" || entry.span.end < range.start) continue;
    const op = entry.op.op;
    if (op === "tsx" || op === "branch" || op === "repeat" || op === "coalesce") continue;
    const operation = model.operationAt(entry.guest, entry.op.span.start);
    if (!operation || operation.decision.exits.length === 0) continue;
    const reasons = operation.decision.exits.map((effect) => effect.reason.name).join(", ");
    hints.push({
      position: lines.positionAt(entry.span.end),
      label: `⟶ ${formatRate(operation.exitsPerSecond)} per vCPU ${reasons}`,
      kind: InlayHintKind.Parameter,
      paddingLeft: true,
      tooltip: `${operation.decision.rule} (${operation.decision.reference}); ${formatPercent(operation.vcpuShare)} of a vCPU`,
    });
  }
  return hints;
}

export interface LensOptions {
  /** The client implements trapline.runSimulation (the VS Code extension says so at initialize). */
  simulateCommand: boolean;
  /** The client implements trapline.showEstimate. */
  estimateCommand: boolean;
}

export function codeLenses(
  model: DocumentModel,
  uri: string,
  options: LensOptions,
  measured?: MeasuredView,
): CodeLens[] {
  const program = model.analysis.program;
  const lines = model.analysis.lines;
  const lenses: CodeLens[] = [];
  const lensRange = (span: Span): Range => {
    const start = lines.positionAt(span.start);
    return { start, end: start };
  };
  const specialised = [...(program.operandHandlers?.values() ?? [])].flat();
  for (const handler of [...program.handlers.values(), ...specialised]) {
    let total = 0;
    try {
      total = exitCost(
        program,
        primaryVmcs(program),
        handler.reason.code,
        vcpuMayMigrate(primaryGuest(program)),
        handlerVariantOf(program, handler),
      ).total;
    } catch {
      continue;
    }
    const exitsPerSecond = handlerExitsPerSecond(model, handler);
    const cpu = (exitsPerSecond * total) / program.target.hz;
    const title = `≈ ${formatInteger(total)} cycles · ${formatCompact(exitsPerSecond)} exits/s (all vCPUs) · ${formatPercent(cpu)} CPU${handlerLensSuffix(measured, handler.reason.code)}`;
    lenses.push({
      range: lensRange(handler.span),
      command: options.estimateCommand
        ? { title, command: "trapline.showEstimate", arguments: [uri] }
        : { title, command: "" },
    });
  }
  // L1's handlers: the chain of one exit reflected to each, and the L2 exits that reach it.
  for (const hypervisor of program.hypervisors.values()) {
    const specialisedL1 = [...(hypervisor.operandHandlers?.values() ?? [])].flat();
    for (const handler of [...hypervisor.handlers.values(), ...specialisedL1]) {
      const index = hypervisor.operandHandlers?.get(handler.reason.code)?.indexOf(handler) ?? -1;
      const chain = reflectedChainCost(
        program,
        hypervisor,
        handler.reason.code,
        index >= 0 ? index : undefined,
      );
      const title = `L1: ≈ ${formatInteger(chain.total)} cycles per reflected exit (L0 ${formatInteger(chain.l0Cycles)}, L1 ${formatInteger(chain.l1Cycles)}) · ${formatCompact(model.l1ReachedPerSecond(hypervisor, handler))} exits/s (all vCPUs)`;
      lenses.push({
        range: lensRange(handler.span),
        command: options.estimateCommand
          ? { title, command: "trapline.showEstimate", arguments: [uri] }
          : { title, command: "" },
      });
    }
  }
  for (const guest of program.guests.values()) {
    const estimate = model.analysis.estimates.get(guest.name);
    if (estimate) {
      const title = `overhead ${formatPercent(estimate.overhead)} · ${formatRate(estimate.exitsPerSecond)} exits (all vCPUs) · host CPU ${formatCores(estimate.hostCpu)}`;
      lenses.push({
        range: lensRange(guest.span),
        command: options.estimateCommand
          ? { title, command: "trapline.showEstimate", arguments: [uri, guest.name] }
          : { title, command: "" },
      });
    }
    if (options.simulateCommand) {
      lenses.push({
        range: lensRange(guest.span),
        command: { title: "▶ Simulate", command: RUN_SIMULATION_COMMAND, arguments: [uri, guest.name] },
      });
    }
  }
  for (const m of measured?.values() ?? []) {
    const title = measuredLensTitle(m);
    lenses.push({
      range: lensRange(m.ir.span),
      command: options.estimateCommand
        ? { title, command: "trapline.showEstimate", arguments: [uri, m.guest] }
        : { title, command: "" },
    });
  }
  return lenses.sort((a, b) => a.range.start.line - b.range.start.line);
}

export { spanToRange };

/**
 * Exits per second the handler takes, all guests: its row of the reason's per-handler split
 * where handlers specialised by operand share the reason, else the reason's whole rate.
 */
function handlerExitsPerSecond(model: DocumentModel, handler: HandlerIR): number {
  const total = model.reasonTotals.get(handler.reason.code);
  if (!total) return 0;
  const title = handlerTitle(handler);
  let sum = 0;
  for (const { estimate } of total.perGuest) {
    if (!estimate.handlers) {
      if (handler.operand === undefined) sum += estimate.exitsPerSecond;
      continue;
    }
    for (const row of estimate.handlers) if (row.handler === title) sum += row.exitsPerSecond;
  }
  return sum;
}
