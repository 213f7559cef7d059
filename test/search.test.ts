/**
 * The one binary search (core/src/util/search.ts), against a linear scan on every key of small
 * sorted arrays with duplicates, for plain arrays, typed arrays and bigints, with sub-ranges.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lowerBound, partitionPoint, upperBound } from "../core/src/util/search";

function linearLower(values: ArrayLike<number>, key: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (values[i]! >= key) return i;
  return to;
}

function linearUpper(values: ArrayLike<number>, key: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (values[i]! > key) return i;
  return to;
}

describe("binary search", () => {
  const arrays: number[][] = [[], [5], [1, 1, 1], [0, 2, 2, 4, 7, 7, 7, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]];

  it("lowerBound and upperBound agree with a linear scan, over whole arrays and sub-ranges", () => {
    for (const plain of arrays) {
      for (const values of [plain, Float64Array.from(plain), Int32Array.from(plain)]) {
        for (let from = 0; from <= plain.length; from++) {
          for (let to = from; to <= plain.length; to++) {
            for (let key = -1; key <= 11; key++) {
              assert.equal(lowerBound(values, key, from, to), linearLower(plain, key, from, to));
              assert.equal(upperBound(values, key, from, to), linearUpper(plain, key, from, to));
            }
          }
        }
      }
    }
  });

  it("searches bigints (EPT region starts) and fractional keys", () => {
    const starts = [0n, 0x1000n, 0x1000n, 0xfee00000n];
    assert.equal(upperBound(starts, 0xfee00000n) - 1, 3);
    assert.equal(upperBound(starts, 0x1000n) - 1, 2);
    assert.equal(lowerBound(starts, 0x1000n), 1);
    assert.equal(upperBound([0, 10, 20], 9.5), 1);
  });

  it("partitionPoint finds the end of the prefix for which the predicate holds", () => {
    const entries = [{ start: 0 }, { start: 4 }, { start: 4 }, { start: 9 }];
    assert.equal(
      partitionPoint(0, entries.length, (i) => entries[i]!.start <= 4),
      3,
    );
    assert.equal(
      partitionPoint(0, entries.length, (i) => entries[i]!.start < 4),
      1,
    );
    assert.equal(
      partitionPoint(0, entries.length, () => true),
      4,
    );
    assert.equal(
      partitionPoint(2, 2, () => true),
      2,
    );
  });
});
