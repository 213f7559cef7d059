/**
 * Parameter sweeps (`trapline estimate FILE --sweep NAME=FROM..TO[:STEPS][:log]`, docs/estimator.md
 * "Sweeps"): one estimate per value of one parameter of the file, and per target CPU.
 *
 * A sweep never edits the text: each point is the lowered program with one value overridden
 * (`overrideProgram`), copied with spreads so the copy starts analysis memos of its own
 * (analysis/memo.ts) and the file's program is left as it was. The names a sweep takes:
 *
 * - `path.NAME.rate`, `irq.NAME.rate`, `timer.rate`, `ipi.rate`, `nmi.rate`: a source's arrival
 *   rate per vCPU, per second (a periodic source's period becomes 1/rate, a tickless timer's
 *   busy tick rate becomes rate);
 * - `cost.NAME`: a cost parameter of the target, in cycles (as `target { cost NAME = N }`);
 * - `control.NAME` (or `control.WORD.NAME` when the name is in several words): a VM-execution,
 *   exit or entry control of the guest's vmcs, `off` or `on`;
 * - `vcpus`: the guest's vCPU count;
 * - `target`: the CPU model (a list of profile names), as `--target`.
 *
 * Values: `FROM..TO` with `:STEPS` points (default 5; `:log` spaces them geometrically), or a
 * list `A,B,C`. A control takes `off,on`; a target takes profile names.
 */
import { closestMatch } from "../lang/suggest";
import type { ControlSetting, GuestIR, GuestSource, Program, TargetIR, VmcsIR } from "../model/ir";
import type { Diagnostic } from "../source";
import { formatCompact, formatInteger, formatRate } from "../util/format";
import { CONTROLS } from "../vmx/controls";
import { PROFILES, profileByName } from "../vmx/profiles";
import type { ControlDef, CostName, CpuProfile } from "../vmx/types";
import { checkProgram } from "./checks";
import { estimateGuest } from "./estimate";
import { lintProgram } from "./lints";
import type { GuestEstimate } from "./types";

/** A sweep that cannot run as written: a usage error (exit status 2 in the CLI). */
export class SweepError extends Error {}

export type SweepKind = "rate" | "cost" | "control" | "vcpus" | "target";

/** One value of a swept parameter: a number (rate, cycles, vCPUs), on/off, or a CPU profile. */
export type SweepValue = number | boolean | string;

export interface SweepParameter {
  /** As the user writes it: `path.send.rate`. */
  name: string;
  kind: SweepKind;
}

export interface SweepSpec {
  parameter: SweepParameter;
  points: SweepValue[];
  /** The points were spaced geometrically (`:log`): a plot uses a log axis. */
  log: boolean;
}

/** The budget verdict of one point: no budget, all met, one violated, or the VMCS is invalid there. */
export type SweepStatus = "none" | "ok" | "violated" | "error";

export interface SweepRow {
  /** The CPU profile this row is estimated on. */
  target: string;
  point: SweepValue;
  /** The point as printed: `50k/s`, `1,200`, `on`, `icelake_server`. */
  label: string;
  status: SweepStatus;
  /** The estimate; absent when the program has errors at this point (`status` "error"). */
  estimate?: GuestEstimate;
  /** Mean cycles of one exit (all reasons), 0 without exits. */
  cyclesPerExit: number;
  /** The errors (status "error") or violated budgets (status "violated", TL401) at this point. */
  diagnostics: Diagnostic[];
  /** The program estimated (the file's with the point's override): for a simulation of the point. */
  program: Program;
}

const DEFAULT_STEPS = 5;
const MAX_POINTS = 1000;

const COST_NAMES = (): CostName[] => Object.keys(PROFILES[0]!.costs) as CostName[];

/** Every name a sweep of `guest` in `program` accepts, for help and "did you mean". */
export function sweepParameterNames(program: Program, guestName: string): string[] {
  const names: string[] = [];
  const guest = program.guests.get(guestName);
  for (const source of guest?.sources ?? []) names.push(rateName(source));
  names.push("vcpus", "target");
  for (const cost of COST_NAMES()) names.push(`cost.${cost}`);
  for (const control of CONTROLS) names.push(`control.${control.name}`);
  return names;
}

function rateName(source: GuestSource): string {
  return source.kind === "path" || source.kind === "irq"
    ? `${source.kind}.${source.name}.rate`
    : `${source.kind}.rate`;
}

