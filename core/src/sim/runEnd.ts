/**
 * The end of a run: the open interval of every vCPU closed at the run's end (so state times add
 * up to the duration) and the result, built whole from the observers and how the run ended.
 */

import * as S from "./engineConstants";
import { endL1Phases, inL1PollHalt } from "./l1Poll";
import { buildResult } from "./result";
import type { EngineState } from "./state";
import type { SimulationResult } from "./types";

const { VcpuState, MODE_GUEST, MODE_HALTED, MODE_HALT_POLL, MODE_DESCHEDULED, STOP_NONE, STOP_EVENTS } = S;

/** Closes each vCPU's open interval at `e.endTime`. */
export function closeOpenIntervals(e: EngineState): void {
  const end = e.endTime;
  for (let v = 0; v < e.nV; v++) {
    switch (e.mode[v]) {
      case MODE_GUEST:
        e.closeGuest(v, end);
        break;
      // A run stopped by a budget ends at the global clock, which a vCPU that ran ahead
      // (folded entries) may have passed: its open interval then adds nothing.
      case MODE_HALTED:
        if (end < e.haltStart[v]) break;
        e.recorder.record(e.haltStart[v], end - e.haltStart[v], v, VcpuState.Halted, -1, -1);
        e.stats.haltedCycles += end - e.haltStart[v];
        break;
      case MODE_HALT_POLL: {
        if (end < e.haltStart[v]) break;
        // L1 polled first (nestedIdle.ts): its poll and HLT exit, then L0's poll.
        const since = inL1PollHalt(e, v) ? endL1Phases(e, v, end) : e.haltStart[v];
        if (end <= since && inL1PollHalt(e, v)) break;
        e.recorder.record(since, end - since, v, VcpuState.Polling, -1, -1);
        e.stats.pollingCycles += end - since;
        break;
      }
      case MODE_DESCHEDULED: {
        const since = e.descheduledUntil[v] - e.preemptCycles;
        if (end < since) break;
        e.stats.descheduledCycles += end - since;
        e.recorder.record(since, end - since, v, VcpuState.Descheduled, -1, -1);
        break;
      }
    }
  }
}

/** The result of the run `e` (finished or stopped by a budget). */
export function engineResult(
  e: EngineState,
  host: Pick<Parameters<typeof buildResult>[3], "host" | "pollGrows" | "pollShrinks">,
): SimulationResult {
  const byEvents = e.stopReason === STOP_EVENTS;
  return buildResult(e.p, e.stats, e.recorder, {
    endCycles: e.endTime,
    events: e.events,
    seed: e.seed,
    ...host,
    stopped:
      e.stopReason === STOP_NONE
        ? undefined
        : {
            budget: byEvents ? "events" : "steps",
            limit: byEvents ? e.maxEvents : e.maxSteps,
            atSec: e.endTime / e.p.hz,
            requestedSec: e.requestedSec,
          },
  });
}
