/**
 * The time a guest observes (docs/estimator.md "Guest-observed time"): what RDTSC differences
 * taken inside the guest around one execution of a path measure — what a sandbox-detecting
 * program times — beside what the host spends on the path's exits.
 *
 * The guest's TSC is the host's, scaled by TSC_MULTIPLIER (with "use TSC scaling") and offset
 * by TSC_OFFSET (with "use TSC offsetting"); the TSC counts on in VMX root operation and KVM
 * never subtracts exit time (vmx/tsc.ts), so one execution lasts, in guest TSC ticks,
 * (guest cycles + exit cycles) × multiplier; the offset cancels in a difference. Converted at the
 * guest's TSC frequency (the host's × multiplier, what KVM reports to it) that is the host's wall
 * time of the execution: the guest sees every exit. The figures come from the estimate's
 * per-path cycles (PathEstimate), so they agree with it by construction.
 */
import type { Program } from "../model/ir";
import type { Span } from "../source";
import { CONTROL, isControlSet } from "../vmx/controls";
import { TSC_REFERENCE, tscMultiplierRatio, tscOffsetSigned } from "../vmx/tsc";
import { effectiveControls } from "./effective";
import type { GuestEstimate } from "./types";

export interface PathGuestTime {
  name: string;
  kind: string;
  span: Span;
  /** One execution as RDTSC differences in the guest measure it, ns at the guest's TSC frequency. */
  guestObservedNs: number;
  /** The same in guest TSC ticks. */
  guestObservedTicks: number;
  /** Host time in VMX root operation per execution: its exits (transition, handler, userspace). */
  hostExitNs: number;
  /** The guest's own work per execution: what it would take without its exits. */
  guestWorkNs: number;
  /** RDTSC/RDTSCP operations in the path that exit (RDTSC exiting). */
  exitingTscReads: boolean;
}

export interface GuestTimeEstimate {
  guest: string;
  /** Host TSC frequency (the target's). */
  hostTscHz: number;
  /** The guest's TSC frequency: the host's × multiplier. */
  guestTscHz: number;
  /** TSC_MULTIPLIER as a ratio; 1 without "use TSC scaling". */
  multiplier: number;
  /** TSC_OFFSET (signed, decimal text: 64 bits) with "use TSC offsetting"; absent without it. */
  offset?: string;
  rdtscExiting: boolean;
  paths: PathGuestTime[];
  reference: string;
}

/** The guest-observed time of each path of `estimate`; undefined when the guest's vmcs is missing. */
export function guestTime(program: Program, estimate: GuestEstimate): GuestTimeEstimate | undefined {
  const guest = program.guests.get(estimate.guest);
  const vmcs = guest ? program.vmcs.get(guest.vmcs) : undefined;
  if (!guest || !vmcs) return undefined;
  const words = effectiveControls(vmcs, program.target);
  const offsetting = isControlSet(words, CONTROL.proc.use_tsc_offsetting);
  const scaling = offsetting && isControlSet(words, CONTROL.proc2.use_tsc_scaling);
  const rawMultiplier = vmcs.fields.get("TSC_MULTIPLIER")?.value;
  const multiplier =
    scaling && rawMultiplier !== undefined && rawMultiplier > 0n ? tscMultiplierRatio(rawMultiplier) : 1;
  const rdtscExiting = isControlSet(words, CONTROL.proc.rdtsc_exiting);
  const hz = estimate.target.hz;
  const paths: PathGuestTime[] = [];
  for (const p of estimate.paths) {
    // The idle loop is not timed by the guest: it waits in HLT for the next interrupt.
    if (p.kind === "idle") continue;
    const seconds = p.cyclesPerExecution / hz;
    paths.push({
      name: p.name,
      kind: p.kind,
      span: p.span,
      guestObservedNs: seconds * 1e9,
      guestObservedTicks: p.cyclesPerExecution * multiplier,
      hostExitNs: (p.exitCyclesPerExecution / hz) * 1e9,
      guestWorkNs: (p.guestCyclesPerExecution / hz) * 1e9,
      exitingTscReads: rdtscExiting && p.exits.some((e) => e.reason === "RDTSC" || e.reason === "RDTSCP"),
    });
  }
  const offset = vmcs.fields.get("TSC_OFFSET")?.value;
  return {
    guest: estimate.guest,
    hostTscHz: hz,
    guestTscHz: hz * multiplier,
    multiplier,
    ...(offsetting ? { offset: String(tscOffsetSigned(offset ?? 0n)) } : {}),
    rdtscExiting,
    paths,
    reference: TSC_REFERENCE,
  };
}
