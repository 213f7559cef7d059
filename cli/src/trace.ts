/**
 * The Chrome trace-event converter lives in the core (core/src/sim/trace.ts) so the timeline
 * panel's page can use it without importing from the CLI; re-exported here for the CLI.
 */
export { type TraceOptions, timelineToTrace } from "../../core/src/index";
