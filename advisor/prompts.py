"""Prompt templates from prompts/, rendered strictly: a missing variable is an error, never an empty string."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from advisor.config import REPO_ROOT

__all__ = ["PROMPTS_DIR", "render", "template_names"]

PROMPTS_DIR = REPO_ROOT / "prompts"


@functools.lru_cache(maxsize=4)
def _environment(folder: Path) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)), undefined=jinja2.StrictUndefined, autoescape=False,
        keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True,
    )


def template_names(folder: Path = PROMPTS_DIR) -> list[str]:
    """The template names (file stems) in folder."""
    return sorted(p.stem for p in folder.glob("*.j2"))


def render(name: str, folder: Path = PROMPTS_DIR, /, **variables: Any) -> str:
    """Render prompts/NAME.j2 with variables; jinja2.UndefinedError if one it uses is missing."""
    return str(_environment(folder).get_template(f"{name}.j2").render(**variables)).strip()
