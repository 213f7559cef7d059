/**
 * The simulator's public API: `simulate` (synchronous) and `simulateAsync` (cancellable, yields
 * to the event loop every few milliseconds so an editor or a Web Worker stays responsive).
 * Both compile the guest once (plan.ts) and run the discrete-event engine (engine.ts).
 */
import type { Program } from "../model/ir";
import { Engine } from "./engine";
import { type EngineOptions, resolveHost } from "./hostState";
import { compileGuest } from "./plan";
import { SimulationError, type SimulationOptions, type SimulationResult } from "./types";

export { checkSimulatedBudgets, type SimulatedBudgetResult } from "./budgets";
export { HISTOGRAM_RELATIVE_ERROR, LogHistogram } from "./histogram";
export type { ResolvedHost } from "./hostState";
export { Sfc32 } from "./rng";
export * from "./timeline";
export * from "./types";

function prepare(program: Program, guestName: string, options: SimulationOptions): Engine {
  let plan: ReturnType<typeof compileGuest>;
  try {
    plan = compileGuest(program, guestName, options.positionAt);
  } catch (error) {
    throw new SimulationError(error instanceof Error ? error.message : String(error), "input");
  }
  const engineOptions: EngineOptions = { ...options, resolvedHost: resolveHost(program, guestName, options) };
  return new Engine(plan, engineOptions);
}

export function simulate(program: Program, guestName: string, options: SimulationOptions): SimulationResult {
  const engine = prepare(program, guestName, options);
  engine.run(Number.POSITIVE_INFINITY);
  return engine.result();
}

/** Events processed between clock checks: small enough to notice a 5 ms slice quickly. */
const EVENTS_PER_CHECK = 20_000;
/** Run at most this long before yielding to the event loop. */
const SLICE_MS = 8;

type TimerHost = { setTimeout(callback: () => void, ms: number): unknown };

function yieldToEventLoop(): Promise<void> {
  // setTimeout exists in browsers, Web Workers and Node; the core's lib (ES2022) does not
  // declare it, hence the typed lookup.
  const host = globalThis as unknown as TimerHost;
  return new Promise((resolve) => host.setTimeout(resolve, 0));
}

export async function simulateAsync(
  program: Program,
  guestName: string,
  options: SimulationOptions & { signal?: { readonly aborted: boolean } },
): Promise<SimulationResult> {
  const { signal } = options;
  const engine = prepare(program, guestName, options);
  for (;;) {
    if (signal?.aborted) throw new SimulationError("the simulation was cancelled", "cancelled");
    const sliceStart = Date.now();
    let done = false;
    while (!done && Date.now() - sliceStart < SLICE_MS) done = engine.run(EVENTS_PER_CHECK);
    if (done) break;
    await yieldToEventLoop();
  }
  return engine.result();
}
