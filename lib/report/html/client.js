// The report page's drawing script (inlined into the page, run by the viewer's browser): one
// uPlot chart per panel from the JSON in #report-data. Plain ES2017, no imports.
(function () {
  "use strict";
  const started = performance.now();
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const palette = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
  ];
  let charts = 0;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawPanel(parent, p, width, height) {
    const box = el("div", "panel");
    box.setAttribute("data-panel", p.id);
    box.appendChild(el("h3", null, p.title + (p.unit ? " (" + p.unit + ")" : "")));
    parent.appendChild(box);
    if (!p.chart) {
      box.classList.add("unavailable");
      box.appendChild(el("p", "unavailable-text", p.unavailable));
      return;
    }
    const n = p.chart.labels.length;
    const series = [{}];
    for (let i = 0; i < n; i++) {
      // stacked bands are given top first; colour them by their pod's position from the bottom
      const c = palette[(p.stacked ? n - 1 - i : i) % palette.length];
      series.push({
        label: p.chart.labels[i],
        stroke: c,
        width: 1,
        fill: p.stacked ? c + "cc" : undefined,
        points: { show: false },
        spanGaps: false,
      });
    }
    const opts = {
      width: width,
      height: height,
      series: series,
      // from zero: a small wobble must not look like a swing
      scales: {
        x: { time: true },
        y: {
          range: function (_u, _min, max) {
            return [0, max > 0 ? max * 1.05 : 1];
          },
        },
      },
      axes: [{}, { size: 60 }],
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false } },
    };
    new uPlot(opts, [p.chart.x].concat(p.chart.ys), box);
    charts++;
  }

  const page = Math.min(document.documentElement.clientWidth || 1200, 1400) - 40;
  const overview = document.getElementById("overview-panels");
  data.overview.forEach(function (p, i) {
    drawPanel(overview, p, page, i === 0 ? 300 : 160);
  });
  const pods = document.getElementById("pod-panels");
  const half = Math.floor((page - 20) / 2);
  data.pods.forEach(function (pod) {
    const sec = el("section", "pod");
    sec.setAttribute("data-pod", pod.label);
    sec.appendChild(el("h3", "pod-name", pod.label));
    const grid = el("div", "panels grid");
    sec.appendChild(grid);
    pods.appendChild(sec);
    pod.panels.forEach(function (p) {
      drawPanel(grid, p, half, 150);
    });
  });
  const root = document.documentElement;
  root.setAttribute("data-charts", String(charts));
  root.setAttribute("data-render-ms", String(Math.round(performance.now() - started)));
  root.setAttribute("data-rendered", "ok");
})();