/** The parameter a name means for this guest; a SweepError with a suggestion when none. */
export function resolveSweepParameter(program: Program, guestName: string, name: string): SweepParameter {
  if (name === "vcpus" || name === "target") return { name, kind: name };
  if (name.startsWith("cost.")) {
    if ((COST_NAMES() as string[]).includes(name.slice(5))) return { name, kind: "cost" };
  } else if (name.startsWith("control.")) {
    controlOf(name);
    return { name, kind: "control" };
  } else if (name.endsWith(".rate")) {
    const guest = program.guests.get(guestName);
    if (guest?.sources.some((s) => rateName(s) === name)) return { name, kind: "rate" };
  }
  const names = sweepParameterNames(program, guestName);
  const best = closestMatch(name, names);
  const rates = names.filter((n) => n.endsWith(".rate"));
  throw new SweepError(
    `unknown sweep parameter '${name}'${best ? ` (did you mean '${best}'?)` : ""}; parameters: ${[...rates, "vcpus", "target", "cost.NAME", "control.NAME"].join(", ")}`,
  );
}

/** The control of `control.NAME` / `control.WORD.NAME`. */
function controlOf(name: string): ControlDef {
  const parts = name.split(".");
  const controlName = parts[parts.length - 1]!;
  const word = parts.length === 3 ? parts[1] : undefined;
  const found = CONTROLS.filter((c) => c.name === controlName && (word === undefined || c.word === word));
  if (found.length === 1 && parts.length <= 3) return found[0]!;
  if (found.length > 1)
    throw new SweepError(
      `control '${controlName}' is in several words: write ${found.map((c) => `control.${c.word}.${c.name}`).join(" or ")}`,
    );
  const best = closestMatch(
    controlName,
    CONTROLS.map((c) => c.name),
  );
  throw new SweepError(`unknown control '${controlName}'${best ? ` (did you mean 'control.${best}'?)` : ""}`);
}

/**
 * `NAME=FROM..TO[:STEPS][:log]` or `NAME=A,B,C`, resolved against the program's guest. Every
 * failure is a SweepError naming what to write instead.
 */
export function parseSweepSpec(program: Program, guestName: string, text: string): SweepSpec {
  const eq = text.indexOf("=");
  if (eq <= 0)
    throw new SweepError(
      `'${text}' is not NAME=FROM..TO[:STEPS][:log] or NAME=A,B,… (e.g. path.send.rate=10k/s..100k/s:10)`,
    );
  const parameter = resolveSweepParameter(program, guestName, text.slice(0, eq).trim());
  const valuesText = text.slice(eq + 1).trim();
  const range = /^(.+?)\.\.(.+?)(?::([0-9]+))?(?::(log|lin))?$/.exec(valuesText);
  if (range) {
    if (parameter.kind === "control" || parameter.kind === "target")
      throw new SweepError(
        `${parameter.name} takes a list, not a range: ${parameter.kind === "control" ? `${parameter.name}=off,on` : "target=skylake_server,icelake_server"}`,
      );
    const from = parseNumber(parameter, range[1]!);
    const to = parseNumber(parameter, range[2]!);
    const steps = range[3] === undefined ? DEFAULT_STEPS : Number(range[3]);
    if (!(steps >= 2) || steps > MAX_POINTS)
      throw new SweepError(`${parameter.name}: STEPS must be between 2 and ${MAX_POINTS}, not ${range[3]}`);
    const log = range[4] === "log";
    if (log && !(from > 0 && to > 0))
      throw new SweepError(`${parameter.name}: a :log sweep needs FROM and TO above 0`);
    let points: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = i / (steps - 1);
      points.push(log ? from * (to / from) ** t : from + (to - from) * t);
    }
    if (parameter.kind === "vcpus") points = [...new Set(points.map(Math.round))];
    return { parameter, points, log };
  }
  const items = valuesText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0) throw new SweepError(`${parameter.name}: no values after '='`);
  if (items.length > MAX_POINTS) throw new SweepError(`${parameter.name}: more than ${MAX_POINTS} values`);
  const points = items.map((item) => parseValue(parameter, item));
  return { parameter, points, log: false };
}

function parseValue(parameter: SweepParameter, item: string): SweepValue {
  if (parameter.kind === "control") {
    if (/^(on|1|true)$/i.test(item)) return true;
    if (/^(off|0|false)$/i.test(item)) return false;
    throw new SweepError(`${parameter.name}: '${item}' is not on or off`);
  }
  if (parameter.kind === "target") return parseTargets(item)[0]!.name;
  return parseNumber(parameter, item);
}

/**
 * A number for a rate (`50k/s`, `1M/s`, `2500/s`, `2500`, `50k`), a cost in cycles (`1200`,
 * `1.2k`) or a vCPU count.
 */
