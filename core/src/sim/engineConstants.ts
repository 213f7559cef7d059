/**
 * The engine's constants: vCPU modes, context actions, why a run stops, marker kinds, queue
 * sizes and the bounds of one step. Shared by the modules of the engine (state.ts, engine.ts,
 * guestRun.ts, interpreter.ts, straight.ts, hostModels.ts, runEnd.ts), each of which copies what
 * it uses into module constants.
 */
import { REASON_PAUSE_INSTRUCTION } from "./plan";
import { VcpuState as ImportedVcpuState } from "./timeline";

// Module-local copies: imported bindings can compile to property getters (CommonJS interop),
// which the per-event switch must not pay for. The modules of the engine (engine.ts,
// interpreter.ts, straight.ts, hostModels.ts) copy what they use into module constants too.
export const VcpuState = {
  Guest: ImportedVcpuState.Guest as number,
  Exit: ImportedVcpuState.Exit as number,
  Handler: ImportedVcpuState.Handler as number,
  Userspace: ImportedVcpuState.Userspace as number,
  Halted: ImportedVcpuState.Halted as number,
  Polling: ImportedVcpuState.Polling as number,
  Descheduled: ImportedVcpuState.Descheduled as number,
} as const;

/** Pending executions of a coalesce batch whose wait is recorded (later ones are not). */
export const COALESCE_TIMES_MAX = 4096;

// vCPU modes.
export const MODE_GUEST = 0;
export const MODE_ROOT = 1;
export const MODE_HALTED = 2;
export const MODE_HALT_POLL = 3;
export const MODE_DESCHEDULED = 4;

// Pending actions of a context.
export const ACTION_NONE = 0;
export const ACTION_EXIT = 1;
export const ACTION_END = 2;
/** The context reaches a point that must run at its own time (a coalesce site), then goes on. */
export const ACTION_RESUME = 3;
/**
 * The interpreter has run STEP_CHUNK loop iterations in one go: it goes on at its own time, as
 * an event of its own (even after no compute), so long loops are sliced and counted.
 */
export const ACTION_YIELD = 4;
/** Loop iterations the interpreter runs in one call before it yields (ACTION_YIELD). */
export const STEP_CHUNK = 1 << 16;

// Why a run stopped before its end (result.stopped).
export const STOP_NONE = 0;
export const STOP_EVENTS = 1;
export const STOP_STEPS = 2;
/** Largest timeline the options may ask for (intervals; 48 bytes each). */
export const MAX_TIMELINE_INTERVALS = 1 << 24;

/** Marker kinds (timeline.ts). */
export const MARK_INJECTION = 0;
export const MARK_ARRIVAL = 1;
export const MARK_POSTED = 2;

export const PATH_QUEUE = 4096;
export const IRQ_QUEUE = 1024;
export const INJECT_QUEUE = 8;
/** glibc's lock elision retries a transaction a few times before taking the lock. */
export const TSX_RETRIES = 3;
export const REASON_PAUSE = REASON_PAUSE_INSTRUCTION;
/**
 * Bounds that keep one step short (for simulateAsync's slices and the event budget) without
 * depending on where a slice ends, so that slicing never changes the order of events and
 * simulateAsync gives the same result as simulate: entries folded in one chain, events in one
 * batch.
 */
export const FOLD_CHAIN_MAX = 4096;
export const BATCH_EVENTS_MAX = 4096;
/**
 * Batch window in simulated seconds: how far one vCPU's events may be processed ahead of the
 * others' when the vCPUs cannot observe each other (no host preemption). Statistics do not
 * depend on it; the timeline's records come out of time order across vCPUs by up to this much,
 * and a truncated timeline is complete only to this much before its last record.
 */
export const BATCH_WINDOW_SEC = 50e-6;
