"""Tests for the model catalog: the shipped knowledge/models.yaml, its schema, loader errors and filters."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from advisor.catalog import DEFAULT_CATALOG_PATH, Catalog, CatalogError, ModelEntry, load_catalog
from advisor.catalog_query import parse_date_text, select_models

REPO = Path(__file__).resolve().parents[1]

# Every model in reference/model-facts.md sections A, B and C (one entry per distinct size).
API_IDS = [
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4.5-preview",
    "o3",
    "o4-mini",
    "claude-opus-4",
    "claude-sonnet-4",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "mistral-medium-3",
    "magistral-medium-1.0",
]
# Added for late 2026 from vendor pages and model cards (each entry names its sources).
NEW_API_IDS = [
    "gpt-5",
    "gpt-5.1",
    "gpt-5.5",
    "claude-opus-4-5",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-opus-5",
    "claude-sonnet-5",
    "gemini-3-flash-preview",
    "gemini-3.1-pro-preview",
]
NEW_OPEN_WEIGHT_IDS = [
    "deepseek-v3.2",
    "kimi-k2-instruct",
    "glm-4.5",
    "glm-4.5-air",
    "mistral-large-3",
    "qwen3-next-80b-a3b",
    "gemma-4-31b",
    "gemma-4-26b-a4b",
]
# Shut down by the vendor before 2026-12-04 (the day these facts were read).
RETIRED_BY_2026_12_04 = {
    "gpt-4.1-nano", "gpt-4.5-preview", "o4-mini", "claude-opus-4", "claude-sonnet-4", "gemini-2.5-pro",
    "gemini-2.5-flash", "magistral-medium-1.0", "claude-sonnet-4-5",
}
OPEN_WEIGHT_IDS = [
    "gpt-oss-120b",
    "gpt-oss-20b",
    "llama-4-scout",
    "llama-4-maverick",
    "qwen3-235b-a22b",
    "qwen3-30b-a3b",
    "qwen3-32b",
    "qwen3-8b",
    "qwen3-0.6b",
    "deepseek-v3",
    "deepseek-r1",
    "magistral-small-1.0",
    "bitnet-b1.58-2b-4t",
    "llm360-k2",
]
SMALL_IDS = [
    "qwen2.5-0.5b",
    "qwen2.5-1.5b",
    "smollm2-135m",
    "smollm2-360m",
    "smollm2-1.7b",
    "llama-3.2-1b",
    "llama-3.2-3b",
    "phi-4-mini-instruct",
    "gemma-3-1b",
    "gemma-3-4b",
    "gemma-3-12b",
    "gemma-3-27b",
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def raw() -> dict[str, Any]:
    """The shipped catalog as plain data, to mutate into bad files."""
    data = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, data: object, name: str = "models.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing needle."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def _ids(models: list[ModelEntry]) -> set[str]:
    return {model.id for model in models}


# ---------------------------------------------------------------- the shipped catalog


def test_default_path_is_the_repo_catalog() -> None:
    assert DEFAULT_CATALOG_PATH == REPO / "knowledge" / "models.yaml"
    assert load_catalog(DEFAULT_CATALOG_PATH).ids() == load_catalog().ids()


def test_every_model_from_the_fact_sheet_is_present_with_its_kind(catalog: Catalog) -> None:
    expected = {**dict.fromkeys(API_IDS + NEW_API_IDS, "api"),
                **dict.fromkeys(OPEN_WEIGHT_IDS + NEW_OPEN_WEIGHT_IDS, "open_weight")}
    expected |= dict.fromkeys(SMALL_IDS, "small")
    assert len(expected) == len(catalog.models)
    actual = {model.id: model.kind for model in catalog.models}
    assert actual == expected


def test_every_entry_has_sources_and_the_date_of_its_facts(catalog: Catalog) -> None:
    for model in catalog.models:
        assert model.sources, model.id
        assert all(source.strip() for source in model.sources), model.id
        # as_of is the facts' own date: never before the release, never after the day they were read.
        release = parse_date_text(model.release)
        assert release is not None and release <= dt.date.fromisoformat(model.as_of), model.id
        assert model.as_of <= "2026-12-04", model.id
    assert len({model.as_of for model in catalog.models}) > 10  # not one compile date stamped on every entry


def test_api_prices_are_dated(catalog: Catalog) -> None:
    priced = [model for model in select_models(catalog, kind="api", include_retired=True) if model.price]
    assert len(priced) == len(API_IDS) + len(NEW_API_IDS)  # every API model has a list price
    for model in priced:
        assert model.price is not None
        assert model.price.date[:4].isdigit() and model.price.currency == "USD", model.id


def test_open_weight_entries_are_open_with_a_license(catalog: Catalog) -> None:
    for model in catalog.models:
        if model.kind in ("open_weight", "small"):
            assert model.open_weights is True, model.id
            assert model.license and model.license != "proprietary", model.id
            catalog_license = next(lic for lic in catalog.licenses if lic.id == model.license)
            assert catalog_license.sources, model.id
        else:
            assert model.open_weights is False, model.id


def test_specific_facts(catalog: Catalog) -> None:
    oss = catalog.get("gpt-oss-120b")
    assert oss.params_active_b == 5.1
    assert oss.min_hardware is not None and oss.min_hardware.gpu_memory_gb == 80
    assert oss.min_hardware.precision == "mxfp4" and oss.min_hardware.derived is False
    assert oss.license == "apache-2.0"

    assert catalog.get("llama-4-scout").context_tokens == 10_000_000

    gpt41 = catalog.get("gpt-4.1")
    assert gpt41.price is not None and gpt41.price.source is not None  # from litellm's map, which agrees
    assert (gpt41.price.input_per_mtok, gpt41.price.output_per_mtok) == (2.0, 8.0)
    assert gpt41.price.cached_input_per_mtok == 0.5 and gpt41.litellm == "gpt-4.1"
    assert catalog.get("gpt-4.5-preview").price is not None  # no map key: the curated price stays
    assert catalog.get("gpt-4.5-preview").price.source is None  # type: ignore[union-attr]

    glm = catalog.get("glm-4.5")
    assert (glm.params_total_b, glm.params_active_b, glm.license) == (355, 32, "mit")
    assert catalog.get("kimi-k2-instruct").params_total_b == 1000
    assert catalog.get("qwen3-next-80b-a3b").context_tokens == 262_144

    v3 = catalog.get("deepseek-v3")
    assert (v3.params_total_b, v3.params_active_b) == (671, 37)
    assert v3.license == "deepseek-model-license"


def test_unverified_items_from_the_fact_sheet_are_flagged(catalog: Catalog) -> None:
    assert "max_output_tokens" in catalog.get("claude-sonnet-4").unverified
    assert "deprecation" in catalog.get("gpt-4.5-preview").unverified
    assert catalog.get("magistral-small-1.0").price is None
    assert "price" in catalog.get("magistral-small-1.0").unverified
    k2 = catalog.get("llm360-k2")
    assert k2.context_tokens is None and {"context_tokens", "release"} <= set(k2.unverified)
    mistral = catalog.get("mistral-medium-3")
    assert mistral.params_total_b is None and mistral.architecture is None


def test_derived_weights_match_params(catalog: Catalog) -> None:
    for model in catalog.models:
        if model.weights_gb is not None:
            assert model.params_total_b is not None
            assert model.weights_gb.derived is True
            assert model.weights_gb.bf16 == pytest.approx(model.params_total_b * 2, rel=0.01, abs=0.01)


def test_get_is_case_insensitive_and_names_unknown_ids(catalog: Catalog) -> None:
    assert catalog.get("GPT-4.1").id == "gpt-4.1"
    with pytest.raises(KeyError, match="no-such-model"):
        catalog.get("no-such-model")


# ---------------------------------------------------------------- filters


def test_filter_open_weights(catalog: Catalog) -> None:
    open_ids = set(OPEN_WEIGHT_IDS) | set(NEW_OPEN_WEIGHT_IDS) | set(SMALL_IDS)
    assert _ids(select_models(catalog, open_weights=True)) == open_ids
    api = set(API_IDS) | set(NEW_API_IDS)
    assert _ids(select_models(catalog, open_weights=False, include_retired=True)) == api
    current = _ids(select_models(catalog, open_weights=False))
    assert api - current == {m.id for m in catalog.models if m.is_retired()} >= RETIRED_BY_2026_12_04


def test_filter_license_prefix_and_exact(catalog: Catalog) -> None:
    llama = {"llama-4-scout", "llama-4-maverick", "llama-3.2-1b", "llama-3.2-3b"}
    assert _ids(select_models(catalog, license="llama")) == llama
    assert _ids(select_models(catalog, license="LLAMA-4-community")) == {"llama-4-scout", "llama-4-maverick"}
    assert _ids(select_models(catalog, license="mit")) == {
        "deepseek-r1", "bitnet-b1.58-2b-4t", "phi-4-mini-instruct", "glm-4.5", "glm-4.5-air", "deepseek-v3.2",
    }


def test_filter_max_gpu_gb(catalog: Catalog) -> None:
    fits_24 = {
        "gpt-oss-20b",  # 16 GB, MXFP4 (stated)
        "qwen3-30b-a3b",  # single 24 GB GPU at 4-bit (derived)
        "qwen3-32b",  # single 24 GB GPU at 4-bit (derived)
        "qwen3-8b",  # 4.1 GB int4
        "qwen3-0.6b",  # 1.2 GB bf16
        "magistral-small-1.0",  # single RTX 4090 once quantized (stated)
        "bitnet-b1.58-2b-4t",  # 1.0 GB packed, CPU
        "qwen2.5-0.5b",
        "qwen2.5-1.5b",
        "smollm2-135m",
        "smollm2-360m",
        "smollm2-1.7b",
        "llama-3.2-1b",
        "llama-3.2-3b",
        "phi-4-mini-instruct",  # 7.7 GB bf16
        "gemma-3-1b",
        "gemma-3-4b",
        "gemma-3-12b",  # 24 GB bf16 weights: on the boundary, kept (<=)
    }
    assert _ids(select_models(catalog, max_gpu_gb=24)) == fits_24
    assert _ids(select_models(catalog, max_gpu_gb=80)) == fits_24 | {
        "gpt-oss-120b",
        "llama-4-scout",
        "llm360-k2",
        "gemma-3-27b",
    }


def test_filter_min_context(catalog: Catalog) -> None:
    million = {
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "llama-4-scout",
        "llama-4-maverick",
        "gpt-5.5",
        "claude-opus-5",
        "claude-sonnet-5",
        "gemini-3-flash-preview",
        "gemini-3.1-pro-preview",
    }
    assert _ids(select_models(catalog, min_context=1_000_000, include_retired=True)) == million
    assert _ids(select_models(catalog, min_context=10_000_000)) == {"llama-4-scout"}


def test_filters_combine_and_kind(catalog: Catalog) -> None:
    assert _ids(select_models(catalog, kind="small", license="gemma", max_gpu_gb=8)) == {"gemma-3-1b", "gemma-3-4b"}
    assert _ids(select_models(catalog, open_weights=True, min_context=1_000_000)) == {
        "llama-4-scout",
        "llama-4-maverick",
    }
    assert select_models(catalog, include_retired=True) == catalog.models
    assert select_models(catalog) == catalog.current()
    with pytest.raises(ValueError, match="unknown kind"):
        select_models(catalog, kind="closed")


@given(limit=st.floats(min_value=0, max_value=2000, allow_nan=False), context=st.integers(0, 20_000_000))
def test_filter_bounds_property(catalog: Catalog, limit: float, context: int) -> None:
    by_gpu = select_models(catalog, max_gpu_gb=limit, include_retired=True)
    for model in catalog.models:
        gb = model.min_hardware.gpu_memory_gb if model.min_hardware else None
        assert (model in by_gpu) == (gb is not None and gb <= limit)
    by_context = select_models(catalog, min_context=context, include_retired=True)
    for model in catalog.models:
        assert (model in by_context) == (model.context_tokens is not None and model.context_tokens >= context)


# ---------------------------------------------------------------- passages


def test_passage_metadata_is_flat_scalars(catalog: Catalog) -> None:
    for model in catalog.models:
        meta = model.passage_metadata()
        assert all(type(value) in (str, int, float, bool) for value in meta.values()), model.id
        assert meta["kind"] == "catalog" and meta["model_id"] == model.id
        assert meta["path"] == "models.yaml" and meta["section"] == model.id
        assert meta["open_weights"] is model.open_weights and meta["license"] == model.license


def test_passage_text_carries_the_key_facts(catalog: Catalog) -> None:
    text = catalog.get("gpt-4.1").passage_text()
    for needle in (
        "GPT-4.1",
        "OpenAI",
        "2025-04-14",
        "1,047,576",
        "$2.00",
        "$8.00",
        "litellm",
        "model map, key gpt-4.1",
        "proprietary",
        "shutdown announced for 2027-01-14",
    ):
        assert needle in text
    curated = catalog.get("gpt-4.5-preview").passage_text()
    assert "API price (2025-02): $75.00 input / $150.00 output" in curated
    assert "Status: retired on 2025-07-14" in curated and "not an option today" in curated
    oss = catalog.get("gpt-oss-120b").passage_text()
    for needle in ("116.8B total", "5.1B active", "80 GB", "mxfp4", "apache-2.0", "huggingface.co"):
        assert needle in oss
    assert "Deprecation: gpt-4.5-preview retired 2025-07-14" in catalog.get("gpt-4.5-preview").passage_text()


# ---------------------------------------------------------------- load errors


def test_malformed_yaml_names_file_line_and_entry(tmp_path: Path) -> None:
    text = DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")
    anchor = "  - id: o4-mini\n"
    assert anchor in text
    broken = text.replace(anchor, anchor + "    name: [unclosed\n    : nope\n", 1)
    path = tmp_path / "models.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message and "malformed YAML" in message
    assert "o4-mini" in message
    assert "\n" not in message


def test_unknown_field_names_file_entry_field_and_line(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["models"][3]["colour"] = "blue"
    path = _write(tmp_path, raw)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{_line_of(path, 'colour:')}:")
    assert "models[3] (id=gpt-4.5-preview)" in message and "field 'colour'" in message
    assert "\n" not in message


def test_wrong_type_names_the_field(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["models"][2]["context_tokens"] = "lots"
    path = _write(tmp_path, raw)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message
    assert "models[2] (id=gpt-4.1-nano)" in message and "field 'context_tokens'" in message
    assert "'lots'" in message


def test_nested_wrong_type_names_the_dotted_field(tmp_path: Path, raw: dict[str, Any]) -> None:
    entry = next(m for m in raw["models"] if m["id"] == "gpt-oss-120b")
    entry["min_hardware"]["gpu_memory_gb"] = "eighty"
    path = _write(tmp_path, raw)
    with pytest.raises(CatalogError, match=r"\(id=gpt-oss-120b\) field 'min_hardware\.gpu_memory_gb'"):
        load_catalog(path)


def test_missing_field_must_be_an_explicit_null(tmp_path: Path, raw: dict[str, Any]) -> None:
    del raw["models"][0]["max_output_tokens"]
    path = _write(tmp_path, raw)
    with pytest.raises(
        CatalogError, match=r"models\[0\] \(id=gpt-4.1\) field 'max_output_tokens': Field required"
    ):
        load_catalog(path)


def test_duplicate_id_names_both_entries_and_line(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["models"].append(copy.deepcopy(raw["models"][0]))
    index = len(raw["models"]) - 1
    path = _write(tmp_path, raw)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message
    assert f"models[{index}] (id=gpt-4.1) field 'id'" in message
    assert "duplicate id 'gpt-4.1'" in message and "models[0]" in message
    dump_lines = path.read_text(encoding="utf-8").splitlines()
    line = int(message.removeprefix(f"{path}:").split(":")[0])
    assert dump_lines[line - 1].strip() == "- id: gpt-4.1" and line > _line_of(path, "- id: gpt-4.1")


def test_duplicate_yaml_key_is_rejected(tmp_path: Path) -> None:
    text = DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")
    anchor = "  - id: o3\n"
    path = tmp_path / "models.yaml"
    path.write_text(text.replace(anchor, anchor + "    name: O3\n", 1), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"duplicate key 'name'"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("model_id", "field", "value", "expected"),
    [
        ("gpt-oss-120b", "open_weights", False, "field 'open_weights': must be True"),
        ("gpt-oss-120b", "params_active_b", 500.0, "field 'params_active_b'"),
        ("gpt-oss-120b", "unverified", ["colour"], "field 'unverified'"),
        ("gpt-oss-120b", "license", "wtfpl", "field 'license': license 'wtfpl' not in licenses:"),
        ("gpt-oss-120b", "sources", [], "field 'sources'"),
        ("gpt-4.1", "kind", "closed", "field 'kind'"),
        ("gpt-4.1", "retired", "soon", "field 'retired': 'soon' is not a date"),
        ("gpt-4.1", "successor", "gpt-9", "field 'successor': successor 'gpt-9' is not a model id"),
        ("gpt-4.1", "successor", "gpt-4.1", "field 'successor': a model cannot replace itself"),
        ("gpt-4.1", "map_shutdown", "2026-01-01", "field 'map_shutdown': is set by the loader"),
        ("gpt-4.1", "litellm_key", "gpt-4.1", "field 'litellm_key'"),
    ],
)
def test_semantic_errors_name_entry_and_field(
    tmp_path: Path, raw: dict[str, Any], model_id: str, field: str, value: object, expected: str
) -> None:
    entry = next(m for m in raw["models"] if m["id"] == model_id)
    entry[field] = value
    path = _write(tmp_path, raw)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message and f"(id={model_id})" in message and expected in message


def test_weights_must_match_params(tmp_path: Path, raw: dict[str, Any]) -> None:
    entry = next(m for m in raw["models"] if m["id"] == "qwen3-32b")
    entry["weights_gb"]["fp8"] = 99
    path = _write(tmp_path, raw)
    with pytest.raises(CatalogError, match=r"\(id=qwen3-32b\).*field 'weights_gb.fp8'"):
        load_catalog(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(tmp_path / "absent.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(CatalogError, match=str(empty)):
        load_catalog(empty)


def test_catalog_built_directly_still_rejects_duplicates(raw: dict[str, Any]) -> None:
    raw["models"].append(copy.deepcopy(raw["models"][1]))
    with pytest.raises(ValidationError, match=r"duplicate id 'gpt-4\.1-mini'"):
        Catalog.model_validate(raw)


# ---------------------------------------------------------------- retrieval evals


def test_catalog_retrieval_evals_point_at_catalog_entries(catalog: Catalog) -> None:
    cases = yaml.safe_load((REPO / "evals" / "retrieval" / "catalog.yaml").read_text(encoding="utf-8"))
    assert len(cases) >= 10
    assert len({case["id"] for case in cases}) == len(cases)
    for case in cases:
        assert set(case) == {"id", "question", "expected"}
        assert case["question"].strip().endswith("?")
        in_catalog = [e for e in case["expected"] if e["path"] == "models.yaml"]
        assert in_catalog, case["id"]  # guide passages may answer too, but each case targets a catalog entry
        for expected in in_catalog:
            assert catalog.get(expected["section"]).id == expected["section"]