function parseNumber(parameter: SweepParameter, text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)(k|M|G)?(\/s|cycles)?$/.exec(text.trim());
  let value: number | undefined;
  const unit = m?.[3];
  if (m && (unit === undefined || (unit === "/s") === (parameter.kind === "rate") || unit === "cycles")) {
    const okUnit =
      unit === undefined || (unit === "/s" ? parameter.kind === "rate" : parameter.kind === "cost");
    const multiplier = m[2] === "k" ? 1e3 : m[2] === "M" ? 1e6 : m[2] === "G" ? 1e9 : 1;
    if (okUnit) value = Number(m[1]) * multiplier;
  }
  const example =
    parameter.kind === "rate"
      ? "a rate such as 50k/s"
      : parameter.kind === "cost"
        ? "cycles such as 1200"
        : "a count such as 4";
  if (value === undefined || !Number.isFinite(value))
    throw new SweepError(`${parameter.name}: '${text}' is not ${example}`);
  if (parameter.kind === "vcpus" && !(Number.isInteger(value) && value >= 1))
    throw new SweepError(`${parameter.name}: '${text}' is not a vCPU count (an integer ≥ 1)`);
  return value;
}

/** `a,b,c` CPU profile names; a SweepError with a suggestion for an unknown one. */
export function parseTargets(text: string): CpuProfile[] {
  const names = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (names.length === 0) throw new SweepError("no CPU named (e.g. skylake_server,icelake_server)");
  return names.map((name) => {
    const profile = profileByName(name);
    if (profile) return profile;
    const best = closestMatch(
      name,
      PROFILES.map((p) => p.name),
    );
    throw new SweepError(
      `unknown CPU '${name}'${best ? ` (did you mean '${best}'?)` : ""}; CPUs: ${PROFILES.map((p) => p.name).join(", ")}`,
    );
  });
}

/**
 * The program on another CPU: the file's own target when it is that profile (its clock, `msr`
 * and `cost` overrides kept), else the profile's capabilities and costs at its default clock, as
 * Compare Configurations does (index.ts otherCpuTarget); the host settings and mitigations of
 * the file's `target` block are the host's and are kept.
 */
export function programOnTarget(program: Program, profile: CpuProfile): Program {
  if (program.target.profile.name === profile.name) return program;
  const target: TargetIR = {
    profile,
    hz: profile.defaultHz,
    msrs: { ...profile.msrs },
    costs: { ...profile.costs },
    mitigations: program.target.mitigations ?? [],
    ...(program.target.host ? { host: program.target.host } : {}),
  };
  return { ...program, target };
}

/** The program with one parameter of `guestName` set to `value` (the file's program unchanged). */
export function overrideProgram(
  program: Program,
  guestName: string,
  parameter: SweepParameter,
  value: SweepValue,
): Program {
  const guest = program.guests.get(guestName);
  if (!guest) throw new SweepError(`no guest ${guestName}`);
  switch (parameter.kind) {
    case "target":
      return programOnTarget(program, parseTargets(String(value))[0]!);
    case "cost": {
      const name = parameter.name.slice(5) as CostName;
      const costs = {
        ...program.target.costs,
        [name]: { cycles: Number(value), provenance: "user" as const, source: `--sweep ${parameter.name}` },
      };
      return { ...program, target: { ...program.target, costs } };
    }
    case "vcpus":
      return withGuest(program, { ...guest, vcpus: Number(value) });
    case "rate": {
      const rate = Number(value);
      const sources = guest.sources.map((s): GuestSource => {
        if (rateName(s) !== parameter.name) return s;
        const a = s.arrival;
        const arrival =
          a.kind === "poisson"
            ? { kind: "poisson" as const, ratePerSec: rate }
            : a.kind === "periodic"
              ? { kind: "periodic" as const, periodSec: rate > 0 ? 1 / rate : Number.POSITIVE_INFINITY }
              : { kind: "tickless" as const, hz: rate };
        return { ...s, arrival };
      });
      return withGuest(program, { ...guest, sources });
    }
    case "control": {
      const vmcs = program.vmcs.get(guest.vmcs);
      if (!vmcs) throw new SweepError(`guest ${guestName} has no vmcs ${guest.vmcs}`);
      const vmcsMap = new Map(program.vmcs);
      vmcsMap.set(vmcs.name, withControl(vmcs, controlOf(parameter.name), value === true));
      return { ...program, vmcs: vmcsMap };
    }
  }
}

function withGuest(program: Program, guest: GuestIR): Program {
  const guests = new Map(program.guests);
  guests.set(guest.name, guest);
  return { ...program, guests };
}

/** The vmcs with one control set or cleared as if the block said so (a set one at the block's name). */
function withControl(vmcs: VmcsIR, control: ControlDef, on: boolean): VmcsIR {
  const bit = 1n << BigInt(control.bit);
  const word = vmcs.written[control.word];
  const written = { ...vmcs.written, [control.word]: on ? word | bit : word & ~bit };
  const others = vmcs.settings.filter((s) => s.control !== control);
  const settings: ControlSetting[] = on ? [...others, { control, span: vmcs.nameSpan }] : others;
  return { ...vmcs, written, settings };
}

