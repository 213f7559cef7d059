/**
 * Binary search over ascending sequences, the one implementation every layer uses: line
 * starts (LineMap), EPT region starts, declaration starts, semantic-token offsets, the
 * language server's position index and the timeline's interval and exit arrays. Bounds follow
 * C++'s std::lower_bound / std::upper_bound and Rust's `partition_point`: half-open ranges
 * `[from, to)`, and the result is where `key` would be inserted, so "the last element ≤ key" is
 * `upperBound(…) - 1` and "none" is -1 there, never a special value.
 */

/** An ascending indexable sequence: a plain array or any typed array. */
export interface Ascending<T> {
  readonly length: number;
  readonly [index: number]: T;
}

/** The first index in `[from, to)` whose value is ≥ `key`; `to` if there is none. */
export function lowerBound<T extends number | bigint>(
  values: Ascending<T>,
  key: T,
  from = 0,
  to = values.length,
): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index in `[from, to)` whose value is > `key`; `to` if there is none. */
export function upperBound<T extends number | bigint>(
  values: Ascending<T>,
  key: T,
  from = 0,
  to = values.length,
): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The first index in `[from, to)` for which `before(index)` is false, where `before` is true
 * for a prefix of the range and false after it (for sequences searched by a field:
 * `partitionPoint(0, entries.length, (i) => entries[i].start <= offset)`).
 */
export function partitionPoint(from: number, to: number, before: (index: number) => boolean): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
