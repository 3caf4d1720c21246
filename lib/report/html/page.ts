/**
 * The report page: one self-contained HTML file (uPlot, its CSS and the drawing script inlined;
 * no request at view time). Series are downsampled here, so the page's size depends on the
 * number of pods and pixels, not on the hours of data.
 */
import uplotJs from "../../../node_modules/uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "../../../node_modules/uplot/dist/uPlot.min.css" with { type: "text" };
import clientJs from "./client.js" with { type: "text" };
import pageCss from "./page.css" with { type: "text" };
import { type Aligned, minMaxDownsample } from "./downsample.ts";
import {
  bucketMetrics,
  type BucketTotals,
  denseSeries,
  type GroupSeries,
  type TimeSeries,
} from "../timeseries.ts";
import type { Finding, SuspectReport } from "../suspects.ts";
import type { CounterInfo } from "../../output/schema.ts";

/** Options of renderReportHtml(). */
export interface ReportPageOptions {
  title?: string;
  /** pixel columns a chart is downsampled to (default 600: two points each) */
  columns?: number;
  /** pods drawn one by one, most CPU first (victims and suspects always are; default 20) */
  maxPods?: number;
  /** pods given their own band in the stacked CPU chart (default 10, the rest are "others") */
  stackPods?: number;
}

/** One chart: aligned series, or why there is none. */
export interface PanelData {
  id: string;
  title: string;
  unit: string;
  chart: (Aligned & { labels: string[] }) | null;
  /** why the panel has no chart (never drawn as zeros) */
  unavailable: string | null;
  stacked?: boolean;
}

/** What the page's script draws. */
export interface PageData {
  overview: PanelData[];
  pods: { label: string; panels: PanelData[] }[];
}

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

const fmt = (v: number | null, digits = 2) =>
  v === null || !Number.isFinite(v) ? "–" : v.toFixed(digits);

function counterNote(counters: readonly CounterInfo[], names: string[]): string {
  const parts = names.map((n) => {
    const c = counters.find((x) => x.name === n);
    return c ? `${n}: ${c.source}${c.detail ? ` (${c.detail})` : ""}` : `${n}: not recorded`;
  });
  return parts.join("; ");
}

function panel(
  s: TimeSeries,
  id: string,
  title: string,
  unit: string,
  labels: string[],
  ys: (number | null)[][],
  columns: number,
): PanelData {
  const x = Array.from({ length: s.bucketCount }, (_, i) => (s.firstBucket + i) * s.everyNs / 1e9);
  const d = minMaxDownsample({ x, ys }, columns);
  // four significant digits are more than a pixel shows, and halve the page
  const round = (v: number | null) => v === null ? null : Number(v.toPrecision(4));
  return {
    id,
    title,
    unit,
    chart: { x: d.x, ys: d.ys.map((y) => y.map(round)), labels },
    unavailable: null,
  };
}

function unavailable(id: string, title: string, why: string): PanelData {
  return { id, title, unit: "", chart: null, unavailable: why };
}

const hasAny = (g: GroupSeries, pick: (t: BucketTotals) => number | null) =>
  [...g.buckets.values()].some((t) => pick(t) !== null);