/** The program at every (target, point): what `sweepEstimates` estimates and a simulation sweep runs. */
export function sweepPrograms(
  program: Program,
  guestName: string,
  spec: SweepSpec | undefined,
  targets: readonly CpuProfile[] = [],
): { target: string; point: SweepValue; label: string; program: Program }[] {
  const bases =
    targets.length === 0 ? [program] : targets.map((profile) => programOnTarget(program, profile));
  const out: { target: string; point: SweepValue; label: string; program: Program }[] = [];
  for (const base of bases) {
    const points = spec?.points ?? [base.target.profile.name];
    for (const point of points) {
      const swept = spec ? overrideProgram(base, guestName, spec.parameter, point) : base;
      out.push({
        target: swept.target.profile.name,
        point,
        label: spec ? pointLabel(spec.parameter, point) : String(point),
        program: swept,
      });
    }
  }
  return out;
}

/** The point as printed in a table and on a plot's axis. */
export function pointLabel(parameter: SweepParameter, value: SweepValue): string {
  if (typeof value === "boolean") return value ? "on" : "off";
  if (typeof value === "string") return value;
  if (parameter.kind === "rate") return formatRate(value);
  return parameter.kind === "cost" ? formatInteger(value) : formatCompact(value);
}

/**
 * One estimate per (target, point), with the budget verdict of the guest's `expect` there. A
 * point whose VMCS the VM-entry checks reject (a control switched off that another requires) is
 * a row with status "error" and the messages, not a failure of the sweep.
 */
export function sweepEstimates(
  program: Program,
  text: string,
  guestName: string,
  spec: SweepSpec | undefined,
  targets: readonly CpuProfile[] = [],
): SweepRow[] {
  return sweepPrograms(program, guestName, spec, targets).map(({ target, point, label, program: p }) =>
    estimateRow(p, text, guestName, target, point, label),
  );
}

function estimateRow(
  program: Program,
  text: string,
  guestName: string,
  target: string,
  point: SweepValue,
  label: string,
): SweepRow {
  const checks = checkProgram(program, { text }).filter((d) => d.severity === "error");
  const estimate = checks.length > 0 ? undefined : estimateGuest(program, guestName);
  const lints: Diagnostic[] = estimate
    ? lintProgram(program, new Map([[guestName, estimate]]), { text })
    : [];
  const errors = [...checks, ...lints.filter((d) => d.severity === "error" && d.code !== "TL401")];
  if (!estimate || errors.length > 0)
    return { target, point, label, status: "error", cyclesPerExit: 0, diagnostics: errors, program };
  const budgetStarts = new Set(
    program.expects.filter((e) => e.guest === guestName).flatMap((e) => e.budgets.map((b) => b.span.start)),
  );
  const violated = lints.filter((d) => d.code === "TL401" && budgetStarts.has(d.span.start));
  const status: SweepStatus = violated.length > 0 ? "violated" : budgetStarts.size > 0 ? "ok" : "none";
  return {
    target,
    point,
    label,
    status,
    estimate,
    cyclesPerExit: meanCyclesPerExit(estimate),
    diagnostics: violated,
    program,
  };
}

/** Mean cycles of one exit over every reason, weighted by rate. */
export function meanCyclesPerExit(estimate: {
  byReason: readonly { exitsPerSecond: number; cyclesPerExit: number }[];
  exitsPerSecond: number;
}): number {
  if (!(estimate.exitsPerSecond > 0)) return 0;
  let cycles = 0;
  for (const r of estimate.byReason) cycles += r.exitsPerSecond * r.cyclesPerExit;
  return cycles / estimate.exitsPerSecond;
}

/** A row's figures as the CLI's table and JSON and the panel's plot show them. */
export interface SweepFigures {
  exitsPerSecond: number;
  cyclesPerExit: number;
  /** Mean time of one exit at the row's clock. */
  microsecondsPerExit: number;
  hostCpu: number;
  overhead: number;
  demand?: number;
  /** Simulated rows: the p99 interrupt latency, seconds (absent without interrupts). */
  irqLatencyP99?: number;
}

/** The figures of an estimated row; undefined for a row with errors. */
export function sweepRowFigures(row: Pick<SweepRow, "estimate" | "cyclesPerExit">): SweepFigures | undefined {
  const e = row.estimate;
  if (!e) return undefined;
  return {
    exitsPerSecond: e.exitsPerSecond,
    cyclesPerExit: row.cyclesPerExit,
    microsecondsPerExit: (row.cyclesPerExit / e.target.hz) * 1e6,
    hostCpu: e.hostCpu,
    overhead: e.overhead,
    demand: e.demand,
  };
}
