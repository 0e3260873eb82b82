"""A self-contained HTML report of one eval run (its results.json), optionally against a baseline run.

One document with inline CSS and inline SVG drawn here: nothing is fetched, no script runs, it reads the same in
light and dark. Every piece of text that comes from a run (answers, messages, failures, ids) is escaped.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

__all__ = ["METRICS", "RESULTS_FILE", "Metric", "compare_cases", "format_value", "latency_bins", "load_results",
           "render_report"]

RESULTS_FILE = "results.json"
DASH = "—"  # a metric no case measured
_BINS_MAX = 20
_BAR_W, _LABEL_W, _VALUE_W, _ROW_H = 320, 210, 190, 26


@dataclass(frozen=True)
class Metric:
    """A summary metric: its key, label, how it prints, and which way is better."""

    key: str
    label: str
    unit: str  # "share" (0..1, printed as %), "score" (0..1), "count", "seconds", "usd", "tokens"
    higher_is_better: bool | None = True  # None: neither way is better (tokens, cost are a trade-off)

    @property
    def bar(self) -> bool:
        """Drawn as a 0..1 bar."""
        return self.unit in ("share", "score")


METRICS: tuple[Metric, ...] = (
    Metric("pass_rate", "Pass rate", "share"),
    Metric("recommendation_accuracy", "Recommendation accuracy", "share"),
    Metric("profile_accuracy", "Profile accuracy", "share"),
    Metric("hit_at_k", "Hit@k (expected source)", "share"),
    Metric("mrr", "MRR", "score"),
    Metric("coverage", "Coverage of points", "share"),
    Metric("citation_validity", "Citation validity", "share"),
    Metric("refusal_rate", "Refusal rate", "share"),
    Metric("redirect_rate", "Off-topic redirect rate", "share"),
    Metric("paraphrase_agreement", "Paraphrase agreement", "share"),
    Metric("flip_accuracy", "Flip accuracy", "share"),
    Metric("verdict_changed_share", "Verdict changed across repeats", "share", higher_is_better=False),
    Metric("errors", "Errors", "count", higher_is_better=False),
    Metric("numbers_unsupported", "Unsupported numbers", "count", higher_is_better=False),
    Metric("profile_invented", "Profile fields invented", "count", higher_is_better=False),
    Metric("latency_median_s", "Latency, median", "seconds", higher_is_better=False),
    Metric("latency_p90_s", "Latency, p90", "seconds", higher_is_better=False),
    Metric("tokens", "Tokens", "tokens", higher_is_better=None),
    Metric("cost_usd", "Cost", "usd", higher_is_better=False),
)
_BY_KEY = {m.key: m for m in METRICS}
_KIND_FIGURES = ("numbers_unsupported", "latency_median_s")  # every kind has these; the 0..1 ones only if measured


# --- loading ---------------------------------------------------------------------------------------------------
def load_results(path: Path) -> dict[str, Any]:
    """A run's results.json (the file, or a run folder holding one); a ValueError of one line when it is missing,
    unreadable or not an eval results file."""
    file = path / RESULTS_FILE if path.is_dir() else path
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{file}: no such file (run `advisor eval` to make one)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(_one_line(f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}")) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(_one_line(f"{file}: not JSON: {getattr(exc, 'msg', exc)} "
                                   f"(line {getattr(exc, 'lineno', '?')})")) from None
    if not (isinstance(data, dict) and isinstance(data.get("run"), dict) and isinstance(data.get("summary"), dict)
            and isinstance(data.get("cases"), list)):
        raise ValueError(f"{file}: not an eval results file (it needs 'run', 'summary' and 'cases')")
    if data.get("schema", 1) != 1:
        raise ValueError(_one_line(f"{file}: results schema {data.get('schema')!r} is not supported (1 is)"))
    return data


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- formatting ------------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    """Escaped text; None and NaN print as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return escape(str(value), quote=True)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def format_value(metric: Metric, value: Any) -> str:
    """A metric's value as the report prints it ("83.3%", "0.833", "12", "3.2 s", "$0.0012")."""
    v = _number(value)
    if v is None:
        return DASH
    if metric.unit == "share":
        return f"{v * 100:.1f}%"
    if metric.unit == "score":
        return f"{v:.3f}"
    if metric.unit == "seconds":
        return f"{v:.2f} s"
    if metric.unit == "usd":
        return f"${v:.4f}"
    return f"{int(v):,}"