/** Builds the chart data of the page from a per-pod series. */
export function pageData(s: TimeSeries, suspects: SuspectReport, opts: ReportPageOptions = {}) {
  const columns = opts.columns ?? 600;
  const stackPods = opts.stackPods ?? 10;
  const counters = s.files[0]?.counters ?? [];
  const overview: PanelData[] = [];
  // stacked CPU: cumulative sums in CPUs, drawn top band first so each fill covers the next
  const stacked = s.groups.slice(0, stackPods);
  const rest = s.groups.slice(stackPods);
  const bands = stacked.map((g) => ({
    label: g.label,
    y: denseSeries(s, g, (t) => t.cpuNs / s.everyNs, 0) as number[],
  }));
  if (rest.length) {
    const y = new Array(s.bucketCount).fill(0);
    for (const g of rest) {
      for (const [idx, t] of g.buckets) y[idx - s.firstBucket] += t.cpuNs / s.everyNs;
    }
    bands.push({ label: `others (${rest.length} pods)`, y });
  }
  const cum: number[][] = [];
  for (let b = 0; b < bands.length; b++) {
    cum.push(bands[b].y.map((v, i) => v + (b > 0 ? cum[b - 1][i] : 0)));
  }
  const cpuStack = panel(
    s,
    "node-cpu",
    "CPU by pod, stacked (legend values are running totals)",
    "CPUs",
    bands.map((b) => b.label).reverse(),
    cum.reverse(),
    columns,
  );
  cpuStack.stacked = true;
  overview.push(cpuStack);
  overview.push(
    panel(
      s,
      "node-coverage",
      "Attribution coverage: CPU time with pod metadata",
      "%",
      ["attributed"],
      [s.node.map((n) => n.cpuNs > 0 ? 100 * n.attributedCpuNs / n.cpuNs : null)],
      columns,
    ),
  );
  overview.push(
    s.hasCarried
      ? panel(
        s,
        "node-carried",
        "Carried rows (absorbed a stretch whose records were lost)",
        "rows",
        ["carried rows"],
        [s.node.map((n) => n.carriedRows)],
        columns,
      )
      : unavailable(
        "node-carried",
        "Carried rows",
        "not recorded: these files have no `carried` column (written before podperf marked rows " +
          "that absorbed lost records)",
      ),
  );
  const pods: PageData["pods"] = [];
  const named = new Set<string>();
  for (const f of suspects.findings) {
    named.add(f.victim);
    for (const x of f.suspects) named.add(x.label);
  }
  const maxPods = opts.maxPods ?? 20;
  const drawn = s.groups.filter((g, i) => i < maxPods || named.has(g.label));
  for (const g of drawn) {
    const one = (
      id: string,
      title: string,
      unit: string,
      pick: (t: BucketTotals) => number | null,
      missing: string | null,
    ) =>
      missing !== null
        ? unavailable(id, title, missing)
        : panel(s, id, title, unit, [g.label], [denseSeries(s, g, pick)], columns);
    const cpus = s.cpus;
    const hwMissing = (names: string[]) =>
      `unavailable: no ${names.join(" or ")} counted for this pod (${
        counterNote(counters, names)
      })`;
    pods.push({
      label: g.label,
      panels: [
        one(
          "cpu",
          cpus === null ? "CPU (CPUs)" : "CPU share of the node",
          cpus === null ? "CPUs" : "%",
          (t) =>
            cpus === null ? t.cpuNs / s.everyNs : 100 * bucketMetrics(t, s.everyNs, cpus).cpuShare!,
          null,
        ),
        one(
          "runq",
          "Run-queue delay per CPU-second",
          "ms/CPU-s",
          (t) => bucketMetrics(t, s.everyNs, cpus).runqMsPerCpuS,
          s.hasRunq ? null : "unavailable: these files have no runq_delay_ns column",
        ),
        one(
          "ipc",
          "IPC (instructions per cycle)",
          "IPC",
          (t) => bucketMetrics(t, s.everyNs, cpus).ipc,
          hasAny(g, (t) => t.cycles === null || t.instructions === null ? null : 1)
            ? null
            : hwMissing(["cycles", "instructions"]),
        ),
        one(
          "mpki",
          "LLC misses per kilo-instruction",
          "MPKI",
          (t) => bucketMetrics(t, s.everyNs, cpus).llcMpki,
          hasAny(g, (t) => t.llcMisses === null || t.instructions === null ? null : 1)
            ? null
            : hwMissing(["llc_misses", "instructions"]),
        ),
      ],
    });
  }
  return { overview, pods, podsNotDrawn: s.groups.length - drawn.length };
}

