/**
 * Units of quantities. A unit is written attached to its number (`3us`, not `3 us`; see
 * docs/language.md). Each unit belongs to one dimension; lowering converts to the IR's base units
 * (cycles, seconds, Hz, per-second rates, fractions).
 */

export type Dimension = "time" | "frequency" | "rate" | "percent";

export interface UnitDef {
  dimension: Dimension;
  /** Multiplier to the base unit of the dimension: seconds, Hz, 1/s, fraction. */
  scale: number;
}

export const UNITS: ReadonlyMap<string, UnitDef> = new Map<string, UnitDef>([
  ["ns", { dimension: "time", scale: 1e-9 }],
  ["us", { dimension: "time", scale: 1e-6 }],
  ["ms", { dimension: "time", scale: 1e-3 }],
  ["s", { dimension: "time", scale: 1 }],
  ["Hz", { dimension: "frequency", scale: 1 }],
  ["kHz", { dimension: "frequency", scale: 1e3 }],
  ["MHz", { dimension: "frequency", scale: 1e6 }],
  ["GHz", { dimension: "frequency", scale: 1e9 }],
  ["/s", { dimension: "rate", scale: 1 }],
  ["k/s", { dimension: "rate", scale: 1e3 }],
  ["M/s", { dimension: "rate", scale: 1e6 }],
  ["%", { dimension: "percent", scale: 0.01 }],
]);

export const UNIT_LIST_TEXT = "ns us ms s, Hz kHz MHz GHz, /s k/s M/s, %";

export function isKnownUnit(unit: string): boolean {
  return UNITS.has(unit);
}

export function unitDimension(unit: string): Dimension | undefined {
  return UNITS.get(unit)?.dimension;
}

/** Value in the dimension's base unit, or undefined for an unknown unit. */
export function toBaseUnit(value: number, unit: string): number | undefined {
  const def = UNITS.get(unit);
  return def === undefined ? undefined : value * def.scale;
}

export const DIMENSION_EXAMPLES: Record<Dimension, string> = {
  time: "a time such as `3us` or `100ms`",
  frequency: "a frequency such as `2.1GHz` or `250Hz`",
  rate: "a rate such as `100k/s` or `2.5M/s`",
  percent: "a percentage such as `95%`",
};