def _delta(metric: Metric, value: Any, base: Any) -> tuple[str, str]:
    """The change from the baseline as text, and its class: "better", "worse" or "same"."""
    v, b = _number(value), _number(base)
    if v is None or b is None:
        return "", "same"
    d = v - b
    if abs(d) < 1e-9:
        return "±0", "same"
    sign = "+" if d > 0 else "−"
    text = {"share": f"{abs(d) * 100:.1f} pp", "score": f"{abs(d):.3f}", "seconds": f"{abs(d):.2f} s",
            "usd": f"${abs(d):.4f}"}.get(metric.unit, f"{round(abs(d)):,}")
    if metric.higher_is_better is None:
        return sign + text, "same"
    return sign + text, "better" if (d > 0) == metric.higher_is_better else "worse"


# --- charts ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Bar:
    label: str
    value: float | None  # 0..scale
    text: str
    base: float | None = None
    delta: str = ""
    trend: str = "same"


def _bars(rows: Sequence[_Bar], *, scale: float = 1.0, title: str) -> str:
    """Horizontal bars, one a row, the value printed after each; a baseline value as a tick with its delta."""
    width = _LABEL_W + _BAR_W + _VALUE_W
    height = _ROW_H * len(rows) + 6
    parts = [f'<svg class="bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(title)}">']
    for i, row in enumerate(rows):
        y = 4 + i * _ROW_H
        parts.append(f'<text class="label" x="{_LABEL_W - 8}" y="{y + 15}" text-anchor="end">{_e(row.label)}</text>')
        parts.append(f'<rect class="track" x="{_LABEL_W}" y="{y + 3}" width="{_BAR_W}" height="16" rx="3"/>')
        if row.value is not None:
            w = _BAR_W * max(0.0, min(1.0, row.value / scale))
            parts.append(f'<rect class="bar" x="{_LABEL_W}" y="{y + 3}" width="{w:.1f}" height="16" rx="3"/>')
        if row.base is not None:
            x = _LABEL_W + _BAR_W * max(0.0, min(1.0, row.base / scale))
            parts.append(f'<line class="base" x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 22}">'
                         f'<title>baseline</title></line>')
        parts.append(f'<text class="value" x="{_LABEL_W + _BAR_W + 8}" y="{y + 15}">{_e(row.text)}'
                     + (f' <tspan class="{row.trend}">{_e(row.delta)}</tspan>' if row.delta else "") + "</text>")
    parts.append("</svg>")
    return "".join(parts)


def latency_bins(latencies: Sequence[float], *, bins: int | None = None) -> list[tuple[float, float, int]]:
    """Equal-width bins over the latencies, as (from, to, count); about √n bins, at most 20."""
    if not latencies:
        return []
    count = bins or max(1, min(_BINS_MAX, math.ceil(math.sqrt(len(latencies)))))
    low, high = min(latencies), max(latencies)
    width = (high - low) / count
    if width <= 0:
        return [(low, high, len(latencies))]
    counts = [0] * count
    for v in latencies:
        counts[min(count - 1, int((v - low) / width))] += 1
    return [(low + i * width, low + (i + 1) * width, n) for i, n in enumerate(counts)]