function findingRows(findings: readonly Finding[]): string {
  if (findings.length === 0) {
    return `<tr><td colspan="11" class="none">No pod's run-queue delay or CPI rose above its own baseline.</td></tr>`;
  }
  const rows: string[] = [];
  findings.forEach((f, i) => {
    const what = f.kind === "runq"
      ? "run-queue delay (ms/CPU-s)"
      : f.kind === "cpi"
      ? "CPI"
      : "CPU time fell (CPUs)";
    const d = f.kind === "runq" ? 1 : 2;
    const head = `<td>${i + 1}</td><td class="victim">${esc(f.victim)}</td><td>${what}</td>` +
      `<td>${fmt(f.baseline, d)}</td><td>${fmt(f.meanElevated, d)}</td>` +
      `<td>${f.elevated} / ${f.n}</td>`;
    const unit = (m: string) => m === "cpu" ? "CPUs" : "LLC misses/s";
    const val = (m: string, v: number) => m === "cpu" ? v.toFixed(2) : v.toExponential(2);
    if (f.suspects.length === 0) {
      const own = f.kind === "cpi" && f.ownElevated > f.ownOther * 1.5
        ? `none: its own LLC misses rose ${(f.ownElevated / Math.max(1, f.ownOther)).toFixed(1)}×`
        : "none found";
      rows.push(
        `<tr data-victim="${esc(f.victim)}">${head}<td class="suspect none">${own}</td>` +
          `<td>–</td><td>–</td><td>–</td><td>–</td></tr>`,
      );
      return;
    }
    f.suspects.forEach((x, j) => {
      rows.push(
        `<tr data-victim="${esc(f.victim)}" data-suspect="${esc(x.label)}" data-rank="${j + 1}">` +
          (j === 0 ? head : `<td></td><td></td><td></td><td></td><td></td><td></td>`) +
          `<td class="suspect">${esc(x.label)}</td><td>${
            x.metric === "cpu" ? "CPU" : "LLC misses"
          }</td>` +
          `<td class="r">${x.r.toFixed(2)}</td><td>${x.n}</td>` +
          `<td>${val(x.metric, x.meanElevated)} vs ${val(x.metric, x.meanOther)} ${
            unit(x.metric)
          }</td></tr>`,
      );
    });
  });
  return rows.join("\n");
}

function podTable(s: TimeSeries): string {
  const span = s.bucketCount * s.everyNs;
  const rows = s.groups.map((g) => {
    const m = bucketMetrics(g.total, span, s.cpus);
    return `<tr><td>${esc(g.label)}</td><td>${(g.total.cpuNs / 1e9).toFixed(2)}</td>` +
      `<td>${m.cpuShare === null ? "–" : (100 * m.cpuShare).toFixed(1)}</td>` +
      `<td>${fmt(m.runqMsPerCpuS, 1)}</td><td>${fmt(m.ipc)}</td><td>${fmt(m.llcMpki)}</td></tr>`;
  });
  return rows.join("\n");
}

// JSON inside <script>: "<" escaped so no "</script>" can end the element early
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

/**
 * Renders the whole report page.
 *
 * @example
 * const html = renderReportHtml(series, findSuspects(series), { title: "node-a" });
 */
