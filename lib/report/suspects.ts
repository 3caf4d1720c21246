/**
 * "Which pod is hurting the others?": victims are pods whose run-queue delay per CPU-second or
 * CPI rose above their own baseline; suspects are the pods whose CPU time (for run-queue delay)
 * or LLC misses (for CPI) rose in the same buckets, ranked by Pearson correlation over the
 * buckets the victim ran in.
 */
import { type BucketTotals, type GroupSeries, type TimeSeries, wholeBucket } from "./timeseries.ts";

/**
 * How a victim suffers: its run-queue delay or CPI rose, or (only for files without
 * `runq_delay_ns`) its CPU time fell while a neighbour's rose.
 */
export type InterferenceKind = "runq" | "cpi" | "cpu";

/** A pod whose CPU time or LLC misses rose with a victim's suffering. */
export interface Suspect {
  label: string;
  /** what of the suspect was correlated: CPU time ("cpu", in CPUs) or LLC misses per second */
  metric: "cpu" | "llc_misses";
  /** Pearson correlation of the victim's metric with the suspect's, per bucket (negative for
   * a victim whose CPU time fell) */
  r: number;
  /** buckets the correlation is over */
  n: number;
  /** the suspect's mean in the victim's elevated buckets and in its other buckets */
  meanElevated: number;
  meanOther: number;
}

/** A pod whose run-queue delay or CPI rose above its own baseline. */
export interface Finding {
  victim: string;
  kind: InterferenceKind;
  /** the victim's metric: ms runnable per CPU-second (runq), cycles per instruction (cpi) or
   * CPUs used (cpu, where it fell below the baseline) */
  baseline: number;
  meanElevated: number;
  peak: number;
  /** buckets past the threshold, of `n` buckets the pod ran in */
  elevated: number;
  n: number;
  /** elevated share × relative rise: how much this pod suffered (ranks the findings) */
  score: number;
  /** most correlated first; empty when nobody's rise matches */
  suspects: Suspect[];
  /** the victim's own suspect metric (CPUs or LLC misses/s) in its elevated and other buckets */
  ownElevated: number;
  ownOther: number;
}

/** Thresholds of findSuspects(); the defaults are what the report states. */
export interface SuspectOptions {
  /** baseline = this quantile of the victim's own metric (default 0.25) */
  baselineQuantile?: number;
  /** a bucket is elevated above baseline × rise (default 1.5) */
  rise?: number;
  /** for CPU time (no run-queue column): a bucket is low below baseline ÷ this (default 1.25) */
  fall?: number;
  /** and above baseline + this many ms per CPU-second, for run-queue delay (default 1) */
  runqFloorMs?: number;
  /** fewest elevated buckets for a victim (default 3) */
  minElevated?: number;
  /** smallest correlation that names a suspect (default 0.5) */
  minR?: number;
  /** suspects kept per victim (default 3) */
  maxSuspects?: number;
}

/** The findings and what could not be looked at. */
export interface SuspectReport {
  /** the statistic in words, for the report */
  method: string;
  findings: Finding[];
  /** why a kind of victim could not be searched for (e.g. no run-queue column, no PMU) */
  notes: string[];
}

/** Pearson correlation of two equally long series; null when either is constant or n < 3. */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n < 3 || y.length !== n) return null;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

const mean = (v: readonly number[]) => v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;

interface VictimMetric {
  kind: InterferenceKind;
  /** the victim suffers when the value falls (CPU time), not when it rises */
  falls?: boolean;
  value: (t: BucketTotals) => number | null;
  suspectMetric: "cpu" | "llc_misses";
}

/**
 * Finds victims and names suspects in a per-pod series (1 s buckets are what the report uses).
 *
 * @example
 * const { findings } = findSuspects(series);
 * findings[0].victim; // "shop/checkout"
 * findings[0].suspects[0].label; // "batch/encoder"
 */
