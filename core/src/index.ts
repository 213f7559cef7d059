/**
 * The core facade: `analyze(text)` runs the whole pipeline (parse → lower → VM-entry checks →
 * static estimates → lints) and returns everything the CLI, the language server and the
 * playground need. It never throws: an internal error becomes a TL999 diagnostic at offset 0,
 * so an editor session survives a bug in one stage.
 */
import { checkProgram } from "./analysis/checks";
import { estimateGuest } from "./analysis/estimate";
import { lintProgram } from "./analysis/lints";
import { adoptDecisions, type DecisionStore } from "./analysis/memo";
import type { GuestEstimate } from "./analysis/types";
import type { SourceFile } from "./lang/ast";
import { lex, type Token } from "./lang/lexer";
import { type ParseResult, parse, parseDeclarations } from "./lang/parser";
import type { Program, TargetIR } from "./model/ir";
import { Lowerer, type LowerOptions, type LowerResult, lower } from "./model/lower";
import type { SymbolIndex } from "./model/symbols";
import { type Diagnostic, LineMap, type Severity } from "./source";
import type { CpuProfile } from "./vmx/types";

export interface AnalyzeOptions {
  /** Profile used when the file has no `target` line (default: the documented default profile). */
  defaultTarget?: string;
  /**
   * Leaf exit decisions to share with earlier analyses (analysis/memo.ts): the language server
   * keeps one store per open document so a new version re-decides only what changed. Without
   * it the analysis makes its own.
   */
  decisions?: DecisionStore;
}

export interface Analysis {
  text: string;
  lines: LineMap;
  /**
   * The parse: its diagnostics, and the syntax tree and tokens rebuilt on first read. The
   * analysis does not keep the tree it lowered: everything after lowering reads the program
   * (whose spans keep only the single-token nodes they point at), so the statements, blocks
   * and lists of the tree become garbage while the checks and estimates run, and an open
   * document holds about half the objects.
   */
  parse: ParseResult;
  /** Start offset of every top-level declaration, in order (where completion starts a scan). */
  declarationStarts: Uint32Array;
  program: Program;
  symbols: SymbolIndex;
  /** Every stage's diagnostics, sorted by position, then severity. */
  diagnostics: Diagnostic[];
  /** Static estimate per guest name (guests whose estimate failed are absent). */
  estimates: Map<string, GuestEstimate>;
}

/** Code of the diagnostic that reports a bug in Trapline itself rather than in the file. */
export const INTERNAL_ERROR_CODE = "TL999";

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2, hint: 3 };

function internalError(stage: string, error: unknown): Diagnostic {
  const detail = error instanceof Error ? error.message : String(error);
  return {
    severity: "error",
    code: INTERNAL_ERROR_CODE,
    message: `internal error in ${stage}: ${detail} (this is a bug in Trapline, not in the file)`,
    span: { start: 0, end: 0 },
  };
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    a.span.start - b.span.start ||
    a.span.end - b.span.end ||
    SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
    (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)
  );
}

export function analyze(text: string, options: AnalyzeOptions = {}): Analysis {
  const diagnostics: Diagnostic[] = [];
  const lines = new LineMap(text);
  const lowerOptions: LowerOptions =
    options.defaultTarget !== undefined ? { defaultTarget: options.defaultTarget } : {};
  // Parsed and lowered one declaration at a time: each declaration's statements, blocks and
  // lists are garbage before the next is parsed, so the young-generation collector finds them
  // dead instead of copying the whole tree (see Lowerer).
  const lowerer = new Lowerer(text, lowerOptions);
  const starts: number[] = [];
  /** What lowering threw, if it did: parsing goes on (its diagnostics stand), lowering stops. */
  let loweringError: { error: unknown } | undefined;
  let parserFailed = false;
  let parseDiagnostics: Diagnostic[];
  try {
    parseDiagnostics = parseDeclarations(text, (decl) => {
      starts.push(decl.start);
      if (loweringError !== undefined) return;
      try {
        lowerer.add(decl);
      } catch (error) {
        loweringError = { error };
      }
    });
  } catch (error) {
    // A parse failure leaves nothing to lower: analyse the empty text instead.
    diagnostics.push(internalError("the parser", error));
    parseDiagnostics = [];
    parserFailed = true;
    starts.length = 0;
  }
  diagnostics.push(...parseDiagnostics);

  let lowered: LowerResult | undefined;
  if (!parserFailed) {
    if (loweringError === undefined) {
      try {
        lowered = lowerer.finish();
      } catch (error) {
        loweringError = { error };
      }
    }
    if (loweringError !== undefined) diagnostics.push(internalError("lowering", loweringError.error));
  }
  // The empty file lowers to an empty program with the default target (covered by tests).
  lowered ??= lower(parse(""), lowerOptions);
  diagnostics.push(...lowered.diagnostics);
  const program = lowered.program;
  if (options.decisions !== undefined) adoptDecisions(program, options.decisions);
  const declarationStarts = Uint32Array.from(starts);
  const parseResult = withoutTree({ text, diagnostics: parseDiagnostics });

  const analysed = analyzeProgram(program, text);
  diagnostics.push(...analysed.diagnostics);
  diagnostics.sort(compareDiagnostics);
  return {
    text,
    lines,
    parse: parseResult,
    declarationStarts,
    program,
    symbols: lowered.symbols,
    diagnostics,
    estimates: analysed.estimates,
  };
}

