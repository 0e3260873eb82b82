"""What an eval run leaves in its folder (results.json, summary.md, junit.xml, report.html), and the regression
gate that compares a run with a baseline and with its datasets' thresholds.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "LOWER_IS_BETTER",
    "SCHEMA",
    "gate",
    "junit_xml",
    "new_run_dir",
    "results_document",
    "summary_markdown",
    "write_outputs",
]

SCHEMA = 1
# The gated metrics: overall shares (higher is better) and counts (lower is better). Latency and cost are
# reported, not gated: on a shared machine they move with the load, not with the advisor.
HIGHER_IS_BETTER = ("pass_rate", "recommendation_accuracy", "profile_accuracy", "hit_at_k", "mrr", "coverage",
                    "citation_validity", "refusal_rate", "redirect_rate", "paraphrase_agreement", "flip_accuracy")
LOWER_IS_BETTER = ("errors", "numbers_unsupported", "profile_invented", "verdict_changed_share")
# The per-case metric behind each overall one, so that a gate message can name the cases that moved it.
_CASE_METRIC = {"pass_rate": "passed", "recommendation_accuracy": "recommendation_ok", "hit_at_k": "hit",
                "refusal_rate": "refused", "redirect_rate": "redirected", "paraphrase_agreement": "paraphrases_agree",
                "flip_accuracy": "flip_ok", "mrr": "reciprocal_rank", "coverage": "coverage",
                "profile_accuracy": "profile_right"}
_LABELS = {"pass_rate": "cases passed", "recommendation_accuracy": "recommendation accuracy",
           "profile_accuracy": "profile fields right",
           "profile_invented": "profile fields invented", "hit_at_k": "retrieval hit@k", "mrr": "retrieval MRR",
           "coverage": "fact coverage", "citation_validity": "citation validity",
           "numbers_unsupported": "unsupported numbers", "refusal_rate": "injection/off-topic refused",
           "redirect_rate": "off-topic redirected", "paraphrase_agreement": "paraphrase agreement",
           "flip_accuracy": "flip correctness", "errors": "errors",
           "verdict_changed_share": "verdict changed on repeat",
           "latency_median_s": "latency median (s)", "latency_p90_s": "latency p90 (s)", "tokens": "tokens",
           "cost_usd": "cost (USD)"}


def new_run_dir(base: Path, now: dt.datetime | None = None) -> Path:
    """A fresh folder under base named by the time (a suffix when two runs start in the same second)."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = base / (stamp if n == 0 else f"{stamp}-{n}")
        if not path.exists():
            return path
    raise RuntimeError(f"too many runs named {stamp} in {base}")


def results_document(run: dict[str, Any], summary: dict[str, Any], cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The results.json content: the run's settings, the summary, every finished case."""
    return {"schema": SCHEMA, "run": run, "summary": summary, "cases": list(cases)}


# --- the gate ---------------------------------------------------------------------------------------------------
def _case_value(case: dict[str, Any], metric: str) -> float | None:
    m = case.get("metrics") or {}
    if metric == "citation_validity":
        return 1 - len(m["citations_unsupported"]) / m["citations"] if m.get("citations") else None
    if metric == "numbers_unsupported":
        return float(len(m.get("numbers_unsupported", [])))
    if metric == "errors":
        return float(bool(m.get("error")))
    if metric == "profile_invented":
        return float(len(m.get("profile_invented", [])))
    key = _CASE_METRIC.get(metric)
    if key is None:
        return None
    value = case.get("passed") if key == "passed" else m.get(key)
    return None if value is None else float(value)


def _worse_cases(metric: str, cases: Sequence[dict[str, Any]], baseline: Sequence[dict[str, Any]] | None) -> list[str]:
    """The cases that pull a metric down: worse than in the baseline (matched by id and repeat), or, without a
    baseline, those that fail the metric outright."""
    lower = metric in LOWER_IS_BETTER
    before = {(c["id"], c.get("repeat", 0)): _case_value(c, metric) for c in baseline or ()}
    found = []
    for case in cases:
        value = _case_value(case, metric)
        if value is None:
            continue
        if baseline is not None:
            old = before.get((case["id"], case.get("repeat", 0)))
            worse = old is not None and (value > old if lower else value < old)
        else:
            worse = value > 0 if lower else value < 1
        if worse:
            found.append(case["id"])
    return sorted(set(found))


def _named(ids: list[str], limit: int = 8) -> str:
    if not ids:
        return ""
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f" (cases: {', '.join(ids[:limit])}{more})"


def gate(results: dict[str, Any], *, baseline: dict[str, Any] | None = None,
         thresholds: dict[str, float] | None = None, tolerance: float = 0.02) -> list[str]:
    """Every way the run falls short, one line each naming the metric and the cases: a share more than
    `tolerance` below the baseline's, a count up by more than `tolerance` per case, or an overall metric past a
    dataset threshold (a minimum for shares, a maximum for counts). An empty list: the gate passes."""
    summary, cases = results["summary"], results["cases"]
    problems: list[str] = []
    base_cases = baseline["cases"] if baseline is not None else None
    for metric, limit in sorted((thresholds or {}).items()):
        value = summary.get(metric)
        if value is None:
            continue
        lower = metric in LOWER_IS_BETTER or metric.startswith("latency") or metric in ("tokens", "cost_usd")
        if (value > limit) if lower else (value < limit):
            relation = "above the dataset's maximum" if lower else "below the dataset's minimum"
            problems.append(f"{_LABELS.get(metric, metric)} {value:g} is {relation} {limit:g}"
                            f"{_named(_worse_cases(metric, cases, None))}")
    if baseline is not None:
        before = baseline["summary"]
        count = max(1, int(summary.get("cases") or 0))
        for metric in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER):
            new, old = summary.get(metric), before.get(metric)
            if new is None or old is None:
                continue
            if metric in LOWER_IS_BETTER and metric != "verdict_changed_share":
                fell = new - old > tolerance * count
            elif metric in LOWER_IS_BETTER:
                fell = new - old > tolerance
            else:
                fell = old - new > tolerance
            if fell:
                moved = "rose" if metric in LOWER_IS_BETTER else "fell"
                problems.append(f"{_LABELS.get(metric, metric)} {moved} from {old:g} to {new:g} against the baseline"
                                f"{_named(_worse_cases(metric, cases, base_cases))}")
    return problems


