"""What every `advisor` subcommand shares: settings loading, one-line errors, JSON output and argument types."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.config import Settings

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_SKIPPED", "EXIT_USAGE", "CliError", "load_settings", "positive_float",
           "positive_int", "print_json"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3


class CliError(Exception):
    """An error reported to the user as one line, with exit code 1."""


def print_json(data: Any) -> None:
    """Pretty JSON on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (a bad value is a CliError naming the variable), with overrides applied."""
    from pydantic import ValidationError

    from advisor.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "ADVISOR_" + "_".join(str(p) for p in first["loc"]).upper()
        raise CliError(f"bad setting {name}: {first['msg']}") from None
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=overrides) if overrides else settings


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number greater than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value