export function findSuspects(s: TimeSeries, opts: SuspectOptions = {}): SuspectReport {
  const q = opts.baselineQuantile ?? 0.25;
  const rise = opts.rise ?? 1.5;
  const fall = opts.fall ?? 1.25;
  const floorMs = opts.runqFloorMs ?? 1;
  const minElevated = opts.minElevated ?? 3;
  const minR = opts.minR ?? 0.5;
  const maxSuspects = opts.maxSuspects ?? 3;
  // a bucket with less CPU than this says little about waiting per CPU-second or CPI
  const minCpuNs = s.everyNs / 1000;
  const notes: string[] = [];
  const metrics: VictimMetric[] = [];
  if (s.hasRunq) {
    metrics.push({
      kind: "runq",
      value: (t) =>
        t.runqDelayNs === null || t.cpuNs < minCpuNs ? null : t.runqDelayNs / t.cpuNs * 1e3,
      suspectMetric: "cpu",
    });
  } else {
    notes.push(
      "run-queue delay: these files have no runq_delay_ns column; CPU-contention victims are " +
        "judged from CPU share alone (a pod whose CPU time fell while another's rose), a weaker sign",
    );
    metrics.push({
      kind: "cpu",
      falls: true,
      value: (t) => t.cpuNs < minCpuNs ? null : t.cpuNs / s.everyNs,
      suspectMetric: "cpu",
    });
  }
  if (s.groups.some((g) => g.total.cycles !== null && g.total.instructions !== null)) {
    metrics.push({
      kind: "cpi",
      value: (t) =>
        t.cycles === null || t.instructions === null || t.instructions === 0 || t.cpuNs < minCpuNs
          ? null
          : t.cycles / t.instructions,
      suspectMetric: "llc_misses",
    });
  } else {
    notes.push(
      "CPI: no pod has cycles and instructions (no hardware PMU?), so cache-contention victims " +
        "cannot be found",
    );
  }
  const findings: Finding[] = [];
  for (const m of metrics) {
    for (const victim of s.groups) {
      const f = victimFinding(s, victim, m, { q, rise, fall, floorMs, minElevated });
      if (f === null) continue;
      const own = suspectSeries(s, victim, f.buckets, f.elevatedIdx, m);
      f.ownElevated = mean(own.inE);
      f.ownOther = mean(own.outE);
      f.suspects = rankSuspects(s, victim, f, m, minR).slice(0, maxSuspects);
      const { elevatedIdx: _e, values: _v, buckets: _b, ...finding } = f;
      findings.push(finding);
    }
  }
  findings.sort((a, b) =>
    (b.suspects.length ? 1 : 0) - (a.suspects.length ? 1 : 0) || b.score - a.score
  );
  const pct = Math.round(q * 100);
  const method = `A pod is a victim when, in at least ${minElevated} whole buckets of ` +
    `${s.everyNs / 1e9} s, its run-queue delay per CPU-second or its CPI is above ${rise}× its ` +
    `own baseline (the ${pct}th percentile of its buckets). A suspect is another pod whose CPU ` +
    `time (for run-queue delay) or LLC misses (for CPI) correlate with the victim's metric ` +
    `over the buckets the victim ran in: Pearson r ≥ ${minR}, and higher in the victim's ` +
    `elevated buckets than in the others; for CPI, its LLC misses must also rise more than ` +
    `the victim's own (else the victim thrashes the cache itself).` +
    (s.hasRunq ? "" : ` Without run-queue delay in the files, a pod is also a victim when its ` +
      `CPU time is below its own baseline (the ${100 - pct}th percentile) ÷ ${fall}, and a ` +
      `suspect's CPU time correlates with it at r ≤ −${minR}.`);
  return { method, findings, notes };
}

interface VictimWork extends Finding {
  elevatedIdx: Set<number>;
  values: number[];
  buckets: number[];
}

