"""Reading the catalog YAML with line numbers, so that every load error names the file, line, entry and field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

__all__ = ["CatalogError", "line_for", "parse_yaml", "validation_message", "where"]


class CatalogError(ValueError):
    """The catalog file cannot be read, parsed or validated; the message names file, line, entry, field."""


def parse_yaml(source: Path, text: str) -> tuple[yaml.Node | None, Any]:
    """Compose the node tree (for line numbers) and construct the data from it."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        _reject_duplicate_keys(source, root)
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise CatalogError(_yaml_message(source, text, exc)) from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: malformed YAML: {exc}") from exc
    finally:
        loader.dispose()
    return root, data


def _reject_duplicate_keys(source: Path, node: yaml.Node | None) -> None:
    # PyYAML silently keeps the last of two equal keys, which would hide an edit.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise CatalogError(f"{source}:{key.start_mark.line + 1}: duplicate key '{key.value}'")
                seen.add(key.value)
            _reject_duplicate_keys(source, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_duplicate_keys(source, item)


def _yaml_message(source: Path, text: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    entry_re = re.compile(r"^\s*-\s+id:\s*['\"]?([^'\"\s#]+)")
    ids = [found.group(1) for raw in text.splitlines()[:line] if (found := entry_re.match(raw))]
    near = f" near entry '{ids[-1]}'" if ids else ""
    return f"{source}:{line}: malformed YAML{near}: {exc.problem or exc.context or exc}"


def validation_message(source: Path, root: yaml.Node | None, data: Any, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] not in ("missing", "value_error"):
        got = repr(first.get("input"))
        message += f" (got {got if len(got) <= 60 else got[:57] + '...'})"
    more = f" (+{len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return f"{source}:{line_for(root, loc)}: {where(loc, data)}: {message}{more}"


def where(loc: tuple[str | int, ...], data: Any) -> str:
    """Describe a validation location as `models[3] (id=gpt-4.1) field 'price.date'`."""
    parts: list[str] = []
    rest = loc
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        parts.append(f"{loc[0]}[{loc[1]}]")
        entries = data.get(loc[0]) if isinstance(data, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        if isinstance(entry, dict) and "id" in entry:
            parts.append(f"(id={entry['id']})")
        rest = loc[2:]
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    if field:
        parts.append(f"field '{field}'")
    return " ".join(parts) or "top level"


def line_for(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int:
    """The 1-based line of the deepest node on the location path that exists."""
    if root is None:
        return 1
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = [kv for kv in node.value if isinstance(kv[0], yaml.ScalarNode) and kv[0].value == part]
            if not match:
                break
            line, node = match[0][0].start_mark.line + 1, match[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            line, node = node.value[part].start_mark.line + 1, node.value[part]
        else:
            break
    return line
