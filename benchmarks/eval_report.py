"""What the end-to-end eval scripts (holdout_local, facts_local) share: the percentiles and the written report."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any


def median_p90(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def finish(summary: dict[str, Any], rows: list[dict[str, Any]], path: Path | None) -> int:
    """Print the summary, write summary and cases to path when given; the exit status."""
    print(json.dumps(summary, indent=1))
    if path:
        path.write_text(json.dumps({"summary": summary, "cases": rows}, indent=1), encoding="utf-8")
    return 0
