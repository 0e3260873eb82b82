"""Prices and context windows from litellm's model map: the catalog, the cost model and the CLI use the map's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from advisor.catalog import DEFAULT_CATALOG_PATH, Catalog, load_catalog
from advisor.cli import EXIT_ERROR, EXIT_OK, main
from advisor.cli_models import refresh_prices
from advisor.costs import api_cost
from advisor.prices import MapPrice, installed_price_map, price_map_from_json

# API entries that litellm's map has no key for: retired before the map was read, or never in it.
NOT_IN_MAP = {"gpt-4.5-preview", "claude-opus-4", "claude-sonnet-4", "mistral-medium-3", "magistral-medium-1.0"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def model_cost() -> dict[str, Any]:
    """litellm's own in-memory map, read the way litellm reads it (offline: the bundled copy)."""
    import litellm

    cost: dict[str, Any] = litellm.model_cost
    return cost


def test_the_map_is_litellms_bundled_one(model_cost: dict[str, Any]) -> None:
    prices = installed_price_map()
    assert prices.source.startswith("litellm ") and prices.source.endswith(" model map")
    assert prices.version != "unknown" and prices.version in prices.source
    assert len(prices) > 4000 and set(prices.entries) <= set(model_cost)


def test_every_api_price_equals_litellms_where_the_map_has_it(catalog: Catalog, model_cost: dict[str, Any]
                                                               ) -> None:
    keyed = 0
    for model in catalog.models:
        entry = model_cost.get(model.litellm or "")
        if model.kind != "api" or not entry or entry.get("input_cost_per_token") is None:
            continue
        keyed += 1
        assert model.price is not None and model.price.source == installed_price_map().source, model.id
        assert model.price.input_per_mtok == pytest.approx(entry["input_cost_per_token"] * 1e6), model.id
        assert model.price.output_per_mtok == pytest.approx(entry["output_cost_per_token"] * 1e6), model.id
        cached = entry.get("cache_read_input_token_cost")
        assert model.price.cached_input_per_mtok == (None if cached is None else pytest.approx(cached * 1e6))
        assert model.context_tokens == entry["max_input_tokens"], model.id
        assert model.max_output_tokens == entry["max_output_tokens"], model.id
    assert keyed >= 17


def test_every_api_entry_has_a_map_key_unless_the_map_lacks_it(catalog: Catalog, model_cost: dict[str, Any]
                                                               ) -> None:
    for model in catalog.models:
        if model.litellm is not None:
            assert model.litellm in model_cost, f"{model.id}: key {model.litellm!r} is not in litellm's map"
        if model.kind == "api":
            assert (model.litellm is None) == (model.id in NOT_IN_MAP), model.id


def test_no_price_the_map_has_is_hand_copied_into_the_catalog() -> None:
    raw = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    prices = installed_price_map()
    for entry in raw["models"]:
        found = prices.get(entry["litellm"]) if entry["litellm"] else None
        if found is not None and found.priced:
            assert entry["price"] is None, f"{entry['id']}: the map has its price; models.yaml must not copy it"


def test_open_weight_entries_take_only_the_hosted_price_not_the_hosts_context(catalog: Catalog) -> None:
    v32 = catalog.get("deepseek-v3.2")
    assert v32.price is not None and v32.price.source is not None
    assert (v32.price.input_per_mtok, v32.price.output_per_mtok) == (0.28, 0.4)
    kimi = catalog.get("kimi-k2-instruct")
    assert kimi.litellm is None and kimi.price is None  # no vendor API key in the map: unknown stays null


def test_without_the_map_the_curated_values_stay(tmp_path: Path) -> None:
    empty = price_map_from_json("{}", source="empty", version="0", path="-", read_on=dt.date(2026, 12, 4))
    bare = load_catalog(prices=empty)
    assert bare.get("gpt-5.1").price is None  # nothing hand-copied to fall back on
    assert bare.get("gpt-4.5-preview").price is not None  # curated: the map never had it
    assert bare.get("deepseek-v3").price is not None


def test_the_map_converts_per_token_costs_to_per_million() -> None:
    text = json.dumps({"m": {"input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05,
                             "cache_read_input_token_cost": 1.25e-07, "max_input_tokens": 272000,
                             "max_output_tokens": 128000, "deprecation_date": "2027-04-01"},
                       "free": {"input_cost_per_token": 0, "output_cost_per_token": 0},
                       "sample_spec": {"input_cost_per_token": "float"}})
    prices = price_map_from_json(text, source="s", version="v", path="p", read_on=dt.date(2026, 1, 1))
    assert prices.get("m") == MapPrice("m", 1.25, 10.0, 0.125, 272000, 128000, "2027-04-01")
    assert prices.get("free") is not None and prices.get("free").priced  # type: ignore[union-attr]
    assert prices.get("sample_spec") is None and prices.get("absent") is None


