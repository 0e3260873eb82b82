"""YAML files of eval cases: a list of items, each validated by a pydantic model; errors name file, case, field."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["check_unique_ids", "load_yaml_cases"]

_Case = TypeVar("_Case", bound=BaseModel)


def load_yaml_cases(path: Path, model: type[_Case]) -> list[_Case]:
    """The cases in a YAML list file, validated; ValueError names the file, case and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}".replace("\n", " ")) from None
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of cases")
    cases = []
    for i, item in enumerate(raw):
        try:
            cases.append(model.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            name = item.get("id", i) if isinstance(item, dict) else i
            raise ValueError(f"{path}: case {name} ({where}): {err['msg']}") from None
    return cases


def check_unique_ids(cases: Sequence[Any], where: Path) -> None:
    """ValueError naming the duplicated ids, if any case id repeats."""
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{where}: duplicate case ids {dupes}")