function victimFinding(
  s: TimeSeries,
  g: GroupSeries,
  m: VictimMetric,
  o: { q: number; rise: number; fall: number; floorMs: number; minElevated: number },
): VictimWork | null {
  const buckets: number[] = [], values: number[] = [];
  const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
  const own = [sorted[0]?.[0], sorted.at(-1)?.[0]];
  for (const [idx, t] of sorted) {
    // buckets at the window's edges are partly outside the collection, and the pod's own first
    // and last may be partly before it started or was named: their CPU time would look like a fall
    if (!wholeBucket(s, idx) || own.includes(idx)) continue;
    const v = m.value(t);
    if (v === null) continue;
    buckets.push(idx);
    values.push(v);
  }
  if (values.length < Math.max(5, o.minElevated)) return null;
  const baseline = quantile(values, m.falls ? 1 - o.q : o.q);
  const threshold = m.falls
    ? baseline / o.fall
    : m.kind === "runq"
    ? Math.max(baseline * o.rise, baseline + o.floorMs)
    : baseline * o.rise;
  const elevatedIdx = new Set<number>();
  const high: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (m.falls ? values[i] < threshold : values[i] > threshold) {
      elevatedIdx.add(buckets[i]);
      high.push(values[i]);
    }
  }
  if (high.length < o.minElevated) return null;
  const meanElevated = mean(high);
  const rel = m.falls
    ? (meanElevated > 0 ? baseline / meanElevated - 1 : baseline)
    : baseline > 0
    ? meanElevated / baseline - 1
    : meanElevated;
  return {
    victim: g.label,
    kind: m.kind,
    baseline,
    meanElevated,
    peak: m.falls ? Math.min(...high) : Math.max(...high),
    elevated: high.length,
    n: values.length,
    score: high.length / values.length * rel,
    suspects: [],
    ownElevated: 0,
    ownOther: 0,
    elevatedIdx,
    values,
    buckets,
  };
}

/** A group's suspect metric over the victim's buckets (absent bucket = 0, unknown = skipped). */
function suspectSeries(
  s: TimeSeries,
  g: GroupSeries,
  buckets: readonly number[],
  elevated: Set<number>,
  m: VictimMetric,
): { at: number[]; y: number[]; inE: number[]; outE: number[] } {
  const perS = 1e9 / s.everyNs;
  const at: number[] = [], y: number[] = [], inE: number[] = [], outE: number[] = [];
  for (let i = 0; i < buckets.length; i++) {
    const t = g.buckets.get(buckets[i]);
    let v: number | null;
    if (m.suspectMetric === "cpu") v = t === undefined ? 0 : t.cpuNs / s.everyNs;
    else v = t === undefined ? 0 : t.llcMisses === null ? null : t.llcMisses * perS;
    if (v === null) continue;
    at.push(i);
    y.push(v);
    (elevated.has(buckets[i]) ? inE : outE).push(v);
  }
  return { at, y, inE, outE };
}

function rankSuspects(
  s: TimeSeries,
  victim: GroupSeries,
  f: VictimWork,
  m: VictimMetric,
  minR: number,
): Suspect[] {
  const out: Suspect[] = [];
  const ownRise = f.ownElevated - f.ownOther;
  for (const g of s.groups) {
    if (g === victim) continue;
    if (
      m.suspectMetric === "llc_misses" && ![...g.buckets.values()].some((t) => t.llcMisses !== null)
    ) continue;
    const { at, y, inE, outE } = suspectSeries(s, g, f.buckets, f.elevatedIdx, m);
    const r = pearson(at.map((i) => f.values[i]), y);
    // a falling victim metric goes with a rising suspect: the correlation is negative
    if (r === null || (m.falls ? -r : r) < minR) continue;
    const meanElevated = mean(inE), meanOther = mean(outE);
    if (!(meanElevated > meanOther)) continue;
    if (m.suspectMetric === "llc_misses" && !(meanElevated - meanOther > ownRise)) continue;
    out.push({ label: g.label, metric: m.suspectMetric, r, n: y.length, meanElevated, meanOther });
  }
  return out.sort((a, b) => Math.abs(b.r) - Math.abs(a.r));
}
