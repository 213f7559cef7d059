/**
 * Importing real KVM traces (docs/traces.md): perf kvm stat report/live, trace-cmd report,
 * ftrace, perf script, kvm_stat. `TraceImporter` streams (`feed`/`end`); `importTrace` takes a
 * whole text. Editor-free: the caller reads the file.
 */

export {
  applyTextEdits,
  type CalibratedReason,
  CalibrationError,
  type CalibrationResult,
  calibrate,
} from "./calibrate";
export {
  type ComparedFigure,
  compareWithTrace,
  DEFAULT_TOLERANCE,
  estimateFigures,
  type MeasuredComparison,
  type ModelFigures,
  type ReasonComparison,
  simulationFigures,
  type TotalComparison,
  type VcpuComparison,
} from "./compare";
export { DETECTION_LINES, detectFormat } from "./detect";
export { type TraceCmdExportOptions, TraceExportError, timelineToTraceCmd } from "./export";
export { importTrace, kindOfFormat, MAX_BAD_LINES_SHOWN, TraceImporter } from "./importer";
export { type InferOptions, type InferResult, inferVmcs } from "./infer";
export {
  DETAIL_KEYS_PER_REASON,
  RIPS_LISTED,
  RIPS_PER_REASON,
  TIMELINE_CAPACITY,
  VCPU_REASON_HISTOGRAMS,
} from "./pairing";
export { type ResolvedReason, resolveReasonText } from "./reasons";
export * from "./types";