export function renderReportHtml(
  s: TimeSeries,
  suspects: SuspectReport,
  opts: ReportPageOptions = {},
): string {
  const { podsNotDrawn, ...data } = pageData(s, suspects, opts);
  const from = new Date(s.firstBucket * s.everyNs / 1e6);
  const to = new Date((s.firstBucket + s.bucketCount) * s.everyNs / 1e6);
  const nodes = [...new Set(s.files.map((f) => f.metadata["podperf.node"] ?? "?"))];
  const rows = s.files.reduce((a, f) => a + f.rows, 0);
  const counters = s.files[0]?.counters ?? [];
  const total = s.node.reduce((a, n) => a + n.cpuNs, 0);
  const attributed = s.node.reduce((a, n) => a + n.attributedCpuNs, 0);
  // per-file counts the collector may record (lost or carried records), summed over files
  const counts = new Map<string, number>();
  const count = (k: string, v: unknown) => {
    if (/lost|carried|dropped/.test(k) && Number.isFinite(Number(v))) {
      counts.set(k, (counts.get(k) ?? 0) + Number(v));
    }
  };
  for (const f of s.files) {
    for (const [k, v] of Object.entries(f.metadata)) {
      if (k.startsWith("podperf.") && k !== "podperf.coverage") count(k.slice(8), v);
    }
    try {
      // the sampler counts carried rows per file in podperf.coverage (rows_carried)
      const cov = JSON.parse(f.metadata["podperf.coverage"] ?? "{}");
      for (const [k, v] of Object.entries(cov)) count(k, v);
    } catch { /* no coverage: nothing to count */ }
  }
  const lost =
    (counts.size
      ? [...counts].map(([k, v]) => `${esc(k)}: ${v} (file metadata)`).join(", ")
      : "no per-file counts in these files' metadata") +
    (/lost/.test([...counts.keys()].join()) ? "" : "; lost records: not recorded in these files");
  const carried = s.hasCarried
    ? `${s.node.reduce((a, n) => a + (n.carriedRows ?? 0), 0)} carried rows`
    : "carried rows: no carried column in these files";
  const title = opts.title ?? `podperf report: ${nodes.join(", ")}`;
  const notes = suspects.notes.map((n) => `<li>${esc(n)}</li>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<script>
window.__podperfErrors = [];
function __podperfError(msg) {
  window.__podperfErrors.push(String(msg));
  var el = document.getElementById("errors");
  if (el) { el.textContent = window.__podperfErrors.join("\\n"); el.hidden = false; }
  document.documentElement.setAttribute("data-errors", String(window.__podperfErrors.length));
}
window.addEventListener("error", function (e) { __podperfError(e.message + " at " + e.filename + ":" + e.lineno); });
window.addEventListener("unhandledrejection", function (e) { __podperfError("unhandled rejection: " + e.reason); });
var __consoleError = console.error;
console.error = function () { __podperfError([].slice.call(arguments).join(" ")); __consoleError.apply(console, arguments); };
</script>
<style>${uplotCss}</style>
<style>${pageCss}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<dl class="facts">
<dt>window</dt><dd>${from.toISOString()} – ${to.toISOString()} (${
    (s.bucketCount * s.everyNs / 1e9).toFixed(0)
  } s in ${s.everyNs / 1e9} s buckets)</dd>
<dt>input</dt><dd>${s.files.length} file(s), ${rows} rows, node ${esc(nodes.join(", "))}, ${
    s.cpus ?? "?"
  } CPUs</dd>
<dt>counters</dt><dd>${
    esc(counters.map((c) => `${c.name}: ${c.source}`).join(", ") || "not recorded")
  }</dd>
<dt>attribution</dt><dd>${
    total > 0 ? (100 * attributed / total).toFixed(1) : "–"
  }% of CPU time attributed to a pod</dd>
<dt>records</dt><dd>${lost}; ${carried}</dd>
</dl>
<pre id="errors" hidden></pre>
</header>
<section id="suspects">
<h2>Victims and suspects</h2>
<p class="method">${esc(suspects.method)}</p>
${notes ? `<ul class="notes">${notes}</ul>` : ""}
<table id="suspects-table">
<thead><tr><th>#</th><th>victim</th><th>symptom</th><th>baseline</th><th>mean when elevated</th>
<th>elevated buckets</th><th>suspect</th><th>suspect's</th><th>r</th><th>n</th>
<th>suspect when elevated vs otherwise</th></tr></thead>
<tbody>
${findingRows(suspects.findings)}
</tbody></table>
</section>
<section id="overview"><h2>Node</h2><div class="panels wide" id="overview-panels"></div></section>
<section id="pods"><h2>Pods</h2>
<table id="pod-table"><thead><tr><th>pod</th><th>CPU s</th><th>node %</th>
<th>run-queue ms/CPU-s</th><th>IPC</th><th>LLC MPKI</th></tr></thead>
<tbody>${podTable(s)}</tbody></table>
${podsNotDrawn > 0 ? `<p class="note">${podsNotDrawn} pods with less CPU are not drawn.</p>` : ""}
<div id="pod-panels"></div>
</section>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${uplotJs}</script>
<script>${clientJs}</script>
</body></html>
`;
}