def _histogram(latencies: Sequence[float], marks: dict[str, float | None]) -> str:
    """An SVG histogram of case latencies: one bar a bin that holds cases, the marks (median, p90) as lines."""
    bins = latency_bins(latencies)
    if not bins:
        return f'<p class="muted">{DASH} no case finished without an error, so there are no latencies.</p>'
    w, h, left, bottom, top = 720, 236, 44, 30, 38
    low, high = bins[0][0], bins[-1][1]
    span = (high - low) or 1.0
    tallest = max(n for _, _, n in bins)
    plot_w, plot_h = w - left - 16, h - bottom - top

    def x_at(v: float) -> float:
        return left + plot_w * (v - low) / span if high > low else left + plot_w / 2

    parts = [f'<svg class="hist" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
             f'aria-label="latency per case">',
             f'<line class="axis" x1="{left}" x2="{w - 16}" y1="{h - bottom}" y2="{h - bottom}"/>']
    bar_w = plot_w / len(bins)
    for i, (a, b, n) in enumerate(bins):
        if not n:
            continue
        bh = plot_h * n / tallest
        x = left + i * bar_w
        parts.append(f'<rect class="hist-bar" data-count="{n}" x="{x + 1:.1f}" y="{h - bottom - bh:.1f}" '
                     f'width="{max(1.0, bar_w - 2):.1f}" height="{bh:.1f}"><title>{n} case(s), {a:.2f}–{b:.2f} s'
                     f'</title></rect>')
        parts.append(f'<text class="count" x="{x + bar_w / 2:.1f}" y="{h - bottom - bh - 4:.1f}" '
                     f'text-anchor="middle">{n}</text>')
    ticks = [(low, "start"), (high, "end")] if high > low else [(low, "middle")]
    for v, anchor in ticks:
        parts.append(f'<text class="tick" x="{x_at(v):.1f}" y="{h - 10}" text-anchor="{anchor}">{v:.2f} s</text>')
    for i, (name, value) in enumerate((k, v) for k, v in marks.items() if v is not None):
        x = x_at(min(max(value, low), high))
        y = 12 + 14 * i  # one label row a mark, so that close marks stay readable
        parts.append(f'<line class="mark" x1="{x:.1f}" x2="{x:.1f}" y1="{y - 10}" y2="{h - bottom}"/>'
                     f'<text class="mark-label" x="{x + 3:.1f}" y="{y}">{_e(name)} {value:.2f} s</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- sections --------------------------------------------------------------------------------------------------
def _header(run: dict[str, Any], summary: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    rows = [("Model", run.get("model")), ("Judge", run.get("judge") or "none"),
            ("Datasets", ", ".join(str(d) for d in run.get("datasets") or []) or None),
            ("Filter", run.get("filter")), ("Started", run.get("started")), ("Finished", run.get("finished")),
            ("Cases", f"{summary.get('cases', DASH)} run of {run.get('cases_total', DASH)}"),
            ("Pass rate", format_value(_BY_KEY["pass_rate"], summary.get("pass_rate"))),
            ("Repeat × concurrency", f"{run.get('repeat', 1)} × {run.get('concurrency', 1)}")]
    if baseline is not None:
        b = baseline.get("run") or {}
        rows.append(("Compared with", f"{b.get('id', DASH)} — {b.get('model', DASH)}"))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    title = f'<h1>Eval run <span class="run-id">{_e(run.get("id"))}</span></h1>'
    return f'<header>{title}<dl class="meta">{items}</dl></header>'


def _metric_bars(summary: dict[str, Any], base: dict[str, Any] | None) -> str:
    """The 0..1 metrics as bars, then the counts, seconds and cost as a table, each with its baseline delta."""
    bars, figures = [], []
    for m in METRICS:
        if m.key not in summary and (base is None or m.key not in base):
            continue
        value, before = summary.get(m.key), (base or {}).get(m.key)
        delta, trend = _delta(m, value, before) if base is not None else ("", "same")
        if m.bar:
            bars.append(_Bar(m.label, _number(value), format_value(m, value), _number(before), delta, trend))
        else:
            notes = ["lower is better"] if m.higher_is_better is False else []
            notes += [f"baseline {format_value(m, before)}"] if base is not None else []
            note = "; ".join(notes)
            figures.append(f'<tr data-metric="{m.key}"><th>{_e(m.label)}</th><td class="num">'
                           f'{_e(format_value(m, value))}</td><td class="{trend}">{_e(delta)}</td>'
                           f'<td class="muted">{_e(note)}</td></tr>')
    legend = ('<p class="muted">The tick on a bar marks the baseline; the change is green when better, red when '
              "worse.</p>") if base is not None else ""
    return ("<section><h2>Metrics</h2>" + legend + _bars(bars, title="metrics")
            + f'<table class="figures">{"".join(figures)}</table></section>')


def _by_kind(summary: dict[str, Any], base: dict[str, Any] | None) -> str:
    kinds: dict[str, dict[str, Any]] = summary.get("by_kind") or {}
    if not kinds:
        return ""
    measured = [m for m in METRICS if m.key in _KIND_FIGURES or (
        m.bar and m.key != "pass_rate" and any(_number(k.get(m.key)) is not None for k in kinds.values()))]
    head = "".join(f"<th>{_e(m.label)}</th>" for m in measured)
    rows = []
    for kind, k in kinds.items():
        cells = "".join(f'<td class="num">{_e(format_value(m, k.get(m.key)))}</td>' for m in measured)
        rows.append(f'<tr data-kind="{_e(kind)}"><th>{_e(kind)}</th><td class="num">{_e(k.get("cases"))}</td>'
                    f'<td class="num">{_e(k.get("passed"))}</td><td class="num">'
                    f'{_e(format_value(_BY_KEY["pass_rate"], k.get("pass_rate")))}</td>'
                    f'<td class="num">{_e(k.get("errors"))}</td>{cells}</tr>')
    before = (base or {}).get("by_kind") or {}
    bars = []
    for kind, k in kinds.items():
        b = before.get(kind, {}).get("pass_rate") if base is not None else None
        delta, trend = _delta(_BY_KEY["pass_rate"], k.get("pass_rate"), b) if base is not None else ("", "same")
        bars.append(_Bar(kind, _number(k.get("pass_rate")), format_value(_BY_KEY["pass_rate"], k.get("pass_rate")),
                         _number(b), delta, trend))
    return ("<section><h2>By kind</h2>" + _bars(bars, title="pass rate per kind")
            + '<div class="wide"><table class="kinds"><thead><tr><th>kind</th><th>cases</th><th>passed</th>'
            f"<th>pass rate</th><th>errors</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            "</section>")


def _latencies(cases: Iterable[dict[str, Any]]) -> list[float]:
    """Per-case latencies, as the summary counts them: cases that ended in an error are left out."""
    found = []
    for case in cases:
        metrics = case.get("metrics") or {}
        value = _number(metrics.get("latency_s"))
        if value is not None and not metrics.get("error"):
            found.append(value)
    return found


def _latency(summary: dict[str, Any], cases: Sequence[dict[str, Any]]) -> str:
    values = sorted(_latencies(cases))
    median = _number(summary.get("latency_median_s"))
    p90 = _number(summary.get("latency_p90_s"))
    if values and median is None:
        median = statistics.median(values)
    if values and p90 is None:
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    return (f"<section><h2>Latency per case</h2><p class=\"muted\">{len(values)} case(s); median "
            f"{_e(format_value(_BY_KEY['latency_median_s'], median))}, p90 "
            f"{_e(format_value(_BY_KEY['latency_p90_s'], p90))}.</p>"
            + _histogram(values, {"median": median, "p90": p90}) + "</section>")


def _judge(summary: dict[str, Any], base: dict[str, Any] | None) -> str:
    judge = summary.get("judge")
    if not isinstance(judge, dict):
        return ""
    before = (base or {}).get("judge") or {}
    bars = []
    for key, label in (("faithfulness", "Faithfulness"), ("helpfulness", "Helpfulness")):
        value = _number(judge.get(key))
        b = _number(before.get(key)) if base is not None else None
        metric = Metric(key, label, "score")
        delta, trend = _delta(metric, value, b) if base is not None else ("", "same")
        bars.append(_Bar(label, value, DASH if value is None else f"{value:.2f} / 5", b, delta, trend))
    return (f'<section><h2>Judge scores</h2><p class="muted">1 to 5; {_e(judge.get("judged", 0))} judged, '
            f'{_e(judge.get("undetermined", 0))} undetermined.</p>' + _bars(bars, scale=5.0, title="judge scores")
            + "</section>")


# --- what changed ----------------------------------------------------------------------------------------------
def _key(case: dict[str, Any]) -> tuple[str, int]:
    return str(case.get("id")), int(case.get("repeat") or 0)


def _regressed(before: dict[str, Any], now: dict[str, Any]) -> bool:
    """Passed before and fails now, or its recommendation moved away from an acceptable one."""
    if before.get("passed") and not now.get("passed"):
        return True
    b, n = before.get("metrics") or {}, now.get("metrics") or {}
    return bool(b.get("recommendation_ok")) and n.get("recommendation_ok") is False \
        and n.get("recommendation") != b.get("recommendation")


def compare_cases(cases: Sequence[dict[str, Any]], baseline: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Cases matched by (id, repeat): regressed and improved as (before, now) pairs, new and missing cases."""
    old = {_key(c): c for c in baseline}
    new = {_key(c): c for c in cases}
    both = [k for k in new if k in old]
    return {
        "regressed": [(old[k], new[k]) for k in both if _regressed(old[k], new[k])],
        "improved": [(old[k], new[k]) for k in both if not old[k].get("passed") and new[k].get("passed")],
        "new": [new[k] for k in new if k not in old],
        "missing": [old[k] for k in old if k not in new],
    }


def _failures(case: dict[str, Any] | None) -> str:
    items = (case or {}).get("failures") or []
    return "<ul>" + "".join(f"<li>{_e(f)}</li>" for f in items) + "</ul>" if items else DASH


def _rec(case: dict[str, Any] | None) -> str:
    return _e(((case or {}).get("metrics") or {}).get("recommendation"))


def _changes(cases: Sequence[dict[str, Any]], baseline: dict[str, Any]) -> str:
    found = compare_cases(cases, baseline.get("cases") or [])
    blocks = []
    for name, title in (("regressed", "Regressed"), ("improved", "Improved")):
        rows = "".join(f'<tr class="{name}" data-case="{_e(now.get("id"))}"><td>{_e(now.get("id"))}</td>'
                       f'<td>{_e(now.get("repeat", 0))}</td><td>{_rec(before)} → {_rec(now)}</td>'
                       f"<td>{_failures(before)}</td><td>{_failures(now)}</td></tr>" for before, now in found[name])
        blocks.append(f'<h3 class="{name}">{title} ({len(found[name])})</h3>' + (
            f'<table class="changes"><thead><tr><th>case</th><th>repeat</th><th>recommendation</th>'
            f"<th>failures before</th><th>failures now</th></tr></thead><tbody>{rows}</tbody></table>"
            if rows else '<p class="muted">none</p>'))
    for name, title in (("new", "New cases"), ("missing", "Missing cases (in the baseline only)")):
        rows = "".join(f'<tr class="{name}" data-case="{_e(c.get("id"))}"><td>{_e(c.get("id"))}</td>'
                       f'<td>{_e(c.get("repeat", 0))}</td><td>{"passed" if c.get("passed") else "failed"}</td>'
                       f"<td>{_failures(c)}</td></tr>" for c in found[name])
        blocks.append(f'<h3>{title} ({len(found[name])})</h3>' + (
            f'<table class="changes"><thead><tr><th>case</th><th>repeat</th><th>result</th><th>failures</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>" if rows else '<p class="muted">none</p>'))
    run = baseline.get("run") or {}
    return f'<section id="changes"><h2>What changed since {_e(run.get("id"))}</h2>{"".join(blocks)}</section>'


# --- cases -----------------------------------------------------------------------------------------------------
def _answer(case: dict[str, Any]) -> str:
    """The case's messages and its last answer (or the error), escaped, in a <details>."""
    turns = case.get("turns") or []
    last = turns[-1] if turns else {}
    answer = (last.get("answer") or {}).get("answer") if isinstance(last.get("answer"), dict) else None
    said = "".join(f'<p class="msg"><strong>User:</strong> {_e(m)}</p>' for m in case.get("messages") or [])
    body = f'<pre class="answer">{_e(answer)}</pre>' if answer is not None else \
        f'<p class="error">{_e(last.get("error") or "no answer")}</p>'
    judge = case.get("judge")
    verdict = (f'<p class="muted">Judge: faithfulness {_e(judge.get("faithfulness"))}, helpfulness '
               f'{_e(judge.get("helpfulness"))}. {_e(judge.get("reason"))}</p>') if isinstance(judge, dict) else ""
    return f"<details><summary>answer</summary>{said}{body}{verdict}</details>"


def _cases(cases: Sequence[dict[str, Any]]) -> str:
    rows = []
    for case in cases:
        metrics = case.get("metrics") or {}
        passed = bool(case.get("passed"))
        rows.append(f'<tr class="{"pass" if passed else "fail"}" data-case="{_e(case.get("id"))}">'
                    f'<td>{_e(case.get("id"))}{_repeat(case)}</td><td>{_e(case.get("kind"))}</td>'
                    f'<td>{"✓ passed" if passed else "✗ failed"}</td><td>{_e(metrics.get("recommendation"))}</td>'
                    f'<td class="num">{_e(format_value(_BY_KEY["latency_median_s"], metrics.get("latency_s")))}</td>'
                    f"<td>{_failures(case)}</td><td>{_answer(case)}</td></tr>")
    return (f'<section><h2>Cases ({len(cases)})</h2><div class="wide"><table class="cases"><thead><tr><th>case</th>'
            "<th>kind</th><th>result</th><th>recommendation</th><th>latency</th><th>failures</th><th>answer</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>")


def _repeat(case: dict[str, Any]) -> str:
    return f' <span class="muted">#{_e(case.get("repeat"))}</span>' if case.get("repeat") else ""


_CSS = """
:root { color-scheme: light dark; --fg: #1f2937; --muted: #6b7280; --bg: #ffffff; --panel: #f8fafc;
  --line: #e5e7eb; --bar: #3b82f6; --track: #e5e7eb; --base: #111827; --good: #15803d; --bad: #b91c1c; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e5e7eb; --muted: #9ca3af; --bg: #0f172a; --panel: #1e293b; --line: #334155; --bar: #60a5fa;
    --track: #334155; --base: #f9fafb; --good: #4ade80; --bad: #f87171; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg);
  margin: 0 auto; padding: 16px 24px; max-width: 1200px; }
h1 { font-size: 1.4em; margin: 0 0 8px; } h2 { font-size: 1.15em; margin: 24px 0 8px; } h3 { font-size: 1em; }
section { border-top: 1px solid var(--line); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border-bottom: 1px solid var(--line);
  padding: 4px 8px; text-align: left; vertical-align: top; }
thead th { background: var(--panel); } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.wide { overflow-x: auto; } .muted { color: var(--muted); }
.better, tspan.better { color: var(--good); fill: var(--good); font-weight: 600; }
.worse, tspan.worse { color: var(--bad); fill: var(--bad); font-weight: 600; }
h3.regressed { color: var(--bad); } h3.improved { color: var(--good); }
tr.fail td:nth-child(3) { color: var(--bad); } tr.pass td:nth-child(3) { color: var(--good); }
td ul { margin: 0; padding-left: 1.1em; }
pre.answer { white-space: pre-wrap; max-width: 70ch; background: var(--panel); padding: 8px; border-radius: 6px; }
p.error { color: var(--bad); }
svg text { fill: var(--fg); font-size: 12px; } svg .bar, svg .hist-bar { fill: var(--bar); }
svg .track { fill: var(--track); } svg .base { stroke: var(--base); stroke-width: 2; }
svg .axis { stroke: var(--muted); } svg .mark { stroke: var(--bad); stroke-dasharray: 4 3; stroke-width: 1.5; }
svg .tick, svg .count { fill: var(--muted); font-size: 11px; }
"""


def render_report(results: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """One self-contained HTML document for a run's results (inline CSS and SVG, no script, no outside URL); with
    a baseline run, each metric's change and the cases that regressed, improved, appeared or went missing."""
    run = results.get("run") or {}
    summary = results.get("summary") or {}
    cases = results.get("cases") or []
    base_summary = (baseline.get("summary") or {}) if baseline is not None else None
    body = [_header(run, summary, baseline), _metric_bars(summary, base_summary), _by_kind(summary, base_summary),
            _latency(summary, cases), _judge(summary, base_summary),
            _changes(cases, baseline) if baseline is not None else "", _cases(cases)]
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="color-scheme" content="light dark">'
            f"<title>Eval run {_e(run.get('id'))}</title><style>{_CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>")
