/**
 * Min/max downsampling for drawing: each pixel column keeps the lowest and the highest value of
 * every series in it, in the order they occurred, so a one-bucket spike is never averaged away.
 */

/** Series sharing one x axis, as a chart library takes them. */
export interface Aligned {
  x: number[];
  ys: (number | null)[][];
}

/**
 * Reduces aligned series to at most `columns` pixel columns of two points each; input with no
 * more than 2 × columns points is returned as it is.
 *
 * @example
 * const d = minMaxDownsample({ x, ys: [cpu, runq] }, 600); // ≤ 1200 points per series
 */
export function minMaxDownsample(data: Aligned, columns: number): Aligned {
  const n = data.x.length;
  if (n <= 2 * columns) return data;
  const width = Math.ceil(n / columns);
  const x: number[] = [];
  const ys: (number | null)[][] = data.ys.map(() => []);
  for (let start = 0; start < n; start += width) {
    const end = Math.min(n, start + width);
    x.push(data.x[start], data.x[start + Math.floor((end - start) / 2)]);
    for (let s = 0; s < data.ys.length; s++) {
      const y = data.ys[s];
      let lo = -1, hi = -1;
      for (let i = start; i < end; i++) {
        const v = y[i];
        if (v === null) continue;
        if (lo < 0 || v < y[lo]!) lo = i;
        if (hi < 0 || v > y[hi]!) hi = i;
      }
      if (lo < 0) ys[s].push(null, null);
      else if (lo <= hi) ys[s].push(y[lo], y[hi]);
      else ys[s].push(y[hi], y[lo]);
    }
  }
  return { x, ys };
}
