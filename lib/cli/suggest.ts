/** "Did you mean …?" for mistyped commands and flags: the closest known word by edit distance. */

/** Levenshtein distance between `a` and `b` (insert, delete, substitute: cost 1 each). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The known word closest to `word`, if it is close enough to be a typo: at most a third of the
 * word's length away (at least 1), or a prefix of it. Ties go to the first in `known`.
 *
 * @example
 * suggest("colect", ["collect", "summary", "pods"]); // "collect"
 * suggest("zzz", ["collect"]); // undefined
 */
export function suggest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.startsWith(w) && w.length >= 2 ? 0.5 : editDistance(w, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}
