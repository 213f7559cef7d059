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
  SemanticTokensBuilder,
  type SemanticTokensLegend,
} from "vscode-languageserver";
import { handlerCost } from "../../../core/src/analysis/cost";
import type { Span } from "../../../core/src/source";
import { spanToRange } from "../convert";
import { formatCount, formatPercent, formatRate } from "../format";
import { type DocumentModel, nameSpanAtEnd } from "../model";
import { RUN_SIMULATION_COMMAND } from "../protocol";
import { isControlSupported } from "./hover";

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
const typeIndex = (type: TokenType) => TOKEN_TYPES.indexOf(type);
const DECLARATION = 1 << 0;
const UNSUPPORTED = 1 << 1;
const EXITS = 1 << 2;
const READONLY = 1 << 3;

export function semanticTokens(model: DocumentModel, range?: Span): SemanticTokens {
  const { text, lines } = model.analysis;
  const program = model.analysis.program;
  const tokens: { start: number; end: number; type: number; modifiers: number }[] = [];
  const push = (span: Span, type: TokenType, modifiers = 0) => {
    if (span.end <= span.start || span.end - span.start > 200) return;
    if (range && (span.end < range.start || span.start > range.end)) return;
    // Tokens never span lines (most clients cannot draw multi-line tokens).
    for (let i = span.start; i < span.end; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) return;
    }
    tokens.push({ start: span.start, end: span.end, type: typeIndex(type), modifiers });
  };
  const firstWord = (span: Span): Span => {
    let end = span.start;
    while (end < span.end && /[A-Za-z0-9_]/.test(text[end]!)) end++;
    return { start: span.start, end };
  };

  for (const entry of model.allEntries()) {
    switch (entry.kind) {
      case "control":
        push(entry.span, "vmxControl", isControlSupported(program, entry.setting.control) ? 0 : UNSUPPORTED);
        break;
      case "handlerReason":
        push(entry.span, "exitReason", DECLARATION);
        break;
      case "vmcsName":
        push(entry.span, "struct", DECLARATION);
        break;
      case "vmcsRef":
        push(entry.span, "struct");
        break;
      case "guestName":
        push(entry.span, "namespace", DECLARATION);
        break;
      case "guestRef":
        push(entry.span, "namespace");
        break;
      case "fnName":
        push(entry.span, "function", DECLARATION);
        break;
      case "fnRef":
        push(entry.span, "function");
        break;
      case "target":
        push(entry.span, "type");
        break;
      case "handlerOp":
        if (entry.op.op === "vmread" || entry.op.op === "vmwrite") {
          push(
            nameSpanAtEnd(text, entry.span, entry.op.field.name),
            "vmcsField",
            entry.op.field.readOnly ? READONLY : 0,
          );
        }
        break;
      case "vmcsField": {
        const at = text.indexOf(entry.name, entry.span.start);
        if (at >= 0 && at < entry.span.end) push({ start: at, end: at + entry.name.length }, "vmcsField");
        break;
      }
      case "guestOp": {
        const operation = model.operationBySpan.get(entry.op.span.start);
        const exits = operation !== undefined && operation.decision.exits.length > 0;
        push(firstWord(entry.span), "guestOperation", exits ? EXITS : 0);
        break;
      }
      default:
        break;
    }
  }
  tokens.sort((a, b) => a.start - b.start);
  const builder = new SemanticTokensBuilder();
  let lastEnd = -1;
  for (const token of tokens) {
    if (token.start < lastEnd) continue; // overlapping tokens are not allowed
    const position = lines.positionAt(token.start);
    builder.push(position.line, position.character, token.end - token.start, token.type, token.modifiers);
    lastEnd = token.end;
  }
  return builder.build();
}

/** After each leaf guest operation that exits: "⟶ 100k/s EPT_MISCONFIG". */
export function inlayHints(model: DocumentModel, range: Span): InlayHint[] {
  const hints: InlayHint[] = [];
  const lines = model.analysis.lines;
  for (const entry of model.allEntries()) {
    if (entry.kind !== "guestOp") continue;
    if (entry.span.end < range.start || entry.span.start > range.end) continue;
    const op = entry.op.op;
    if (op === "tsx" || op === "branch" || op === "repeat") continue;
    const operation = model.operationBySpan.get(entry.op.span.start);
    if (!operation || operation.decision.exits.length === 0) continue;
    const reasons = operation.decision.exits.map((effect) => effect.reason.name).join(", ");
    hints.push({
      position: lines.positionAt(entry.span.end),
      label: `⟶ ${formatRate(operation.exitsPerSecond)} ${reasons}`,
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

export function codeLenses(model: DocumentModel, uri: string, options: LensOptions): CodeLens[] {
  const program = model.analysis.program;
  const lines = model.analysis.lines;
  const lenses: CodeLens[] = [];
  const lensRange = (span: Span): Range => {
    const start = lines.positionAt(span.start);
    return { start, end: start };
  };
  for (const handler of program.handlers.values()) {
    let total = 0;
    try {
      total = handlerCost(program, handler.reason.code).total;
    } catch {
      continue;
    }
    const exitsPerSecond = model.reasonTotals.get(handler.reason.code)?.exitsPerSecond ?? 0;
    const cpu = (exitsPerSecond * total) / program.target.hz;
    const title = `≈ ${Math.round(total).toLocaleString("en-US")} cycles · ${formatCount(exitsPerSecond)} exits/s · ${formatPercent(cpu)} CPU`;
    lenses.push({
      range: lensRange(handler.span),
      command: options.estimateCommand
        ? { title, command: "trapline.showEstimate", arguments: [uri] }
        : { title, command: "" },
    });
  }
  for (const guest of program.guests.values()) {
    const estimate = model.analysis.estimates.get(guest.name);
    if (estimate) {
      const title = `overhead ${formatPercent(estimate.overhead)} · ${formatRate(estimate.exitsPerSecond)} exits · ${estimate.hostCpu.toFixed(2)} host cores`;
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
  return lenses.sort((a, b) => a.range.start.line - b.range.start.line);
}

export { spanToRange };