# --- the files --------------------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) or abs(value) < 1e6 else f"{value:g}"
    return str(value)


_TABLE_METRICS = ("cases", "passed", "pass_rate", "errors", "recommendation_accuracy", "profile_accuracy",
                  "profile_invented",
                  "hit_at_k", "mrr", "coverage", "citation_validity", "numbers_unsupported", "refusal_rate",
                  "redirect_rate", "paraphrase_agreement", "flip_accuracy", "verdict_changed_share",
                  "latency_median_s", "latency_p90_s", "tokens", "cost_usd")


def summary_markdown(results: dict[str, Any], gate_problems: Sequence[str] | None = None) -> str:
    """summary.md: the run, the overall metrics, the per-kind table, the failed cases and the gate."""
    run, summary, cases = results["run"], results["summary"], results["cases"]
    lines = [f"# Eval run {run.get('id', '')}", "",
             f"Model `{run.get('model')}`" + (f", judge `{run['judge']}`" if run.get("judge") else "") +
             f"; datasets {', '.join(run.get('datasets') or [])}; {summary.get('cases', 0)} case runs "
             f"({run.get('repeat', 1)} repeat(s), concurrency {run.get('concurrency', 1)}); "
             f"{run.get('started', '')} to {run.get('finished', '')}.", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {_LABELS.get(k, k)} | {_fmt(summary.get(k))} |" for k in _TABLE_METRICS if k in summary]
    judge = summary.get("judge")
    if judge:
        lines += [f"| judge faithfulness (1–5) | {_fmt(judge.get('faithfulness'))} |",
                  f"| judge helpfulness (1–5) | {_fmt(judge.get('helpfulness'))} |",
                  f"| judge undetermined | {judge.get('undetermined', 0)} |"]
    kinds = summary.get("by_kind") or {}
    if kinds:
        cols = ("cases", "passed", "pass_rate", "recommendation_accuracy", "coverage", "hit_at_k",
                "citation_validity", "refusal_rate", "latency_median_s")
        lines += ["", "## By kind", "", "| kind | " + " | ".join(_LABELS.get(c, c) for c in cols) + " |",
                  "|---" * (len(cols) + 1) + "|"]
        lines += [f"| {kind} | " + " | ".join(_fmt(row.get(c)) for c in cols) + " |" for kind, row in kinds.items()]
    failed = [c for c in cases if not c.get("passed")]
    lines += ["", f"## Failed cases ({len(failed)})", ""]
    lines += [f"- `{c['id']}`" + (f" (repeat {c['repeat']})" if c.get("repeat") else "") +
              f" [{c['kind']}]: {'; '.join(c.get('failures') or [])}" for c in failed] or ["Every case passed."]
    if gate_problems is not None:
        lines += ["", "## Regression gate", ""]
        lines += [f"- FAIL: {p}" for p in gate_problems] or ["Passed."]
    return "\n".join(lines) + "\n"


def junit_xml(results: dict[str, Any]) -> str:
    """junit.xml: one test case per eval case (and repeat), failures and errors as CI systems read them."""
    cases = results["cases"]
    errors = sum(1 for c in cases if (c.get("metrics") or {}).get("error"))
    failures = sum(1 for c in cases if not c.get("passed") and not (c.get("metrics") or {}).get("error"))
    total_s = sum(float((c.get("metrics") or {}).get("latency_s") or 0) for c in cases)
    suites = ET.Element("testsuites", name="advisor-evals", tests=str(len(cases)), failures=str(failures),
                        errors=str(errors), time=f"{total_s:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=f"advisor-evals {results['run'].get('id', '')}".strip(),
                          tests=str(len(cases)), failures=str(failures), errors=str(errors), time=f"{total_s:.3f}")
    for case in cases:
        m = case.get("metrics") or {}
        name = case["id"] + (f"#{case['repeat']}" if case.get("repeat") else "")
        element = ET.SubElement(suite, "testcase", classname=f"evals.{case['kind']}", name=name,
                                time=f"{float(m.get('latency_s') or 0):.3f}")
        if m.get("error"):
            ET.SubElement(element, "error", message=str(m["error"])[:500]).text = str(m["error"])
        elif not case.get("passed"):
            text = "; ".join(case.get("failures") or [])
            ET.SubElement(element, "failure", message=text[:500]).text = text
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _write(path: Path, text: str) -> None:
    """Write atomically, so that a reader (the web page's Evals tab) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(out: Path, results: dict[str, Any], *, baseline: dict[str, Any] | None = None,
                  gate_problems: Sequence[str] | None = None) -> list[Path]:
    """results.json, summary.md, junit.xml and report.html in out; returns their paths."""
    from advisor.eval_report import render_report

    out.mkdir(parents=True, exist_ok=True)
    files = {"results.json": json.dumps(results, ensure_ascii=False, indent=1) + "\n",
             "summary.md": summary_markdown(results, gate_problems),
             "junit.xml": junit_xml(results),
             "report.html": render_report(results, baseline)}
    for name, text in files.items():
        _write(out / name, text)
    return [out / name for name in files]
