/**
 * The light door into the core, for a page that shows results without running the engine (the
 * timeline panel's page): the timeline format and its Chrome-trace export, the types of
 * estimates and simulation results, and plain helpers. It reaches none of the engine's tables
 * except the exit-reason names the trace export prints, so the panel page's bundle stays small
 * (dist/webview/timeline.js is 50 kB through this module, 111 kB through index.ts, which pulls
 * in the profiles, controls and grammar tables esbuild cannot drop). index.ts exports all of it
 * too; adapters import one of the two (docs/ARCHITECTURE.md, "Layers").
 */
export type * from "./analysis/types";
export {
  TIMELINE_LEVEL_NAMES,
  type Timeline,
  type TimelineSource,
  VCPU_STATE_NAMES,
  VcpuState,
} from "./sim/timeline";
export { type TraceOptions, timelineToTrace } from "./sim/trace";
export type {
  DurationStats,
  LatencyStats,
  SimPathStats,
  SimReasonStats,
  SimulationResult,
} from "./sim/types";
