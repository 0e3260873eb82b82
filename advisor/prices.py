"""API prices and context windows from litellm's maintained model map, read once, with its version as the source.

litellm ships `model_prices_and_context_window_backup.json` (the map behind `litellm.model_cost`). It is read here
as a file, without importing litellm (that stays advisor/llm.py's job and takes seconds), so the catalog, the cost
model and `advisor costs` share one price per model, dated by the installed litellm version. A catalog entry names
its map key in `litellm:`; the catalog's own curated price is used only where the map has no price for that key.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import importlib.util
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "MAP_FILE",
    "REMOTE_MAP_URL",
    "MapPrice",
    "PriceChange",
    "PriceMap",
    "PriceMapError",
    "diff_prices",
    "installed_price_map",
    "load_price_map",
    "price_map_from_json",
    "read_snapshot",
    "refresh_installed_price_map",
    "write_snapshot",
]

MAP_FILE = "model_prices_and_context_window_backup.json"
# Where litellm itself fetches the newest map from when LITELLM_LOCAL_MODEL_COST_MAP is not set.
REMOTE_MAP_URL = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
_MTOK = 1e6
_SNAPSHOT_VERSION = 1
_META_KEYS = {"sample_spec", "fallback_generalizations"}  # map entries that describe the map, not a model


class PriceMapError(ValueError):
    """The price map cannot be found, read or parsed; the message names the file."""


@dataclass(frozen=True)
class MapPrice:
    """One map entry in the catalog's units: USD per 1M tokens, context and output limits in tokens."""

    key: str
    input_per_mtok: float | None
    output_per_mtok: float | None
    cached_input_per_mtok: float | None
    context_tokens: int | None  # the map's max_input_tokens
    max_output_tokens: int | None
    deprecation_date: str | None  # the map's own shutdown date for this key, when it has one

    @property
    def priced(self) -> bool:
        """Whether the map gives both an input and an output price."""
        return self.input_per_mtok is not None and self.output_per_mtok is not None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return {
            "key": self.key, "input_per_mtok": self.input_per_mtok, "output_per_mtok": self.output_per_mtok,
            "cached_input_per_mtok": self.cached_input_per_mtok, "context_tokens": self.context_tokens,
            "max_output_tokens": self.max_output_tokens, "deprecation_date": self.deprecation_date,
        }


@dataclass(frozen=True)
class PriceMap:
    """litellm's model map as read: where from, which version, when read, and its entries by key."""

    source: str  # "litellm 1.110.2 model map", shown wherever one of its prices is used
    version: str
    path: str
    read_on: dt.date
    entries: Mapping[str, Mapping[str, Any]]

    def get(self, key: str) -> MapPrice | None:
        """The entry for this exact key, converted; None when the map has no such key."""
        raw = self.entries.get(key)
        if not isinstance(raw, Mapping):
            return None
        return MapPrice(
            key=key,
            input_per_mtok=_per_mtok(raw.get("input_cost_per_token")),
            output_per_mtok=_per_mtok(raw.get("output_cost_per_token")),
            cached_input_per_mtok=_per_mtok(raw.get("cache_read_input_token_cost")),
            context_tokens=_tokens(raw.get("max_input_tokens")),
            max_output_tokens=_tokens(raw.get("max_output_tokens")),
            deprecation_date=raw["deprecation_date"] if isinstance(raw.get("deprecation_date"), str) else None,
        )

    def __len__(self) -> int:
        return len(self.entries)


def _per_mtok(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    # Per-token costs like 1.25e-06 become 1.25 per 1M; rounding drops the binary-float tail (1.2500000000000002).
    return round(float(value) * _MTOK, 6)


def _tokens(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return int(value)


def price_map_from_json(text: str, *, source: str, version: str, path: str, read_on: dt.date) -> PriceMap:
    """A PriceMap from the map's JSON text; PriceMapError when it is not a JSON object of entries."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PriceMapError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PriceMapError(f"{path}: expected a JSON object of model entries")
    entries = {k: v for k, v in data.items() if k not in _META_KEYS and isinstance(v, dict)}
    return PriceMap(source=source, version=version, path=path, read_on=read_on, entries=entries)


def load_price_map(path: Path, *, source: str | None = None, version: str = "unknown",
                   read_on: dt.date | None = None) -> PriceMap:
    """Read a map file (the installed one, or a downloaded copy of litellm's remote map)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceMapError(f"{path}: cannot read the price map: {exc.strerror or exc}") from None
    return price_map_from_json(text, source=source or f"litellm {version} model map", version=version,
                               path=str(path), read_on=read_on or dt.date.today())


def _installed_map_path() -> tuple[Path, str]:
    # find_spec locates the installed package without running its __init__ (which imports half of litellm).
    spec = importlib.util.find_spec("litellm")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / MAP_FILE
        if candidate.is_file():
            try:
                version = importlib.metadata.version("litellm")
            except importlib.metadata.PackageNotFoundError:
                version = "unknown"
            return candidate, version
    raise PriceMapError(f"litellm's {MAP_FILE} was not found; is litellm installed? (pip install litellm)")


@functools.lru_cache(maxsize=1)
def installed_price_map() -> PriceMap:
    """The map shipped with the installed litellm, read once per process (~25 ms)."""
    path, version = _installed_map_path()
    return load_price_map(path, version=version)


def refresh_installed_price_map() -> PriceMap:
    """Forget the map read so far and read the installed one again (after upgrading litellm)."""
    installed_price_map.cache_clear()
    return installed_price_map()


@dataclass(frozen=True)
class PriceChange:
    """How one map key's price or limits differ between two reads of the map."""

    model_id: str
    key: str
    field: str
    before: float | int | str | None
    after: float | int | str | None

    def text(self) -> str:
        """One line, e.g. 'gpt-5.1 (gpt-5.1): input_per_mtok 1.25 -> 1.5'."""
        return f"{self.model_id} ({self.key}): {self.field} {_shown(self.before)} -> {_shown(self.after)}"


def _shown(value: object) -> str:
    return "absent" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


_COMPARED = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "context_tokens", "max_output_tokens",
             "deprecation_date")


def diff_prices(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]],
                keys: Iterable[tuple[str, str]]) -> list[PriceChange]:
    """Changes between two {key: MapPrice.as_dict()} records for the given (model id, map key) pairs."""
    changes: list[PriceChange] = []
    for model_id, key in keys:
        old, new = before.get(key) or {}, after.get(key) or {}
        for name in _COMPARED:
            if old.get(name) != new.get(name):
                changes.append(PriceChange(model_id, key, name, old.get(name), new.get(name)))
    return changes


def read_snapshot(path: Path) -> dict[str, Any] | None:
    """The last recorded read of the map (source, version, date, catalog keys' entries); None if there is none."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("snapshot_version") != _SNAPSHOT_VERSION:
        return None
    return data


def write_snapshot(path: Path, prices: PriceMap, keys: Iterable[str]) -> dict[str, Any]:
    """Record the catalog keys' map entries as read now, for the next refresh to compare against."""
    entries = {key: found.as_dict() for key in sorted(set(keys)) if (found := prices.get(key)) is not None}
    data = {"snapshot_version": _SNAPSHOT_VERSION, "source": prices.source, "version": prices.version,
            "path": prices.path, "read_on": prices.read_on.isoformat(), "entries": entries}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(target)
    return data
