/**
 * The importer's bounded structures (core/src/trace/pairingState.ts, stats.ts) against plain
 * reference versions: the per-vCPU timeline sample keeps exactly the exits whose index is a
 * multiple of the final stride, and NumberMap maps like a Map.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { VcpuState } from "../core/src/trace/pairingState";
import { NumberMap } from "../core/src/trace/stats";

/** The sample as first written: a modulo per exit, halved when full. */
function referenceSample(capacity: number, exits: number): { kept: number[]; stride: number } {
  let kept: number[] = [];
  let stride = 1;
  for (let n = 0; n < exits; n++) {
    if (capacity === 0 || n % stride !== 0) continue;
    let skip = false;
    while (kept.length === capacity) {
      kept = kept.filter((_, i) => i % 2 === 0);
      stride *= 2;
      if (n % stride !== 0) {
        skip = true;
        break;
      }
    }
    if (!skip) kept.push(n);
  }
  return { kept, stride };
}

describe("timeline sample", () => {
  for (const capacity of [0, 1, 2, 3, 5, 8, 13]) {
    test(`capacity ${capacity}: the exits whose index is a multiple of the stride`, () => {
      for (const exits of [0, 1, 7, 64, 1000]) {
        const v = new VcpuState(0, capacity);
        for (let n = 0; n < exits; n++) v.sample(n * 10, 1, n);
        const kept = [...v.tlReason.slice(0, v.tlCount)];
        const reference = referenceSample(capacity, exits);
        assert.deepEqual(kept, reference.kept, `capacity ${capacity}, ${exits} exits`);
        if (capacity > 0) assert.equal(v.stride, reference.stride);
        for (const n of kept) assert.equal(n % v.stride, 0);
      }
    });
  }
});

describe("NumberMap", () => {
  test("gets what was set, across growth, for keys up to 2^53", () => {
    const map = new NumberMap<number>();
    const reference = new Map<number, number>();
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const key = i % 3 === 0 ? x : i % 3 === 1 ? x * 4096 : 2 ** 53 - 1 - x;
      map.set(key, i);
      reference.set(key, i);
    }
    assert.equal(map.size, reference.size);
    for (const [key, value] of reference) assert.equal(map.get(key), value);
    assert.equal(map.get(0.5), undefined);
    assert.equal(map.get(7), reference.get(7));
  });
});
