"""Measuring the situation reader and the router on labelled cases: routes, fields, verdicts and speed.

Figures are reported on the frozen held-out set (evals/understanding_holdout.yaml), which no training or tuning
has seen; the development situations (evals/situations*.yaml) are a second report.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.profile import FIELD_ORDER, Profile

if TYPE_CHECKING:
    from advisor.reader import Reader

__all__ = ["TARGETS", "LabelledCase", "dev_cases", "evaluate_understanding", "holdout_cases", "report_markdown"]

# The targets on the held-out set.
TARGETS = {"situations_routed": 0.97, "facts_routed": 0.95, "fields_right": 0.90, "invented": 0.03,
           "recommendation": 0.90}
# Routes that end in a scored verdict; a follow-up without history is read as a situation.
_VERDICT_ROUTES = {"situation", "mixed", "followup"}


@dataclass(frozen=True)
class LabelledCase:
    """One case, whatever file it came from: its kind, the user's messages and the hand-made profile."""

    id: str
    kind: str
    messages: tuple[str, ...]
    profile: dict[str, Any]


def holdout_cases(path: Path | None = None) -> list[LabelledCase]:
    """The frozen held-out set."""
    from advisor.banks import HOLDOUT_PATH, load_understanding_cases

    return [LabelledCase(c.id, c.kind, tuple(c.messages), c.profile)
            for c in load_understanding_cases(path or HOLDOUT_PATH)]


def dev_cases() -> list[LabelledCase]:
    """The development situations (all of kind situation)."""
    from advisor.situations import SITUATIONS_PATH, load_situations

    cases = load_situations() + load_situations(SITUATIONS_PATH.with_name("situations_holdout.yaml"))
    return [LabelledCase(c.id, "situation", tuple(m["content"] for m in c.messages if m["role"] == "user"),
                         c.profile.stated()) for c in cases]


def _route_ok(kind: str, route: str, *, later_turn: bool) -> bool:
    if kind in ("situation", "followup"):
        return route in _VERDICT_ROUTES
    if kind == "mixed":
        return route == "mixed"
    return route == kind


def evaluate_understanding(reader: Reader, cases: Sequence[LabelledCase]) -> dict[str, Any]:
    """Routing per kind, per-field figures, recommendation agreement and timing over cases."""
    from advisor.scoring import score_profile
    from advisor.situations import values_match

    routed: dict[str, list[int]] = {}
    confusion: dict[str, dict[str, int]] = {}
    fields = {name: {"stated": 0, "right": 0, "wrong": 0, "invented": 0, "unstated": 0} for name in FIELD_ORDER}
    errors: list[str] = []
    agree = judged = 0
    seconds: list[float] = []
    for case in cases:
        guess = reader.route(case.messages[-1]).route
        ok = _route_ok(case.kind, guess, later_turn=len(case.messages) > 1)
        routed.setdefault(case.kind, [0, 0])[0] += ok
        routed[case.kind][1] += 1
        confusion.setdefault(case.kind, {}).setdefault(guess, 0)
        confusion[case.kind][guess] += 1
        if not ok:
            errors.append(f"{case.id} ({case.kind}) routed as {guess}")
        if case.kind in ("fact", "offtopic"):
            continue
        reading = reader.read(case.messages)
        seconds.append(reading.seconds / len(case.messages))
        got = reading.profile.stated()
        for name in FIELD_ORDER:
            want, have, tally = case.profile.get(name), got.get(name), fields[name]
            if want is None:
                tally["unstated"] += 1
                if have is not None:
                    tally["invented"] += 1
                    errors.append(f"{case.id}: {name} invented {have!r} from {reading.quotes.get(name)!r}")
            else:
                tally["stated"] += 1
                if have is None:
                    errors.append(f"{case.id}: {name} missed (want {want!r})")
                elif values_match(name, want, have):
                    tally["right"] += 1
                else:
                    tally["wrong"] += 1
                    errors.append(f"{case.id}: {name} {have!r} != {want!r} from {reading.quotes.get(name)!r}")
        judged += 1
        agree += score_profile(reading.profile).recommended == score_profile(Profile(**case.profile)).recommended
    stated = sum(f["stated"] for f in fields.values())
    unstated = sum(f["unstated"] for f in fields.values())
    verdict_kinds = [k for k in ("situation", "followup") if k in routed]
    return {
        "cases": len(cases),
        "routing": {kind: {"right": r, "cases": n, "share": r / n} for kind, (r, n) in routed.items()},
        "confusion": confusion,
        "situations_routed": (sum(routed[k][0] for k in verdict_kinds) / max(1, sum(routed[k][1]
                                                                                   for k in verdict_kinds))),
        "facts_routed": routed["fact"][0] / routed["fact"][1] if "fact" in routed else None,
        "fields": fields,
        "fields_right": sum(f["right"] for f in fields.values()) / max(1, stated),
        "invented": sum(f["invented"] for f in fields.values()) / max(1, unstated),
        "recommendation": agree / max(1, judged),
        "read_ms_median": statistics.median(seconds) * 1000 if seconds else 0.0,
        "errors": errors,
    }


def report_markdown(title: str, result: dict[str, Any], *, second: tuple[str, dict[str, Any]] | None = None) -> str:
    """A report for evals/reports/: targets, routing, the per-field table; optionally a second set's figures."""
    lines = [f"# {title}", "", f"Measured {dt.date.today().isoformat()}; {result['cases']} cases.", ""]
    lines += _summary(result)
    if second is not None:
        name, other = second
        lines += ["", f"## {name}", "", f"{other['cases']} cases.", "", *_summary(other)]
    lines += ["", "## Errors on the held-out set", "", *[f"- {e}" for e in result["errors"]], ""]
    return "\n".join(lines)


def _summary(result: dict[str, Any]) -> list[str]:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    lines = ["| measure | value | target |", "|---|---|---|"]
    for key, label in (("situations_routed", "situation messages routed to a verdict"),
                       ("facts_routed", "fact questions routed as facts"), ("fields_right", "stated fields right"),
                       ("invented", "invented, of unstated fields"),
                       ("recommendation", "recommendation = verdict on the hand profile")):
        target = TARGETS[key]
        lines.append(f"| {label} | {pct(result.get(key))} | {'≤' if key == 'invented' else '≥'} {target:.0%} |")
    lines.append(f"| reading time per message, median | {result['read_ms_median']:.0f} ms | ≤ 200 ms |")
    lines += ["", "| route | right | cases | share |", "|---|---|---|---|"]
    lines += [f"| {kind} | {r['right']} | {r['cases']} | {r['share']:.1%} |" for kind, r in result["routing"].items()]
    lines += ["", "| field | stated | right | wrong | missed | invented / unstated |", "|---|---|---|---|---|---|"]
    for name, f in result["fields"].items():
        missed = f["stated"] - f["right"] - f["wrong"]
        lines.append(f"| {name} | {f['stated']} | {f['right']} | {f['wrong']} | {missed} | "
                     f"{f['invented']} / {f['unstated']} |")
    return lines