def test_api_cost_uses_the_maps_price_and_says_so(catalog: Catalog) -> None:
    cost = api_cost("gpt-5.1", 1e9, catalog=catalog)
    assert (cost.input_usd_per_mtok, cost.output_usd_per_mtok) == (1.25, 10.0)
    assert cost.price_source.startswith(installed_price_map().source) and "gpt-5.1" in cost.price_source
    used = {a.name: a for a in cost.assumptions}
    assert used["api_input_usd_per_mtok"].source.startswith("litellm ")


def test_api_cost_refuses_a_retired_model(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match=r"'gpt-4.5-preview' was retired on 2025-07-14.*successor is gpt-4.1"):
        api_cost("gpt-4.5-preview", 1e6, catalog=catalog)


def test_costs_cli_uses_the_maps_price_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs", "--api-model", "claude-opus-5", "--monthly-tokens", "100M"]) == EXIT_OK
    out = capsys.readouterr().out
    source = installed_price_map().source
    assert f"API price of claude-opus-5: $5 input / $25 output per 1M tokens, from {source}" in out
    assert main(["costs", "--api-model", "o4-mini"]) == EXIT_ERROR
    assert "retired on 2026-10-23" in capsys.readouterr().err


def test_costs_cli_default_model_is_current(capsys: pytest.CaptureFixture[str], catalog: Catalog) -> None:
    assert main(["costs", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert not catalog.get(data["api"]["model_id"]).is_retired()


def test_models_cli_lists_current_models_first_with_sources_and_dates(capsys: pytest.CaptureFixture[str]
                                                                      ) -> None:
    assert main(["models", "--sort", "release", "--descending", "--limit", "5"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("gpt-5.5 ") and "2026-04-23" in lines[1]
    assert any(line.startswith("  gpt-5.5: https://") for line in lines)  # sources
    assert "L = price from litellm " in lines[-1] and "retired models hidden" in lines[-1]
    assert main(["models", "--retired", "--text", "gpt-4.5", "--json"]) == EXIT_OK
    (hit,) = json.loads(capsys.readouterr().out)["results"]
    assert hit["is_retired"] is True and hit["shutdown_date"] == "2025-07-14"


def test_refresh_prices_records_a_baseline_then_reports_changes(tmp_path: Path, catalog: Catalog) -> None:
    snapshot = tmp_path / "snap.json"
    installed = installed_price_map()
    first = refresh_prices(catalog, installed, snapshot)
    assert first["previous"] is None and first["changes"] == [] and snapshot.is_file()
    assert first["priced"] >= 17 and first["source"] == installed.source
    assert "claude-sonnet-4-5" not in " ".join(first["shutdowns"])  # its map date equals the recorded one
    entries = {k: dict(v) for k, v in installed.entries.items()}
    entries["gpt-5.1"]["input_cost_per_token"] = 1.5e-06
    del entries["gpt-5.5"]
    newer = price_map_from_json(json.dumps(entries), source="litellm 9.9.9 model map", version="9.9.9",
                                path="new.json", read_on=dt.date(2027, 1, 1))
    second = refresh_prices(load_catalog(prices=newer), newer, snapshot)
    assert second["previous"]["source"] == installed.source
    assert "gpt-5.1 (gpt-5.1): input_per_mtok 1.25 -> 1.5" in second["changes"]
    assert "gpt-5.5 (gpt-5.5): input_per_mtok 5 -> absent" in second["changes"]
    assert "gpt-5.5 (gpt-5.5)" in second["missing"]


def test_refresh_prices_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                            tmp_path: Path) -> None:
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path))
    assert main(["models", "--refresh-prices"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"Read {installed_price_map().source}") and "baseline" in out
    assert main(["models", "--refresh-prices"]) == EXIT_OK
    assert "0 change(s)" in capsys.readouterr().out
    local = tmp_path / "map.json"
    local.write_text(json.dumps({"gpt-5.1": {"input_cost_per_token": 2e-06, "output_cost_per_token": 1e-05}}),
                     encoding="utf-8")
    assert main(["models", "--refresh-prices", "--prices-from", str(local)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "gpt-5.1 (gpt-5.1): input_per_mtok 1.25 -> 2" in out and "Not recorded" in out
    assert main(["models", "--prices-from", str(local)]) == EXIT_ERROR
