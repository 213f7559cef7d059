/**
 * How Trapline prints a number for a person: rates, percentages, times, cycles, clocks and
 * cores, the same in the CLI's tables, the hovers, lenses and reports, the status item, the
 * timeline panel, the playground and the diagnostics' messages. Built on Intl.NumberFormat with
 * the "en-US" locale, so the output does not depend on the machine's locale (a report pasted
 * into an issue reads the same everywhere). Machine-readable output (`--json`, the LSP's data)
 * never goes through here: it carries the raw numbers.
 *
 * The rule for every magnitude: three significant digits, trailing zeros dropped, in the
 * largest unit (or SI prefix) in which the value is at least 1 after rounding. Counts of events
 * (exits, cycles) are whole numbers with thousands separators. A value that is not finite
 * prints as "—".
 */

const LOCALE = "en-US";

/** Up to three significant digits: 412.5k needs the fourth, so rates get four. */
const SIGNIFICANT_3 = new Intl.NumberFormat(LOCALE, { maximumSignificantDigits: 3, useGrouping: false });
const SIGNIFICANT_4 = new Intl.NumberFormat(LOCALE, { maximumSignificantDigits: 4, useGrouping: false });
const INTEGER = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const CORES = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 3, maximumFractionDigits: 3 });

const NOT_FINITE = "—";

interface Scale {
  /** What the value is divided by. */
  factor: number;
  suffix: string;
}

/** SI prefixes for counts and rates ("412.5k", "2.5M"), largest first. */
const SI: readonly Scale[] = [
  { factor: 1e9, suffix: "G" },
  { factor: 1e6, suffix: "M" },
  { factor: 1e3, suffix: "k" },
  { factor: 1, suffix: "" },
];

/** Time units for a duration in seconds, largest first. */
const TIME: readonly Scale[] = [
  { factor: 1, suffix: " s" },
  { factor: 1e-3, suffix: " ms" },
  { factor: 1e-6, suffix: " µs" },
  { factor: 1e-9, suffix: " ns" },
];

const FREQUENCY: readonly Scale[] = [
  { factor: 1e9, suffix: " GHz" },
  { factor: 1e6, suffix: " MHz" },
  { factor: 1e3, suffix: " kHz" },
  { factor: 1, suffix: " Hz" },
];

/**
 * `value` in the largest scale in which it is at least 1, judged after rounding as `format`
 * rounds (999,960 is "1M", not "1000k"); the smallest scale for anything below. Neighbouring
 * scales are 1000 apart, so one step up is all a rounding can need.
 */
function scaled(value: number, scales: readonly Scale[], format: Intl.NumberFormat): string {
  const magnitude = Math.abs(value);
  let index = scales.findIndex((scale) => magnitude >= scale.factor);
  if (index < 0) index = scales.length - 1;
  let shown = format.format(magnitude / scales[index]!.factor);
  if (index > 0 && Number(shown) >= 1000) {
    index--;
    shown = format.format(magnitude / scales[index]!.factor);
  }
  return `${value < 0 ? "-" : ""}${shown}${scales[index]!.suffix}`;
}

/** A count with an SI prefix: 412500 → "412.5k", 2.5e6 → "2.5M", 0.25 → "0.25". */
export function formatCompact(value: number): string {
  if (!Number.isFinite(value)) return NOT_FINITE;
  if (value === 0) return "0";
  return scaled(value, SI, SIGNIFICANT_4);
}

/** Events per second: 412500 → "412.5k/s", 2.5e6 → "2.5M/s", 850 → "850/s", 0.05 → "0.05/s". */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return NOT_FINITE;
  return `${formatCompact(perSecond)}/s`;
}

/**
 * A source's rate with its unit, per vCPU and for the guest: "100k/s per vCPU (400k/s for the
 * guest's 4 vCPUs)"; one vCPU: "50k/s per vCPU (the guest's only vCPU)".
 */
export function formatRateScope(perVcpu: number, vcpus: number): string {
  const n = Math.max(0, Math.floor(vcpus));
  if (n === 1) return `${formatRate(perVcpu)} per vCPU (the guest's only vCPU)`;
  return `${formatRate(perVcpu)} per vCPU (${formatRate(perVcpu * n)} for the guest's ${n} vCPUs)`;
}

/** A fraction as a percentage: 0.234 → "23.4%", 0.0035 → "0.35%", 3.54 → "354%", 0 → "0%". */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return NOT_FINITE;
  return `${SIGNIFICANT_3.format(fraction * 100)}%`;
}

/** A whole count with thousands separators: 21345.6 → "21,346". */
export function formatInteger(value: number): string {
  if (!Number.isFinite(value)) return NOT_FINITE;
  return INTEGER.format(Math.round(value));
}

/** CPU cycles: 21345.6 → "21,346 cycles". */
export function formatCycles(cycles: number): string {
  if (!Number.isFinite(cycles)) return NOT_FINITE;
  return `${formatInteger(cycles)} cycles`;
}

/** A duration: 0.00125 → "1.25 ms", 4.2e-6 → "4.2 µs", 8.3e-7 → "830 ns", 0 → "0 ns". */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return NOT_FINITE;
  if (seconds === 0) return "0 ns";
  return scaled(seconds, TIME, SIGNIFICANT_3);
}

/** A duration given in nanoseconds (the timeline's unit): 1_250_000 → "1.25 ms". */
export function formatNanoseconds(ns: number): string {
  return formatSeconds(ns / 1e9);
}

/** Cycles and the time they take at the target clock: "2,400 cycles (1.14 µs)". */
export function formatCyclesAt(cycles: number, hz: number): string {
  return `${formatCycles(cycles)} (${formatSeconds(cycles / hz)})`;
}

/** A clock frequency: 2.1e9 → "2.1 GHz", 250 → "250 Hz". Up to four digits: "2.933 GHz". */
export function formatHz(hz: number): string {
  if (!Number.isFinite(hz)) return NOT_FINITE;
  if (hz === 0) return "0 Hz";
  return scaled(hz, FREQUENCY, SIGNIFICANT_4);
}

/** Host cores busy with exit handling, to a thousandth of a core: "0.549 cores". */
export function formatCores(cores: number): string {
  if (!Number.isFinite(cores)) return NOT_FINITE;
  return `${CORES.format(cores)} cores`;
}

/** A plain number to three significant digits: 10.163 → "10.2", 0.251 → "0.251". */
export function formatSignificant(value: number): string {
  if (!Number.isFinite(value)) return NOT_FINITE;
  return SIGNIFICANT_3.format(value);
}

/** Hexadecimal as the SDM writes it: hex(0x3f8) → "0x3f8", hex(1, 4) → "0x0001". */
export function formatHex(value: number | bigint, digits = 0): string {
  return `0x${value.toString(16).padStart(digits, "0")}`;
}

/** Cycles at hz as microseconds, to three significant digits: (21_345, 2.1e9) → "10.2". */
export function formatMicros(cycles: number, hz: number): string {
  return formatSignificant((cycles / hz) * 1e6);
}
