/**
 * The simulator's random numbers: sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG, 128-bit
 * state, passes PractRand) seeded through splitmix32 so that nearby seeds give unrelated streams.
 * Deterministic for a seed on every JavaScript engine: only 32-bit integer arithmetic
 * (`Math.imul`, `>>> 0`) is used. Never `Math.random`.
 */

/** splitmix32 step: returns the next 32-bit output for the state `s` (used only for seeding). */
function splitmix32(s: number): number {
  s = (s + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // Fold a seed of up to 2^53 into two 32-bit words, then expand with splitmix32.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    let s = lo ^ Math.imul(hi, 0x27d4eb2d);
    s = splitmix32(s);
    this.a = s;
    s = splitmix32(s ^ 0x6a09e667);
    this.b = s;
    s = splitmix32(s ^ 0xbb67ae85);
    this.c = s;
    s = splitmix32(s ^ 0x3c6ef372);
    this.d = s;
    // Discard the first outputs: sfc32's authors recommend 12 rounds after seeding.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.c = (r + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Exponential with the given mean (inter-arrival time of a Poisson process). */
  exponential(mean: number): number {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    return -Math.log(1 - this.next()) * mean;
  }
}
