"""The Evals tab: the eval runs kept on disk (a folder with a results.json under evals/runs/ or evals/reports/),
newest first, each shown as its HTML report, optionally compared with another run."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from advisor.config import REPO_ROOT
from advisor.eval_report import METRICS, RESULTS_FILE, format_value, load_results, render_report

__all__ = ["NONE", "NO_RUNS", "EvalsTab", "RunEntry", "build_evals", "default_runs_dirs", "find_runs",
           "report_frame"]

NONE = "none"  # the "Compare with" choice that compares with nothing
NO_RUNS = "No eval runs yet: `advisor eval` (or `make eval`) makes one, and its folder appears here."
_PASS_RATE = next(m for m in METRICS if m.key == "pass_rate")


def default_runs_dirs() -> list[Path]:
    """Where eval runs are kept: evals/runs/ and evals/reports/ in the repository."""
    return [REPO_ROOT / "evals" / "runs", REPO_ROOT / "evals" / "reports"]


@dataclass(frozen=True)
class RunEntry:
    """One run folder, as the dropdowns list it."""

    folder: Path
    run_id: str
    model: str
    pass_rate: float | None
    started: str

    @property
    def label(self) -> str:
        """"<run id> — <model> — <pass rate>"."""
        return f"{self.run_id} — {self.model} — {format_value(_PASS_RATE, self.pass_rate)}"


def find_runs(runs_dirs: list[Path]) -> tuple[list[RunEntry], list[str]]:
    """The run folders holding a results.json, newest first, and a one-line error for each that cannot be read."""
    entries, errors = [], []
    for folder in (f for d in runs_dirs if d.is_dir() for f in sorted(d.iterdir())):
        if not (folder / RESULTS_FILE).is_file():
            continue
        try:
            results = load_results(folder)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        run, summary = results["run"], results["summary"]
        entries.append(RunEntry(folder, str(run.get("id") or folder.name), str(run.get("model") or "?"),
                                summary.get("pass_rate"), str(run.get("started") or "")))
    entries.sort(key=lambda e: (e.started, e.run_id), reverse=True)
    return entries, errors


def report_frame(report: str) -> str:
    """The report in a sandboxed iframe (no script, no same origin), so its styles and text stay inside it."""
    return (f'<iframe class="eval-report" title="eval report" sandbox="" srcdoc="{escape(report, quote=True)}" '
            'style="width: 100%; height: 900px; border: 0;"></iframe>')


@dataclass
class EvalsTab:
    """The run and comparison dropdowns, the refresh button, a notice line and the report."""

    runs_dirs: list[Path]
    run: gr.Dropdown
    compare: gr.Dropdown
    refresh_button: gr.Button
    notice: gr.Markdown
    report: gr.HTML

    def outputs(self) -> list[Any]:
        """What refresh() fills in, in its order."""
        return [self.run, self.compare, self.notice, self.report]

    def refresh(self, run: str | None, compare: str | None) -> tuple[Any, Any, str, str]:
        """List the runs again (the chosen ones kept while they are still there, else the newest) and show the
        report; a broken results.json is a one-line error and the other runs are still listed."""
        entries, errors = find_runs(self.runs_dirs)
        choices = [(e.label, str(e.folder)) for e in entries]
        known = {value for _, value in choices}
        run = run if run in known else (choices[0][1] if choices else None)
        compare = compare if compare in known else NONE
        notice, report = self.show(run, compare)
        lines = [*(f"⚠️ {e}" for e in errors), *([notice] if notice else [])]
        return (gr.Dropdown(choices=choices, value=run), gr.Dropdown(choices=[(NONE, NONE), *choices], value=compare),
                "  \n".join(lines), report)

    def show(self, run: str | None, compare: str | None) -> tuple[str, str]:
        """The notice and the report of one run, against the comparison run unless that is "none"."""
        if not run:
            return NO_RUNS, ""
        try:
            results = load_results(self._folder(run))
            baseline = load_results(self._folder(compare)) if compare and compare != NONE else None
        except ValueError as exc:
            return f"⚠️ {exc}", ""
        return "", report_frame(render_report(results, baseline))

    def _folder(self, value: str) -> Path:
        """A chosen run's folder, which must be one of the runs folders' own (the value comes from the browser)."""
        folder = Path(value).resolve()
        if not any(folder.parent == d.resolve() for d in self.runs_dirs):
            raise ValueError(f"{value}: not a run folder under {', '.join(str(d) for d in self.runs_dirs)}")
        return folder


def build_evals(runs_dirs: list[Path] | None = None) -> EvalsTab:
    """Lay out the Evals tab (inside an open gr.Tab) over these folders of runs (default: default_runs_dirs());
    choosing a run or a comparison redraws the report."""
    dirs = list(runs_dirs) if runs_dirs is not None else default_runs_dirs()
    with gr.Row():
        run = gr.Dropdown([], value=None, label="Run", elem_id="evals-run", scale=3)
        compare = gr.Dropdown([(NONE, NONE)], value=NONE, label="Compare with", elem_id="evals-compare", scale=3)
        refresh = gr.Button("Refresh", elem_id="evals-refresh", scale=1)
    notice = gr.Markdown(elem_id="evals-notice")
    report = gr.HTML(elem_id="evals-report")
    tab = EvalsTab(dirs, run, compare, refresh, notice, report)
    refresh.click(tab.refresh, [run, compare], tab.outputs(), concurrency_limit=None)
    for choice in (run, compare):
        # `input`, not `change`: refresh() setting the dropdowns must not draw the report a second time
        choice.input(tab.show, [run, compare], [notice, report], concurrency_limit=None)
    return tab
