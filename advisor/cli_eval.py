"""`advisor eval`: run answer-quality datasets through the Advisor, write the run's files, gate regressions; and
`advisor eval export-feedback`: thumbs-down turns as draft cases."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.cli_base import EXIT_ERROR, EXIT_OK, CliError, load_settings, positive_int

if TYPE_CHECKING:
    from advisor.eval_cases import Dataset, EvalCase

__all__ = ["EXPORT_COMMAND", "add_eval_parser", "cmd_eval", "cmd_export_feedback"]

EXPORT_COMMAND = "eval-export-feedback"  # `advisor eval export-feedback` is routed here by cli.main
RUN_FILE = "run.json"  # the run's settings, written when it starts: what --resume continues
TURNS_FILE = "turns.sqlite3"  # every turn of the run, as the Advisor stored it


def _runs_dir() -> Path:
    from advisor.config import REPO_ROOT

    return REPO_ROOT / "evals" / "runs"


def _datasets(paths: list[str]) -> list[Dataset]:
    from advisor.config import REPO_ROOT
    from advisor.eval_cases import load_dataset

    chosen = [Path(p) for p in paths] or [REPO_ROOT / "evals" / "advisor.yaml"]
    try:
        return [load_dataset(p) for p in chosen]
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _cases(datasets: list[Dataset], pattern: str | None) -> list[EvalCase]:
    from advisor.eval_cases import filter_cases

    cases = [c for d in datasets for c in filter_cases(d.cases, pattern)]
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CliError(f"case ids repeated across datasets: {', '.join(dupes)}")
    if not cases:
        raise CliError(f"no case matches --filter {pattern!r}" if pattern else "the datasets have no cases")
    return cases


def _thresholds(datasets: list[Dataset]) -> dict[str, float]:
    """Every dataset's thresholds; where two set the same metric, the stricter one."""
    from advisor.eval_output import LOWER_IS_BETTER

    merged: dict[str, float] = {}
    for d in datasets:
        for metric, value in d.thresholds.items():
            old = merged.get(metric)
            lower = metric in LOWER_IS_BETTER or metric.startswith("latency")
            merged[metric] = value if old is None else (min(old, value) if lower else max(old, value))
    return merged


def _out_dir(args: argparse.Namespace) -> Path:
    from advisor.eval_output import new_run_dir

    if args.out:
        return Path(args.out)
    if args.resume:
        runs = sorted((p for p in _runs_dir().glob("*") if (p / RUN_FILE).exists()), key=lambda p: p.name)
        if not runs:
            raise CliError(f"--resume: no run to resume in {_runs_dir()}; give --out DIR")
        return runs[-1]
    return new_run_dir(_runs_dir())


def _run_settings(args: argparse.Namespace, out: Path, model: str, datasets: list[Dataset]) -> dict[str, Any]:
    """The run's settings; with --resume, those it started with (a different dataset, filter, model or repeat
    would mix two runs in one folder, so it is refused)."""
    run = {"id": out.name, "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "model": model,
           "judge": args.judge, "datasets": [str(d.path) for d in datasets], "filter": args.filter,
           "repeat": args.repeat, "concurrency": args.concurrency}
    path = out / RUN_FILE
    if args.resume and path.exists():
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"--resume: cannot read {path}: {exc}") from None
        differ = [k for k in ("model", "datasets", "filter", "repeat") if before.get(k) != run[k]]
        if differ:
            raise CliError(f"--resume: {out} was run with other {', '.join(differ)}: "
                           + "; ".join(f"{k}={before.get(k)!r}" for k in differ))
        return before | {"concurrency": args.concurrency, "judge": args.judge}
    if not args.resume and path.exists():
        raise CliError(f"{out} already holds a run; use --resume to finish it or another --out")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    return run