/**
 * What `analyze` does after lowering: the VM-entry checks, every guest's estimate and the lints
 * of a program, each stage's failure a TL999 diagnostic. For a program lowered from `text` and
 * then changed (another CPU as the target, another vmcs for a guest): a comparison of
 * configurations runs the same stages as the file's own analysis. Diagnostics unsorted.
 */
export function analyzeProgram(
  program: Program,
  text: string,
): { diagnostics: Diagnostic[]; estimates: Map<string, GuestEstimate> } {
  const diagnostics: Diagnostic[] = [];
  try {
    diagnostics.push(...checkProgram(program, { text }));
  } catch (error) {
    diagnostics.push(internalError("the VM-entry checks", error));
  }

  const estimates = new Map<string, GuestEstimate>();
  for (const name of program.guests.keys()) {
    try {
      estimates.set(name, estimateGuest(program, name));
    } catch (error) {
      diagnostics.push(internalError(`the estimate of guest ${name}`, error));
    }
  }

  try {
    diagnostics.push(...lintProgram(program, estimates, { text }));
  } catch (error) {
    diagnostics.push(internalError("the lints", error));
  }

  return { diagnostics, estimates };
}

/**
 * The target of a comparison on another CPU: the profile's capability MSRs and costs at its
 * default clock. The file's `@` frequency and `msr`/`cost` overrides describe the file's own
 * machine and are not carried over; times in the program stay the cycles they were at the
 * file's clock. The language server's compare rows and the panel's runs on another CPU both use
 * it, so a row and its simulation agree.
 */
export function otherCpuTarget(profile: CpuProfile): TargetIR {
  return {
    profile,
    hz: profile.defaultHz,
    msrs: { ...profile.msrs },
    costs: { ...profile.costs },
    mitigations: [],
  };
}

/** The parse result without its tree: `file` and `tokens` are parsed and lexed again when read. */
function withoutTree(parsed: Pick<ParseResult, "text" | "diagnostics">): ParseResult {
  const { text, diagnostics } = parsed;
  let file: SourceFile | undefined;
  let tokens: Token[] | undefined;
  return {
    text,
    diagnostics,
    get file(): SourceFile {
      file ??= parse(text).file;
      return file;
    },
    get tokens(): Token[] {
      tokens ??= lex(text).tokens;
      return tokens;
    },
  };
}

// ---- The facade's names: the one door adapters use (cli/, server/, client/, webview/,
// playground/, tests and benches). Listed by name, no `export *`: a name an adapter needs is
// added to its group here.

export { type BudgetFigure, budgetFigure, budgetViolationMessage } from "./analysis/budgetText";
// Analysis: VM-entry checks, exit decisions, costs, estimates, lints, and their result types.
export { applyEdits } from "./analysis/checkEdits";
export { type CheckOptions, checkProgram, PAIR_RULES } from "./analysis/checks";
export { handlerCost } from "./analysis/cost";
export { effectiveControls } from "./analysis/effective";
export { estimateData, estimateGuest } from "./analysis/estimate";
export { decideExit } from "./analysis/exits";
export { type GuestTimeEstimate, guestTime, type PathGuestTime } from "./analysis/guestTime";
export { type LintOptions, lintProgram } from "./analysis/lints";
export { DecisionStore } from "./analysis/memo";
export { type ChainCost, type ChainStep, reflectedChainCost, shadowSets } from "./analysis/nested/chain";
export {
  type NestedEstimate,
  type NestedOperationEstimate,
  type NestedReasonEstimate,
  nestedEstimate,
} from "./analysis/nested/estimate";
export { nestedGuestHover, nestedOperationHover } from "./analysis/nested/hover";
export { coalesceText, formatLatencySummary, pathFigureLines, pathRateText } from "./analysis/pathReport";
export {
  meanCyclesPerExit,
  overrideProgram,
  parseSweepSpec,
  parseTargets,
  pointLabel,
  programOnTarget,
  resolveSweepParameter,
  SweepError,
  type SweepFigures,
  type SweepKind,
  type SweepParameter,
  type SweepRow,
  type SweepSpec,
  type SweepStatus,
  type SweepValue,
  sweepEstimates,
  sweepParameterNames,
  sweepPrograms,
  sweepRowFigures,
} from "./analysis/sweep";
export {
  type ExitCost,
  exitCost,
  primaryGuest,
  primaryVmcs,
  type TransitionCost,
  transitionBreakdown,
  vcpuMayMigrate,
} from "./analysis/transitionCost";
export type {
  CoalesceWaitEstimate,
  GuestEstimate,
  HandlerEstimate,
  OperationEstimate,
  PathEstimate,
  PathLatencySummary,
  ReasonEstimate,
} from "./analysis/types";

