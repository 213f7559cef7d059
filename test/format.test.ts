/**
 * The one formatting module (core/src/util/format.ts): every adapter prints rates, percentages,
 * times, cycles and clocks through it, so these are the strings users read in the CLI, hovers,
 * lenses, reports, the status item, the panel and the playground.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatCompact,
  formatCores,
  formatCycles,
  formatCyclesAt,
  formatHex,
  formatHz,
  formatInteger,
  formatNanoseconds,
  formatPercent,
  formatRate,
  formatSeconds,
  formatSignificant,
} from "../core/src/util/format";

describe("number formatting", () => {
  it("prints rates with an SI prefix and up to four significant digits", () => {
    assert.equal(formatRate(412_500), "412.5k/s");
    assert.equal(formatRate(137_639.15), "137.6k/s");
    assert.equal(formatRate(2.5e6), "2.5M/s");
    assert.equal(formatRate(2.13e9), "2.13G/s");
    assert.equal(formatRate(850), "850/s");
    assert.equal(formatRate(12.345), "12.35/s");
    assert.equal(formatRate(0.05), "0.05/s");
    assert.equal(formatRate(0), "0/s");
    assert.equal(formatRate(-1500), "-1.5k/s");
  });

  it("moves to the next prefix when rounding reaches 1000", () => {
    assert.equal(formatRate(999_960), "1M/s");
    assert.equal(formatRate(999.96), "1k/s");
    assert.equal(formatCompact(999.94), "999.9");
    assert.equal(formatSeconds(0.000_999_6), "1 ms");
  });

  it("prints percentages to three significant digits", () => {
    assert.equal(formatPercent(0.234), "23.4%");
    assert.equal(formatPercent(0.7743), "77.4%");
    assert.equal(formatPercent(0.0035), "0.35%");
    assert.equal(formatPercent(0.000_012), "0.0012%");
    assert.equal(formatPercent(3.54), "354%");
    assert.equal(formatPercent(0.999_99), "100%");
    assert.equal(formatPercent(0), "0%");
  });

  it("prints durations in the largest unit in which they are at least 1", () => {
    assert.equal(formatSeconds(2.5), "2.5 s");
    assert.equal(formatSeconds(0.00125), "1.25 ms");
    assert.equal(formatSeconds(1.0163e-5), "10.2 µs");
    assert.equal(formatSeconds(8.3e-7), "830 ns");
    assert.equal(formatSeconds(0), "0 ns");
    assert.equal(formatNanoseconds(2.5e9), "2.5 s");
    assert.equal(formatNanoseconds(1_250_000), "1.25 ms");
    assert.equal(formatNanoseconds(4_200), "4.2 µs");
    assert.equal(formatNanoseconds(830), "830 ns");
    assert.equal(formatNanoseconds(0.5), "0.5 ns");
  });

  it("prints cycles and counts as whole numbers with thousands separators", () => {
    assert.equal(formatInteger(21_345.6), "21,346");
    assert.equal(formatCycles(2881), "2,881 cycles");
    assert.equal(formatCyclesAt(2400, 2.1e9), "2,400 cycles (1.14 µs)");
  });

  it("prints clocks, cores, plain numbers and hex", () => {
    assert.equal(formatHz(2.1e9), "2.1 GHz");
    assert.equal(formatHz(2.933e9), "2.933 GHz");
    assert.equal(formatHz(250), "250 Hz");
    assert.equal(formatCores(0.5489), "0.549 cores");
    assert.equal(formatCores(2), "2.000 cores");
    assert.equal(formatSignificant(0.951), "0.951");
    assert.equal(formatSignificant(10.163), "10.2");
    assert.equal(formatHex(0x3f8), "0x3f8");
    assert.equal(formatHex(1, 4), "0x0001");
    assert.equal(formatHex(0xffn, 8), "0x000000ff");
  });

  it("prints a value that is not finite as a dash, not NaN", () => {
    for (const format of [formatRate, formatPercent, formatSeconds, formatCycles, formatHz, formatCores]) {
      assert.equal(format(Number.NaN), "—");
      assert.equal(format(Number.POSITIVE_INFINITY), "—");
    }
  });
});