def _baseline(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from advisor.eval_report import load_results

    try:
        return load_results(Path(path))
    except ValueError as exc:
        raise CliError(f"--baseline: {exc}") from None


def _judge(args: argparse.Namespace, settings: Any) -> Any:
    if not args.judge:
        return None
    import os

    from advisor.eval_judge import Judge

    base = args.judge_api_base
    # The key: ADVISOR_JUDGE_API_KEY; the answering model's own where the judge shares its server; else none
    # (a local server takes any), while a provider's own variable (OPENAI_API_KEY, ...) serves a hosted judge.
    key = os.environ.get("ADVISOR_JUDGE_API_KEY") or (settings.llm_api_key if base and base == settings.llm_api_base
                                                      else None) or ("none" if base else None)
    judge = Judge(args.judge, settings.data_dir / "judge-cache", api_base=base, api_key=key)
    return judge.score


def _finish(out: Path, run: dict[str, Any], finished: list[dict[str, Any]], args: argparse.Namespace,
            baseline: dict[str, Any] | None, thresholds: dict[str, float]) -> tuple[dict[str, Any], list[str]]:
    """Summarise what finished, gate it, write the run's files; the summary and the gate's problems."""
    from advisor.eval_output import gate, results_document, write_outputs
    from advisor.eval_run import summarise

    summary = summarise(finished)
    if args.judge:
        from advisor.eval_judge import summarise_judgements

        summary["judge"] = summarise_judgements([c.get("judge") for c in finished])
    run = run | {"finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "cases_finished": len(finished)}
    doc = results_document(run, summary, finished)
    problems = gate(doc, baseline=baseline, thresholds=thresholds, tolerance=args.tolerance)
    write_outputs(out, doc, baseline=baseline, gate_problems=problems if (baseline or thresholds) else None)
    return summary, problems


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    keys = ("pass_rate", "recommendation_accuracy", "coverage", "hit_at_k", "citation_validity",
            "numbers_unsupported", "refusal_rate", "paraphrase_agreement", "flip_accuracy", "latency_median_s")
    shown = ", ".join(f"{k} {summary[k]}" for k in keys if summary.get(k) is not None)
    print(f"{summary['passed']}/{summary['cases']} cases passed; {shown}")
    print(f"report: {out / 'report.html'}  (summary.md, results.json, junit.xml beside it)")


def cmd_eval(args: argparse.Namespace) -> int:
    """Run eval datasets (default evals/advisor.yaml) through the Advisor and report every metric."""
    from advisor.advisor import Advisor
    from advisor.eval_run import Progress, run_cases

    settings = load_settings()
    datasets = _datasets(args.datasets)
    cases = _cases(datasets, args.filter)
    baseline = _baseline(args.baseline)
    out = _out_dir(args)
    from advisor.store import Store

    out.mkdir(parents=True, exist_ok=True)
    advisor = Advisor(settings, store=Store(out / TURNS_FILE))  # eval turns stay with the run, not with users'
    try:
        run = _run_settings(args, out, args.llm or advisor.llm_name, datasets)
        run["cases_total"] = len(cases) * args.repeat
        judge = _judge(args, settings)
        print(f"eval: {len(cases)} case(s) x {args.repeat} into {out}", file=sys.stderr)
        try:
            finished = run_cases(advisor, cases, out, model=args.llm, concurrency=args.concurrency,
                                 repeat=args.repeat, judge=judge, progress=None if args.quiet else Progress())
        except KeyboardInterrupt:
            from advisor.eval_run import finished_cases

            kept = [c for c in finished_cases(out).values() if c["id"] in {x.id for x in cases}]
            _finish(out, run, kept, args, baseline, _thresholds(datasets))
            print(f"advisor: interrupted: {len(kept)} finished case(s) kept in {out}; "
                  f"`advisor eval --resume --out {out}` runs the rest", file=sys.stderr)
            return 130
        summary, problems = _finish(out, run, finished, args, baseline, _thresholds(datasets))
    finally:
        advisor.close()
    if args.json:
        print(json.dumps({"out": str(out), "summary": summary, "gate": problems}, indent=1))
    else:
        _print_summary(summary, out)
    for problem in problems:
        print(f"advisor: regression: {problem}", file=sys.stderr)
    return EXIT_ERROR if problems else EXIT_OK


def cmd_export_feedback(args: argparse.Namespace) -> int:
    """Write thumbs-down turns (web page, Slack, CLI) as draft eval cases, in the dataset schema."""
    from advisor.eval_feedback import draft_cases, drafts_yaml, parse_since
    from advisor.store import Store

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    settings = load_settings()
    text = drafts_yaml(draft_cases(Store.from_settings(settings), since=since))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {text.count('- id: ')} draft case(s) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to below 1: {text!r}")
    return value


def add_eval_parser(sub: Any) -> None:
    """Add `eval` (and the `export-feedback` form routed to EXPORT_COMMAND) to an argparse subparsers object."""
    p = sub.add_parser("eval", help=cmd_eval.__doc__, description=f"{cmd_eval.__doc__} `advisor eval "
                       "export-feedback [--since DATE]` writes thumbs-down turns as draft cases instead.")
    p.add_argument("datasets", nargs="*", metavar="DATASET", help="dataset YAML files (default evals/advisor.yaml)")
    p.add_argument("--llm", metavar="MODEL", help="answer with this litellm model string (per turn), or 'local'")
    p.add_argument("--judge", metavar="MODEL", help="also score faithfulness and helpfulness with this litellm model")
    p.add_argument("--judge-api-base", metavar="URL", help="OpenAI-compatible base URL for the judge model")
    p.add_argument("--concurrency", type=positive_int, default=1, metavar="N", help="cases at once (default 1)")
    p.add_argument("--repeat", type=positive_int, default=1, metavar="K",
                   help="run each case K times and report the share whose verdict changed")
    p.add_argument("--baseline", metavar="FILE", help="results.json (or its run folder) to compare with and gate on")
    p.add_argument("--tolerance", type=_tolerance, default=0.02, metavar="X",
                   help="how far a metric may fall below the baseline before the gate fails (default 0.02)")
    p.add_argument("--out", metavar="DIR", help="run folder (default evals/runs/<timestamp>/)")
    p.add_argument("--filter", metavar="ID-GLOB",
                   help="only cases whose id matches a glob, or one of several: 'fact-*,sit-api-*'")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted run (--out DIR, else the latest in evals/runs): only the rest is asked")
    p.add_argument("--quiet", action="store_true", help="no per-case progress lines")
    p.add_argument("--json", action="store_true", help="print the summary and the gate as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(EXPORT_COMMAND, help=f"(as `advisor eval export-feedback`) {cmd_export_feedback.__doc__}",
                       description=cmd_export_feedback.__doc__, prog="advisor eval export-feedback")
    p.add_argument("--since", metavar="DATE", help="only feedback from this date or date-time (UTC) on")
    p.add_argument("--out", metavar="FILE", help="write the drafts here instead of stdout")
    p.set_defaults(func=cmd_export_feedback)
