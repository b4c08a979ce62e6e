// Draws report.html's charts from the embedded data with uPlot. The numbers
// are the race's (computed once, in llm-locust's metrics); this only plots them.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("race-data").textContent);
  const engines = data.engines;
  let drawn = 0;

  const axisStroke = "#c9d1d9";
  const gridStroke = "rgba(201, 209, 217, 0.12)";
  const axis = (label, extra) =>
    Object.assign(
      { label, stroke: axisStroke, grid: { stroke: gridStroke }, ticks: { stroke: gridStroke } },
      extra || {},
    );

  function width(el) {
    return Math.max(320, Math.min(el.clientWidth || 900, 1200));
  }

  function chart(id, opts, rows) {
    const el = document.getElementById(id);
    if (!el) return;
    try {
      opts.width = width(el);
      opts.height = opts.height || 280;
      opts.legend = { live: true };
      new uPlot(opts, rows, el);
      drawn += 1;
    } catch (e) {
      el.dataset.chartError = String(e);
      el.textContent = "This chart could not be drawn: " + e;
    }
  }

  function lineSeries(extra) {
    return engines.map((e) =>
      Object.assign(
        { label: e.name, stroke: e.color, width: 2, spanGaps: false, points: { show: false } },
        extra || {},
      ),
    );
  }

  // Over time: one x of whole seconds for all engines; a second without data
  // is a gap, not a zero.
  const seconds = Math.max(0, ...engines.map((e) => e.columns.t_s.length));
  const xs = Array.from({ length: seconds }, (_, i) => i);
  // An embeddings engine has no token: its lines on a figure of generation
  // are empty, never zeros.
  const generation = { tokens: true };
  // `pick99`, when given, adds each engine's p99 as a dashed line.
  function overTime(id, label, pick, pick99, of) {
    const rows = [xs];
    const column = (e, f) =>
      xs.map((t) =>
        t < e.columns.t_s.length && !(of === generation && e.embeddings) ? f(e.columns, t) : null,
      );
    for (const e of engines) rows.push(column(e, pick));
    const series = [{ label: "s" }, ...lineSeries()];
    if (pick99) {
      for (const e of engines) rows.push(column(e, pick99));
      series.push(...lineSeries({ dash: [5, 4], width: 1 }).map((s) => Object.assign(s, { label: s.label + " p99" })));
    }
    chart(
      id,
      {
        scales: { x: { time: false } },
        axes: [axis("seconds since the start"), axis(label, { size: 70 })],
        series,
      },
      rows,
    );
  }
  const meanOf = (key) => (c, t) => (c.requests_ok[t] > 0 ? c[key][t] : null);
  overTime("chart-ttft-time", "TTFT p50 / p99 (ms)", meanOf("ttft_p50_ms"), meanOf("ttft_p99_ms"), generation);
  overTime("chart-tpot-time", "TPOT p50 / p99 (ms)", meanOf("tpot_p50_ms"), meanOf("tpot_p99_ms"), generation);
  overTime("chart-e2e-time", "E2E mean (ms)", meanOf("e2e_mean_ms"));
  overTime("chart-tokens-time", "output tokens / s", (c, t) => c.output_tokens[t], null, generation);
  overTime("chart-requests-time", "requests / s", (c, t) => c.requests_ok[t]);
  overTime("chart-failed-time", "failed requests / s", (c, t) => c.requests_failed[t]);

  // The servers' own figures where scraped (their last scrape in each
  // second), on the same seconds as the client's charts.
  function serverOverTime(id, label, pick) {
    const rows = [xs];
    for (const e of engines) {
      const points = (e.server && e.server.series) || [];
      const bySecond = new Map(points.map((p) => [p.second, p]));
      rows.push(
        xs.map((t) => {
          const p = bySecond.get(t);
          const v = p ? pick(p) : null;
          return v === undefined ? null : v;
        }),
      );
    }
    chart(
      id,
      {
        scales: { x: { time: false } },
        axes: [axis("seconds since the start"), axis(label, { size: 70 })],
        series: [{ label: "s" }, ...lineSeries({ spanGaps: true })],
      },
      rows,
    );
  }
  serverOverTime("chart-server-waiting", "requests waiting at the server", (p) => p.waiting);
  serverOverTime("chart-server-kv", "server KV-cache use (%)", (p) =>
    p.kv_use === null || p.kv_use === undefined ? null : p.kv_use * 100,
  );

  // Errors by kind over time, all engines together.
  const kinds = data.error_kinds.filter((k) =>
    engines.some((e) => e.columns.errors[k] && e.columns.errors[k].some((n) => n > 0)),
  );
  if (kinds.length > 0) {
    const palette = ["#f87171", "#fb923c", "#facc15", "#a78bfa", "#60a5fa", "#f472b6", "#34d399", "#e5e7eb", "#fca5a5", "#93c5fd"];
    const rows = [xs];
    for (const k of kinds) {
      rows.push(
        xs.map((t) =>
          engines.reduce((sum, e) => sum + ((e.columns.errors[k] || [])[t] || 0), 0),
        ),
      );
    }
    chart(
      "chart-errors-time",
      {
        scales: { x: { time: false } },
        axes: [axis("seconds since the start"), axis("failed requests / s", { size: 70 })],
        series: [
          { label: "s" },
          ...kinds.map((k, i) => ({
            label: k,
            stroke: palette[i % palette.length],
            width: 2,
            points: { show: false },
          })),
        ],
      },
      rows,
    );
  }

  // Distributions as cumulative curves (share of requests at or below x) on
  // a log axis: engines' bins differ, so each curve is read at every edge.
  function cdfAt(bins, total, x) {
    let below = 0;
    for (const b of bins) {
      if (x >= b.hi) below += b.count;
      else if (x > b.lo && b.hi > b.lo) {
        below += (b.count * Math.log(x / b.lo)) / Math.log(b.hi / b.lo);
      }
    }
    return (100 * below) / total;
  }
  function distribution(id, key, label, of) {
    const shown = (e) => e.distributions && !(of === generation && e.embeddings);
    const present = engines.filter((e) => shown(e) && e.distributions[key].length > 0);
    if (present.length === 0) return;
    const edges = new Set();
    for (const e of present) {
      for (const b of e.distributions[key]) {
        edges.add(Math.max(b.lo, 1e-3));
        edges.add(Math.max(b.hi, 1e-3));
      }
    }
    const x = Array.from(edges).sort((a, b) => a - b);
    const rows = [x];
    for (const e of engines) {
      const bins = shown(e) ? e.distributions[key] : [];
      const total = bins.reduce((s, b) => s + b.count, 0);
      rows.push(x.map((v) => (total > 0 ? cdfAt(bins, total, v) : null)));
    }
    chart(
      id,
      {
        scales: { x: { time: false, distr: 3 }, y: { range: [0, 100] } },
        axes: [axis(label + ", log scale"), axis("% of requests at or below", { size: 70 })],
        series: [{ label }, ...lineSeries()],
      },
      rows,
    );
  }
  distribution("chart-ttft-dist", "ttft_ms", "TTFT (ms)");
  distribution("chart-ttfot-dist", "ttfot_ms", "TTFOT (ms)");
  distribution("chart-tpot-dist", "tpot_ms", "TPOT (ms)");
  distribution("chart-itl-dist", "itl_ms", "ITL (ms)");
  distribution("chart-e2e-dist", "e2e_ms", "E2E (ms)");
  distribution("chart-input-dist", "input_tokens", "input tokens per request");
  distribution("chart-output-dist", "output_tokens", "output tokens per request", generation);

  // A sweep: output tokens/s at each level that ran.
  const swept = engines.filter((e) => e.sweep && e.sweep.steps.length > 0);
  if (swept.length > 0) {
    const level = (s) => (s.users !== undefined ? s.users : s.rate);
    const levels = Array.from(new Set(swept.flatMap((e) => e.sweep.steps.map(level)))).sort(
      (a, b) => a - b,
    );
    const rows = [levels];
    for (const e of engines) {
      const steps = e.sweep ? e.sweep.steps : [];
      rows.push(
        levels.map((l) => {
          const s = steps.filter((x) => level(x) === l).pop();
          return s ? s.output_tokens_per_s : null;
        }),
      );
    }
    chart(
      "chart-sweep",
      {
        scales: { x: { time: false } },
        axes: [axis("load level (" + (swept[0].sweep.steps[0].users !== undefined ? "users" : "req/s") + ")"), axis("output tokens / s", { size: 70 })],
        series: [{ label: "level" }, ...lineSeries({ points: { show: true, size: 7 }, spanGaps: true })],
      },
      rows,
    );
  }

  // For the report's test: what was drawn, and that nothing was fetched.
  document.body.dataset.resources = String(performance.getEntriesByType("resource").length);
  // For the report's test: what was drawn, and that nothing was fetched.
  document.body.dataset.resources = String(performance.getEntriesByType("resource").length);
  document.body.dataset.chartsDrawn = String(drawn);
  document.body.dataset.chartsWanted = String(document.querySelectorAll(".chart").length);
})();
