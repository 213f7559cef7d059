/**
 * Units of quantities. A unit is written attached to its number (`3us`, not `3 us`; see
 * docs/language.md). Each unit belongs to one dimension; lowering converts to the IR's base units
 * (cycles, seconds, Hz, per-second rates, fractions).
 */

export type Dimension = "time" | "frequency" | "rate" | "percent";

export interface UnitDef {
  dimension: Dimension;
  /**
   * To the base unit of the dimension (seconds, Hz, 1/s, fraction): multiply by `multiplier`,
   * divide by `divisor`. Dividing by 1e6 rather than multiplying by 1e-6 keeps `50us` exactly
   * 5e-5 s.
   */
  multiplier: number;
  divisor: number;
}

const unit = (dimension: Dimension, multiplier: number, divisor: number): UnitDef => ({
  dimension,
  multiplier,
  divisor,
});

export const UNITS: ReadonlyMap<string, UnitDef> = new Map<string, UnitDef>([
  ["ns", unit("time", 1, 1e9)],
  ["us", unit("time", 1, 1e6)],
  ["ms", unit("time", 1, 1e3)],
  ["s", unit("time", 1, 1)],
  ["Hz", unit("frequency", 1, 1)],
  ["kHz", unit("frequency", 1e3, 1)],
  ["MHz", unit("frequency", 1e6, 1)],
  ["GHz", unit("frequency", 1e9, 1)],
  ["/s", unit("rate", 1, 1)],
  ["k/s", unit("rate", 1e3, 1)],
  ["M/s", unit("rate", 1e6, 1)],
  ["%", unit("percent", 1, 100)],
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
  return def === undefined ? undefined : (value * def.multiplier) / def.divisor;
}

export const DIMENSION_EXAMPLES: Record<Dimension, string> = {
  time: "a time such as `3us` or `100ms`",
  frequency: "a frequency such as `2.1GHz` or `250Hz`",
  rate: "a rate such as `100k/s` or `2.5M/s`",
  percent: "a percentage such as `95%`",
};
