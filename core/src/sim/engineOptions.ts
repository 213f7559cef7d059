/**
 * What the engine refuses before it runs: options no run could honour, and a run whose expected
 * event count is beyond the budget (a clear SimulationError, never a run that cannot end).
 */

import { MAX_TIMELINE_INTERVALS } from "./engineConstants";
import { formatCount } from "./result";
import type { EngineState } from "./state";
import { SimulationError, type SimulationOptions } from "./types";

/** Refuses, before running, a run whose expected event count is beyond the budget. */
export function checkBudget(state: EngineState, options: SimulationOptions): void {
  let perSecond = 0;
  for (let s = 0; s < state.nS; s++) {
    const arrival = state.p.sources[s].arrival;
    const bad =
      arrival.kind === "poisson"
        ? !(arrival.ratePerSec >= 0 && Number.isFinite(arrival.ratePerSec))
        : arrival.kind === "periodic" && !(arrival.periodSec >= 0 && Number.isFinite(arrival.periodSec));
    if (bad) {
      throw new SimulationError(
        `source '${state.p.sources[s].name}' has ${arrival.kind === "poisson" ? `rate ${arrival.ratePerSec}/s` : `period ${arrival.kind === "periodic" ? arrival.periodSec : ""} s`}: not a finite, non-negative number`,
        "input",
      );
    }
    const mean = state.sourceMean[s];
    if (mean > 0) perSecond += state.p.hz / mean;
    else if (
      state.p.sources[s].arrival.kind === "poisson" ||
      state.p.sources[s].arrival.kind === "periodic"
    ) {
      if (state.p.sources[s].arrival.kind === "periodic") perSecond = Number.POSITIVE_INFINITY;
    }
  }
  if (state.p.preemptionTimerCycles > 0) perSecond += state.p.hz / state.p.preemptionTimerCycles;
  perSecond += state.preemptRate;
  // Each arrival costs at least one event, and usually an exit and an entry more.
  const expected = perSecond * state.nV * options.durationSec;
  if (expected > state.maxEvents) {
    throw new SimulationError(
      `the simulation would need about ${formatCount(expected)} arrivals (${formatCount(perSecond)}/s per vCPU × ${state.nV} vCPUs × ${options.durationSec} s), over the event budget of ${formatCount(state.maxEvents)}; shorten the duration or lower the rates`,
      "budget",
    );
  }
}

/** Refuses options no run could honour (through the API: the CLI and the language bound them). */
export function validateOptions(options: SimulationOptions): void {
  const bad = (what: string, value: unknown): never => {
    throw new SimulationError(
      `${what} must be a finite, non-negative number (got ${String(value)})`,
      "input",
    );
  };
  if (!(options.durationSec > 0) || !Number.isFinite(options.durationSec)) {
    throw new SimulationError(`the duration must be a positive number of seconds`, "input");
  }
  const finite = (x: number | undefined): boolean => x === undefined || (x >= 0 && Number.isFinite(x));
  if (!finite(options.maxEvents)) bad("maxEvents", options.maxEvents);
  if (!finite(options.maxSteps)) bad("maxSteps", options.maxSteps);
  if (!finite(options.haltPollNs)) bad("haltPollNs", options.haltPollNs);
  for (const name of [
    "haltPollGrow",
    "haltPollGrowStartNs",
    "haltPollShrink",
    "pleWindowGrow",
    "pleWindowShrink",
    "pcpus",
  ] as const)
    if (!finite(options[name])) bad(name, options[name]);
  if (options.pleWindowMax !== undefined && !finite(options.pleWindowMax))
    bad("pleWindowMax", options.pleWindowMax);
  const preemption = options.hostPreemption;
  if (preemption && !finite(preemption.ratePerSec)) bad("hostPreemption.ratePerSec", preemption.ratePerSec);
  if (preemption && !finite(preemption.durationSec))
    bad("hostPreemption.durationSec", preemption.durationSec);
  const intervals = options.timelineIntervals;
  if (intervals !== undefined && !(finite(intervals) && intervals <= MAX_TIMELINE_INTERVALS)) {
    throw new SimulationError(
      `timelineIntervals must be between 0 and ${MAX_TIMELINE_INTERVALS} (got ${String(intervals)})`,
      "input",
    );
  }
}
