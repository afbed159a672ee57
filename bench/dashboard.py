"""The ops benchmark dashboard: the results store as one self-contained static HTML page.

    python -m bench dashboard [--store bench/results/results.jsonl] [--out bench/results/dashboard.html]

The page needs no network: its data, styles and the small script that draws its charts (inline
SVG) are all inside it. It shows, per suite, throughput and p95 latency of every case over
time, the latest run's ratios to the bare ceilings measured in the same rounds, the compiled
kernels' speed-ups over their pure-Python twins, the bulk calls' server times, the latest Locust
runs with their gates' verdicts, and every case's change from the previous run to the latest,
flagged as a regression (or an improvement) beyond 10%, since runs here vary by ±5-8%.

A run is one invocation of ``python -m bench`` or ``python -m loadtests`` (its ``run`` id; older
records without one are grouped by suite and consecutive rounds). A run's value of a case is
the median over its rounds.
"""

import argparse
import html
import json
import statistics
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.driver import RESULTS

CEILINGS = ("a_rsgi", "b_struct", "c_pk")
THRESHOLD = 0.10
WRK_SUITES = ("foundation", "catalog", "checkout", "ceilings")


class Metric:
    """What a case is judged by, and whether higher is better."""

    def __init__(self, key: str, label: str, unit: str, higher_is_better: bool) -> None:
        self.key, self.label, self.unit, self.higher_is_better = key, label, unit, higher_is_better

    def of(self, record: dict[str, Any]) -> float | None:
        value: Any = record
        for part in self.key.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return float(value) if isinstance(value, int | float) else None


RPS = Metric("rps", "req/s", "req/s", higher_is_better=True)
P95 = Metric("latency_ms.p95", "p95", "ms", higher_is_better=False)
SERVER_MS = Metric("server_ms", "server time", "ms", higher_is_better=False)
KERNEL = Metric("compiled_median_s", "compiled median", "s", higher_is_better=False)
SPEEDUP = Metric("speedup", "speed-up", "×", higher_is_better=True)
PURE = Metric("pure_median_s", "pure median", "s", higher_is_better=False)
PER_LINE = Metric("ns_per_line", "ns per line", "ns", higher_is_better=False)


def load(store: Path) -> list[dict[str, Any]]:
    """The store's records, each with its run id (given, or inferred for older records)."""
    records = []
    legacy: dict[str, str] = {}
    for line in store.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or "case" not in record or "date" not in record:
            continue
        suite = record.get("suite", "?")
        if "run" not in record:
            if record.get("round", 1) == 1 or suite not in legacy:
                legacy[suite] = f"{suite}-{record['date']}"
            record["run"] = legacy[suite]
        record["suite"] = suite
        records.append(record)
    return records


def runs_of(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[tuple[str, list[dict[str, Any]]]]]:
    """Per (suite, case): its runs in time order, each with that run's records of the case."""
    grouped: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(dict)
    for r in records:
        grouped[(r["suite"], r["case"])].setdefault(r["run"], []).append(r)
    return {
        key: sorted(runs.items(), key=lambda item: min(x["date"] for x in item[1]))
        for key, runs in grouped.items()
    }


def median_of(metric: Metric, rows: list[dict[str, Any]]) -> float | None:
    values = [v for v in (metric.of(r) for r in rows) if v is not None]
    return statistics.median(values) if values else None


def metric_of(suite: str, case: str) -> Metric:
    if suite == "kernels":
        return KERNEL
    if suite == "bulk":
        return SERVER_MS
    return RPS