// Language: parsing, the statement shapes completion offers, units.
export { nodePathAt, type ParseResult, parse, parseDeclarations } from "./lang";
export {
  type ArgumentWords,
  argumentWordList,
  argumentWords,
  BUDGET_METRICS,
  EPT_PERMISSIONS,
  GUEST_OP_STATEMENTS,
  GUEST_STATEMENTS,
  HANDLER_STATEMENTS,
  HYPERVISOR_STATEMENTS,
  type StatementShape,
  VMCS_STATEMENTS,
} from "./lang/grammar";
export { toBaseUnit } from "./lang/units";
export {
  type ExitOperand,
  guestOperandOf,
  handlerOf,
  handlerTitle,
  handlerVariantOf,
  hasAnyHandler,
} from "./model/handlers";
// Model: lowering and the program (IR) it builds, the symbol index.
// Handlers by operand: which handler takes an exit (docs/language.md "Handlers by operand").
export type {
  ControlSetting,
  ExpectIR,
  ExpectMetric,
  FnIR,
  GuestIR,
  GuestOp,
  GuestSource,
  HandlerIR,
  HandlerOp,
  HandlerOperand,
  HypervisorIR,
  MeasuredIR,
  MsrTrap,
  PortRange,
  Program,
  TargetIR,
  VmcsIR,
} from "./model/ir";
export { Lowerer, type LowerOptions, type LowerResult, lower } from "./model/lower";
export type { SymbolIndex } from "./model/symbols";
// Simulation: the simulator, its result, budgets, timelines and Chrome trace export.
export {
  checkSimulatedBudgets,
  DEFAULT_TIMELINE_INTERVALS,
  LogHistogram,
  Sfc32,
  SimulationError,
  type SimulationResult,
  simulate,
  simulateAsync,
  VcpuState,
} from "./sim";
export { type TraceOptions, timelineToTrace } from "./sim/trace";
// Source text: spans, diagnostics and their fixes, offsets to lines.
export { type CodeFix, type Diagnostic, LineMap, type Severity, type Span, type TextEdit } from "./source";
// Traces: import of measured traces, comparison with the model, calibration, inference, export.
export {
  applyTextEdits,
  CalibrationError,
  type CalibrationResult,
  type ComparedFigure,
  calibrate,
  compareWithTrace,
  DEFAULT_TOLERANCE,
  detectFormat,
  estimateFigures,
  importTrace,
  inferVmcs,
  type LatencySummary,
  type MeasuredComparison,
  type ModelFigures,
  type PairedTable,
  type ReasonComparison,
  type ReasonRow,
  resolveReasonText,
  simulationFigures,
  type TotalComparison,
  TRACE_FORMATS,
  TraceExportError,
  type TraceFormat,
  TraceImporter,
  type TraceResult,
  timelineToTraceCmd,
  type VcpuSummary,
} from "./trace";
export { nestedEptOf } from "./trace/exportNested";
export { TRACE_NOMINAL_HZ, type TraceRun, traceToRun, UNKNOWN_REASON_BASE } from "./trace/timeline";
// VT-x facts: controls, exit reasons, exceptions, MSRs, VMCS fields, CPU profiles.
export {
  CONTROL_WORD_FIELD,
  CONTROLS,
  type ControlDef,
  type ControlWord,
  type CpuProfile,
  controlWordCapability,
  EXCEPTIONS,
  EXIT_REASONS,
  type ExitReasonDef,
  exceptionByMnemonic,
  exceptionByVector,
  exitReasonByCode,
  exitReasonByName,
  findControls,
  MSRS,
  type MsrDef,
  msrByIndex,
  msrByName,
  NESTED_EMULATED,
  nestedCapabilityMsrs,
  PROFILES,
  profileByName,
  unsetStateNote,
  VMCS_FIELDS,
  type VmcsFieldDef,
  vmcsFieldByName,
} from "./vmx";
// CPUID as presented: the feature table and each profile's features (docs/language.md "CPUID").
export { CPU_FEATURES, type CpuFeatureDef, cpuidBitText, profileFeatures } from "./vmx/cpuid";
export { EXIT_OPERANDS, type ExitOperandDef, exitOperandOf } from "./vmx/exitOperands";
export {
  SVM_EXIT_REASONS,
  type SvmExitReasonDef,
  svmExitReasonByCode,
  svmExitReasonByName,
} from "./vmx/svmExitReasons";
