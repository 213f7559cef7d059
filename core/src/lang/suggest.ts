/**
 * "Did you mean": the closest candidate by optimal-string-alignment distance (Levenshtein plus
 * adjacent transpositions), case-insensitive, within a threshold that grows with the length.
 */

/** Edit distance, abandoned early once it must exceed `limit` (returns limit + 1 then). */
export function editDistance(a: string, b: string, limit = Infinity): number {
  const n = a.length;
  const m = b.length;
  if (Math.abs(n - m) > limit) return limit + 1;
  let prevPrev = new Array<number>(m + 1).fill(0);
  let prev = new Array<number>(m + 1);
  let cur = new Array<number>(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    let rowMin = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= m; j++) {
      const cb = b.charCodeAt(j - 1);
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (ca === cb ? 0 : 1));
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) {
        d = Math.min(d, prevPrev[j - 2]! + 1);
      }
      cur[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > limit) return limit + 1;
    const t = prevPrev;
    prevPrev = prev;
    prev = cur;
    cur = t;
  }
  return prev[m]!;
}

/** Largest distance accepted for a word of this length. */
function threshold(length: number): number {
  if (length <= 3) return 1;
  if (length <= 6) return 2;
  return Math.max(3, Math.floor(length / 4));
}

/** The closest candidate, or undefined when none is close enough. */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const limit = threshold(word.length);
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const candidateLower = candidate.toLowerCase();
    if (candidateLower === lower) return candidate;
    let d = editDistance(lower, candidateLower, bestDistance);
    // A word that starts a longer candidate (`hlt` → `hlt_exiting`) is accepted as the weakest
    // match, so real near-misses still win.
    if (d > limit && lower.length >= 3 && candidateLower.startsWith(lower)) d = limit;
    if (d < bestDistance || (d === bestDistance && best !== undefined && candidate.length < best.length)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