def ceiling_ratios(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    """Per (suite, case), the latest run's median ratio of its req/s to each ceiling of the same
    round."""
    by_round: dict[tuple[str, str, Any], dict[str, float]] = defaultdict(dict)
    for r in records:
        if r["suite"] in WRK_SUITES and isinstance(r.get("rps"), int | float):
            by_round[(r["suite"], r["run"], r.get("round"))][r["case"]] = float(r["rps"])
    latest_run: dict[str, str] = {}
    for r in sorted(records, key=lambda x: x["date"]):
        if r["suite"] in WRK_SUITES:
            latest_run[r["suite"]] = r["run"]
    ratios: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (suite, run, _), cases in by_round.items():
        if latest_run.get(suite) != run:
            continue
        for case, rps in cases.items():
            for ceiling in CEILINGS:
                if ceiling in cases and ceiling != case and cases[ceiling] > 0:
                    ratios[(suite, case)][ceiling].append(rps / cases[ceiling])
    return {key: {c: statistics.median(v) for c, v in found.items()} for key, found in ratios.items()}


def changes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every case with at least two runs: its latest run against the one before."""
    out = []
    for (suite, case), runs in sorted(runs_of(records).items()):
        metrics = [metric_of(suite, case)] + ([P95] if suite in WRK_SUITES or suite == "load" else [])
        for metric in metrics:
            if len(runs) < 2:
                continue
            before, after = median_of(metric, runs[-2][1]), median_of(metric, runs[-1][1])
            if before is None or after is None or before == 0:
                continue
            change = (after - before) / before
            worse = -change if metric.higher_is_better else change
            status = "regression" if worse > THRESHOLD else "improvement" if worse < -THRESHOLD else "steady"
            out.append(
                {
                    "suite": suite, "case": case, "metric": metric.label, "unit": metric.unit,
                    "before": before, "after": after, "change": change, "status": status,
                    "before_run": runs[-2][0], "after_run": runs[-1][0],
                }
            )  # fmt: skip
    return out


def _epoch_ms(date: str) -> int:
    return int(datetime.fromisoformat(date).timestamp() * 1000)


def chart(
    chart_id: str, title: str, metric: Metric, series: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """A chart of one metric over time: one line per case, one point per record."""
    lines = []
    for name, rows in sorted(series.items()):
        points = [
            [_epoch_ms(r["date"]), value, f"{r['date']} {r.get('commit', '')}"]
            for r in sorted(rows, key=lambda x: x["date"])
            if (value := metric.of(r)) is not None
        ]
        if points:
            lines.append({"name": name, "points": points})
    return {"id": chart_id, "title": title, "unit": metric.unit, "series": lines}


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if unit == "s":
        return f"{value * 1e6:,.1f} µs"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def _cell(value: float | None, unit: str = "", css: str = "") -> str:
    data = "" if value is None else f' data-value="{value!r}"'
    cls = f' class="{css}"' if css else ""
    return f"<td{cls}{data}>{html.escape(_fmt(value, unit))}</td>"


def render(records: list[dict[str, Any]], *, source: str) -> str:
    runs = runs_of(records)
    charts: list[dict[str, Any]] = []
    sections: list[str] = []

    # regressions first: what an operator looks for
    found = changes(records)
    flagged = [c for c in found if c["status"] != "steady"]
    rows = "".join(
        f'<tr class="{c["status"]}" data-case="{html.escape(c["suite"])}/{html.escape(c["case"])}"'
        f' data-metric="{html.escape(c["metric"])}">'
        f"<td>{html.escape(c['suite'])}</td><td>{html.escape(c['case'])}</td><td>{html.escape(c['metric'])}</td>"
        f"{_cell(c['before'], c['unit'])}{_cell(c['after'], c['unit'])}"
        f'<td data-value="{c["change"]!r}">{c["change"]:+.1%}</td><td>{c["status"]}</td></tr>'
        for c in found
    )
    sections.append(
        '<section id="changes"><h2>Latest run against the previous one</h2>'
        f"<p>{len(flagged)} of {len(found)} measures moved by more than {THRESHOLD:.0%}"
        " (runs on this machine vary by ±5–8%).</p>"
        "<table><thead><tr><th>suite</th><th>case</th><th>measure</th><th>previous</th><th>latest</th>"
        f"<th>change</th><th></th></tr></thead><tbody>{rows}</tbody></table></section>"
    )

    # HTTP suites: throughput and latency over time, ratios to the ceilings
    ratios = ceiling_ratios(records)
    for suite in WRK_SUITES:
        cases = {case: [r for _, rs in runs[(s, case)] for r in rs] for (s, case) in runs if s == suite}
        if not cases:
            continue
        charts.append(chart(f"{suite}-rps", f"{suite}: requests per second", RPS, cases))
        charts.append(chart(f"{suite}-p95", f"{suite}: p95 latency", P95, cases))
        table = "".join(
            f'<tr data-case="{suite}/{html.escape(case)}"><td>{html.escape(case)}</td>'
            f"{_cell(median_of(RPS, runs[(suite, case)][-1][1]))}"
            f"{_cell(median_of(P95, runs[(suite, case)][-1][1]), 'ms')}"
            + "".join(
                _cell(
                    ratios.get((suite, case), {}).get(c) * 100 if c in ratios.get((suite, case), {}) else None
                )
                for c in CEILINGS
            )
            + "</tr>"
            for case in sorted(cases)
        )
        sections.append(
            f'<section id="{suite}"><h2>{suite}</h2>'
            f'<figure class="chart" id="chart-{suite}-rps"></figure>'
            f'<figure class="chart" id="chart-{suite}-p95"></figure>'
            "<table><thead><tr><th>case (latest run)</th><th>req/s</th><th>p95 ms</th>"
            "<th>% of a_rsgi</th><th>% of b_struct</th><th>% of c_pk</th></tr></thead>"
            f"<tbody>{table}</tbody></table></section>"
        )

    # kernels
    kernels = {case: [r for _, rs in runs[(s, case)] for r in rs] for (s, case) in runs if s == "kernels"}
    if kernels:
        charts.append(
            chart("kernels-speedup", "kernels: compiled speed-up over pure Python", SPEEDUP, kernels)
        )
        table = "".join(
            f'<tr data-case="kernels/{html.escape(case)}"><td>{html.escape(case)}</td>'
            f"{_cell(median_of(KERNEL, runs[('kernels', case)][-1][1]), 's')}"
            f"{_cell(median_of(PURE, runs[('kernels', case)][-1][1]), 's')}"
            f"{_cell(median_of(SPEEDUP, runs[('kernels', case)][-1][1]))}"
            f"{_cell(median_of(PER_LINE, runs[('kernels', case)][-1][1]))}</tr>"
            for case in sorted(kernels)
        )
        sections.append(
            '<section id="kernels"><h2>Compiled kernels</h2><figure class="chart" id="chart-kernels-speedup">'
            "</figure><table><thead><tr><th>kernel (latest run)</th><th>compiled</th><th>pure</th>"
            f"<th>speed-up ×</th><th>ns per line</th></tr></thead><tbody>{table}</tbody></table></section>"
        )

    # bulk
    bulk = {case: [r for _, rs in runs[(s, case)] for r in rs] for (s, case) in runs if s == "bulk"}
    if bulk:
        charts.append(chart("bulk-server", "bulk: server time per call", SERVER_MS, bulk))
        table = "".join(
            f'<tr data-case="bulk/{html.escape(case)}"><td>{html.escape(case)}</td>'
            f"{_cell(median_of(Metric('rows', '', '', True), runs[('bulk', case)][-1][1]))}"
            f"{_cell(median_of(SERVER_MS, runs[('bulk', case)][-1][1]), 'ms')}"
            f"{_cell(median_of(Metric('rows_per_s', '', '', True), runs[('bulk', case)][-1][1]))}</tr>"
            for case in sorted(bulk)
        )
        sections.append(
            '<section id="bulk"><h2>Bulk calls</h2><figure class="chart" id="chart-bulk-server"></figure>'
            "<table><thead><tr><th>case (latest run)</th><th>rows</th><th>server ms</th><th>rows/s</th>"
            f"</tr></thead><tbody>{table}</tbody></table></section>"
        )

    # Locust
    # (a load run stores its bare ceilings beside the Locust result: those are wrk records)
    load = sorted(
        (r for r in records if r["suite"] == "load" and r.get("tool") == "locust"), key=lambda r: r["date"]
    )
    if load:
        by_profile = defaultdict(list)
        for r in load:
            by_profile[r.get("profile", r["case"])].append(r)
        charts.append(chart("load-rps", "Locust runs: requests per second", RPS, by_profile))
        table = "".join(
            f'<tr class="{"pass" if r.get("verdict") == "pass" else "fail"}"'
            f' data-case="load/{html.escape(r["case"])}"'
            f' data-date="{html.escape(r["date"])}"><td>{html.escape(r["date"])}</td>'
            f"<td>{html.escape(str(r.get('profile', '')))}</td>"
            f"<td>{r.get('load', {}).get('users', '')}</td><td>{r.get('load', {}).get('duration_s', '')}</td>"
            f"{_cell(RPS.of(r))}{_cell(Metric('latency_ms.p50', '', 'ms', False).of(r), 'ms')}"
            f"{_cell(P95.of(r), 'ms')}{_cell(Metric('latency_ms.p99', '', 'ms', False).of(r), 'ms')}"
            f"{_cell(Metric('error_count', '', '', False).of(r))}"
            f"{_cell(Metric('locust_cpu_percent', '', '', False).of(r))}"
            f"{_cell(_percent(Metric('of_c_pk', '', '', True).of(r)))}"
            f"<td>{html.escape(str(r.get('verdict', '')))}</td></tr>"
            for r in reversed(load[-12:])
        )
        sections.append(
            '<section id="load"><h2>Latest Locust runs</h2>'
            '<figure class="chart" id="chart-load-rps"></figure>'
            "<table><thead><tr><th>date</th><th>profile</th><th>users</th><th>s</th><th>req/s</th>"
            "<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>failures</th><th>Locust CPU %</th>"
            "<th>% of c_pk (same run)</th><th>gates</th></tr></thead>"
            f"<tbody>{table}</tbody></table></section>"
        )

    latest = max(records, key=lambda r: r["date"]) if records else None
    header = (
        f"<p>{len(records):,} results of {len({r['run'] for r in records}):,} runs from "
        f"<code>{html.escape(source)}</code>; latest {html.escape(latest['date'])} at commit "
        f"<code>{html.escape(str(latest.get('commit', '')))}</code>.</p>"
        if latest
        else "<p>The results store is empty.</p>"
    )
    data = json.dumps(charts).replace("</", "<\\/")
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    return PAGE.format(generated=generated, header=header, sections="".join(sections), data=data)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Citadel benchmarks</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1d2330; }}
h1 {{ margin-bottom: 0; }} h2 {{ margin-top: 2.5rem; border-bottom: 1px solid #d6dae3; }}
table {{ border-collapse: collapse; margin: 1rem 0; width: 100%; }}
th, td {{ padding: .25rem .6rem; border-bottom: 1px solid #eceef3; text-align: right; }}
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) {{ text-align: left; }}
tr.regression td {{ background: #fde2e1; }} tr.improvement td {{ background: #e1f6e6; }}
tr.fail td {{ background: #fde2e1; }}
figure.chart {{ margin: 1rem 0; }} figure.chart svg {{ width: 100%; height: auto; }}
.legend span {{ margin-right: 1rem; white-space: nowrap; }} .legend i {{ display: inline-block;
  width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -1px; }}
code {{ background: #f1f3f7; padding: 0 .25rem; }}
</style></head>
<body><h1>Citadel benchmarks</h1><p>Generated {generated}.</p>{header}{sections}
<script id="chart-data" type="application/json">{data}</script>
<script>
(function () {{
  const NS = "http://www.w3.org/2000/svg";
  const COLOURS = ["#2f6fdf", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0b7285", "#e67700",
                   "#5c940d", "#862e9c", "#495057"];
  function el(name, attrs, parent) {{
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }}
  function label(v) {{
    return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en") : (+v.toPrecision(3)).toString();
  }}
  function draw(spec) {{
    const figure = document.getElementById("chart-" + spec.id);
    if (!figure) return;
    const W = 900, H = 300, L = 70, R = 20, T = 30, B = 40;
    const points = spec.series.flatMap(s => s.points);
    const svg = el("svg", {{viewBox: `0 0 ${{W}} ${{H}}`, role: "img", "aria-label": spec.title}}, figure);
    el("text", {{x: L, y: 18, "font-weight": "bold"}}, svg).textContent = spec.title + " (" + spec.unit + ")";
    if (!points.length) {{ figure.dataset.drawn = "0"; return; }}
    const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
    let x0 = Math.min(...xs), x1 = Math.max(...xs); if (x0 === x1) {{ x0 -= 3.6e6; x1 += 3.6e6; }}
    const y1 = Math.max(...ys) * 1.1 || 1;
    const X = x => L + (x - x0) / (x1 - x0) * (W - L - R), Y = y => H - B - y / y1 * (H - T - B);
    for (let i = 0; i <= 4; i++) {{
      const v = y1 * i / 4;
      el("line", {{x1: L, x2: W - R, y1: Y(v), y2: Y(v), stroke: "#eceef3"}}, svg);
      el("text", {{x: L - 6, y: Y(v) + 4, "text-anchor": "end", "font-size": 11}}, svg)
        .textContent = label(v);
    }}
    [[x0, "start"], [(x0 + x1) / 2, "middle"], [x1, "end"]].forEach(([t, anchor]) => {{
      el("text", {{x: X(t), y: H - B + 16, "text-anchor": anchor, "font-size": 11}}, svg)
        .textContent = new Date(t).toISOString().slice(0, 16).replace("T", " ");
    }});
    let drawn = 0;
    const legend = document.createElement("div"); legend.className = "legend";
    spec.series.forEach((s, i) => {{
      const colour = COLOURS[i % COLOURS.length];
      el("polyline", {{points: s.points.map(p => X(p[0]) + "," + Y(p[1])).join(" "), fill: "none",
                      stroke: colour, "stroke-width": 1.5}}, svg);
      for (const p of s.points) {{
        const dot = el("circle", {{cx: X(p[0]), cy: Y(p[1]), r: 3, fill: colour, "class": "point",
                                  "data-series": s.name, "data-value": p[1]}}, svg);
        el("title", {{}}, dot).textContent = `${{s.name}}: ${{label(p[1])}} ${{spec.unit}} (${{p[2]}})`;
        drawn++;
      }}
      const key = document.createElement("span");
      key.innerHTML = `<i style="background:${{colour}}"></i>`; key.append(s.name); legend.appendChild(key);
    }});
    figure.appendChild(legend);
    figure.dataset.drawn = String(drawn);
  }}
  JSON.parse(document.getElementById("chart-data").textContent).forEach(draw);
  document.body.dataset.charts = "drawn";
}})();
</script></body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard", description=__doc__)
    parser.add_argument("--store", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=RESULTS.with_name("dashboard.html"))
    args = parser.parse_args(argv)
    records = load(args.store) if args.store.exists() else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(records, source=str(args.store)))
    print(f"wrote {args.out} ({len(records):,} results)")
    return 0
