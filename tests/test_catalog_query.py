"""Tests for catalog queries: each filter against hand-computed ids from models.yaml, ranking, staleness, errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from advisor.catalog import Catalog, load_catalog
from advisor.catalog_query import (
    DEFAULT_STALE_AFTER_DAYS,
    CatalogQuery,
    CatalogQueryError,
    blended_price,
    parse_date_text,
    parse_query,
    query_catalog,
    select_models,
    stale_facts,
    suggested_model,
)
from advisor.prices import price_map_from_json

TODAY = dt.date(2026, 11, 29)  # the catalog's as_of date
API = {
    "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4.5-preview", "o3", "o4-mini", "claude-opus-4",
    "claude-sonnet-4", "gemini-2.5-pro", "gemini-2.5-flash", "mistral-medium-3", "magistral-medium-1.0",
}  # fmt: skip
SMALL = {
    "qwen2.5-0.5b", "qwen2.5-1.5b", "smollm2-135m", "smollm2-360m", "smollm2-1.7b", "llama-3.2-1b",
    "llama-3.2-3b", "phi-4-mini-instruct", "gemma-3-1b", "gemma-3-4b", "gemma-3-12b", "gemma-3-27b",
}  # fmt: skip
OPEN = {
    "gpt-oss-120b", "gpt-oss-20b", "llama-4-scout", "llama-4-maverick", "qwen3-235b-a22b", "qwen3-30b-a3b",
    "qwen3-32b", "qwen3-8b", "qwen3-0.6b", "deepseek-v3", "deepseek-r1", "magistral-small-1.0",
    "bitnet-b1.58-2b-4t", "llm360-k2",
}  # fmt: skip
PRICED = API | {"qwen3-32b", "deepseek-v3", "deepseek-r1"}


# Query mechanics are checked against the catalog as compiled on 2026-11-29 (frozen; curated prices, nothing
# retired), so that these hand-computed ids do not move with the facts; tests/test_catalog.py covers the shipped one.
FROZEN = Path(__file__).resolve().parent / "data" / "models-2026-11-29.yaml"
NO_MAP = price_map_from_json("{}", source="no map", version="none", path="-", read_on=TODAY)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(FROZEN, prices=NO_MAP)


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog()


def _ids(catalog: Catalog, **criteria: Any) -> set[str]:
    return set(query_catalog(catalog, criteria, today=TODAY).ids())


def _order(catalog: Catalog, **criteria: Any) -> list[str]:
    return query_catalog(catalog, criteria, today=TODAY).ids()


# ---------------------------------------------------------------- filters


def test_no_criteria_returns_every_model_in_catalog_order(catalog: Catalog) -> None:
    result = query_catalog(catalog, today=TODAY)
    assert result.ids() == catalog.ids()
    assert result.count == result.total == 38
    assert set(result.ids()) == API | OPEN | SMALL


def test_open_weights_and_kind(catalog: Catalog) -> None:
    assert _ids(catalog, open_weights=True) == OPEN | SMALL
    assert _ids(catalog, open_weights=False) == API
    assert _ids(catalog, kind="small") == SMALL
    assert _ids(catalog, kind="open_weight") == OPEN


def test_license_is_id_or_prefix_case_insensitive(catalog: Catalog) -> None:
    assert _ids(catalog, license="LLAMA") == {"llama-4-scout", "llama-4-maverick", "llama-3.2-1b", "llama-3.2-3b"}
    assert _ids(catalog, license=" Llama-3.2-Community ") == {"llama-3.2-1b", "llama-3.2-3b"}
    assert _ids(catalog, license="mistral") == {"mistral-medium-3", "magistral-medium-1.0"}
    assert _ids(catalog, license="proprietary") == API - {"mistral-medium-3", "magistral-medium-1.0"}
    assert _ids(catalog, license="qwen-research") == set()  # a license entry no model uses


def test_commercial_use_unknown_never_matches(catalog: Catalog) -> None:
    # The OpenAI / Anthropic / Google API entries record commercial_use as null (API terms, not a licence).
    assert _ids(catalog, commercial_use=True) == OPEN | SMALL | {"mistral-medium-3", "magistral-medium-1.0"}
    assert _ids(catalog, commercial_use=False) == set()


def test_min_context(catalog: Catalog) -> None:
    million = {"gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gemini-2.5-pro", "gemini-2.5-flash"}
    assert _ids(catalog, min_context=1_000_000) == million | {"llama-4-scout", "llama-4-maverick"}
    assert _ids(catalog, min_context=1_048_576) == {"gemini-2.5-pro", "gemini-2.5-flash", "llama-4-scout"}
    assert "llm360-k2" not in _ids(catalog, min_context=0)  # unknown context never meets a bound


def test_modalities(catalog: Catalog) -> None:
    image_in = (API - {"magistral-medium-1.0"}) | {
        "llama-4-scout", "llama-4-maverick", "gemma-3-4b", "gemma-3-12b", "gemma-3-27b",
    }  # fmt: skip
    assert _ids(catalog, modality_in="image") == image_in
    assert _ids(catalog, modality_in="IMAGE") == image_in
    assert _ids(catalog, modality_in="video") == {"gemini-2.5-pro", "gemini-2.5-flash"}
    assert _ids(catalog, modality_in="image", open_weights=True, kind="small") == {
        "gemma-3-4b", "gemma-3-12b", "gemma-3-27b",
    }  # fmt: skip
    assert _ids(catalog, modality_out="text") == API | OPEN | SMALL
    assert _ids(catalog, modality_out="image") == set()


def test_params_range_uses_total_params_and_skips_unknown(catalog: Catalog) -> None:
    assert _ids(catalog, min_params_b=7, max_params_b=35) == {
        "gpt-oss-20b",  # 20.9
        "qwen3-30b-a3b",  # 30.5 total, 3.3 active: total counts
        "qwen3-32b",  # 32.8
        "qwen3-8b",  # 8.2
        "magistral-small-1.0",  # 23.57
        "gemma-3-12b",
        "gemma-3-27b",
    }
    assert _ids(catalog, min_params_b=400) == {"llama-4-maverick", "deepseek-v3", "deepseek-r1"}
    assert _ids(catalog, max_params_b=0.5) == {"qwen2.5-0.5b", "smollm2-135m", "smollm2-360m"}
    assert _ids(catalog, min_params_b=0) == OPEN | SMALL  # API params are undisclosed: never in range
    assert _ids(catalog, min_params_b=1, max_params_b=1) == {"gemma-3-1b"}  # bounds are inclusive


def test_fits_gb_at_int4_with_default_overhead(catalog: Catalog) -> None:
    # int4 weights × 1.2 <= 24 GB, i.e. int4 weights <= 20 GB.
    too_big = {"gpt-oss-120b", "llama-4-scout", "llama-4-maverick", "qwen3-235b-a22b", "deepseek-v3", "deepseek-r1"}
    assert _ids(catalog, fits_gb=24, precision="int4") == (OPEN | SMALL) - too_big - {"llm360-k2"}  # 32.5 GB
    result = query_catalog(catalog, {"fits_gb": 24, "precision": "int4", "text": "gemma-3-27b"}, today=TODAY)
    assert result.hits[0].required_gb == pytest.approx(13.5 * 1.2)


def test_fits_gb_precision_and_overhead(catalog: Catalog) -> None:
    bf16_24 = {
        "qwen3-8b", "qwen3-0.6b", "bitnet-b1.58-2b-4t", "qwen2.5-0.5b", "qwen2.5-1.5b", "smollm2-135m",
        "smollm2-360m", "smollm2-1.7b", "llama-3.2-1b", "llama-3.2-3b", "phi-4-mini-instruct", "gemma-3-1b",
        "gemma-3-4b", "gemma-3-12b",
    }  # fmt: skip
    assert _ids(catalog, fits_gb=24, overhead=0) == bf16_24  # precision defaults to bf16; 24 GB <= 24 kept
    assert _ids(catalog, fits_gb=24, precision="bf16") == bf16_24 - {"gemma-3-12b"}  # 24 × 1.2 > 24
    assert _ids(catalog, fits_gb=28.8, precision="bf16") == bf16_24  # 24 × 1.2 == 28.8: on the boundary
    fp8_80 = (OPEN | SMALL) - {
        "gpt-oss-120b", "llama-4-scout", "llama-4-maverick", "qwen3-235b-a22b", "deepseek-v3", "deepseek-r1",
    }  # fmt: skip
    assert _ids(catalog, fits_gb=80, precision="fp8") == fp8_80  # llm360-k2: 65 × 1.2 = 78 fits
    assert query_catalog(catalog, {"fits_gb": 80}, today=TODAY).hits[0].required_gb is not None
    assert all(hit.required_gb is None for hit in query_catalog(catalog, today=TODAY).hits)


@given(
    fits=st.floats(min_value=0.01, max_value=2000, allow_nan=False),
    precision=st.sampled_from(["bf16", "fp8", "int4"]),
    overhead=st.floats(min_value=0, max_value=1, allow_nan=False),
)
def test_fits_gb_matches_params_arithmetic(catalog: Catalog, fits: float, precision: str, overhead: float) -> None:
    kept = _ids(catalog, fits_gb=fits, precision=precision, overhead=overhead)
    per_param = {"bf16": 2.0, "fp8": 1.0, "int4": 0.5}[precision]
    for model in catalog.models:
        if model.params_total_b is None:
            assert model.id not in kept
            continue
        need = model.params_total_b * per_param * (1 + overhead)
        if abs(need - fits) > 0.02 * fits:  # weights_gb is rounded to 1%; skip the boundary
            assert (model.id in kept) == (need <= fits), model.id


def test_max_gpu_gb_keeps_the_min_hardware_filter(catalog: Catalog) -> None:
    assert _ids(catalog, max_gpu_gb=1) == {"bitnet-b1.58-2b-4t", "qwen2.5-0.5b", "qwen2.5-1.5b", "smollm2-135m",
                                           "smollm2-360m", "llama-3.2-1b"}  # fmt: skip
    assert _ids(catalog, max_gpu_gb=24) == set(m.id for m in select_models(catalog, max_gpu_gb=24))


def test_text_search_over_id_name_vendor_strengths(catalog: Catalog) -> None:
    assert _ids(catalog, text="Anthropic") == {"claude-opus-4", "claude-sonnet-4"}  # vendor
    assert _ids(catalog, text="GEMMA") == {"gemma-3-1b", "gemma-3-4b", "gemma-3-12b", "gemma-3-27b"}
    assert _ids(catalog, text="swe-bench") == {  # strengths
        "gpt-4.1", "o3", "o4-mini", "claude-opus-4", "claude-sonnet-4", "gemini-2.5-pro",
    }  # fmt: skip
    assert _ids(catalog, text="on-device") == {
        "smollm2-135m", "smollm2-360m", "smollm2-1.7b", "llama-3.2-1b", "llama-3.2-3b",
    }  # fmt: skip
    assert _ids(catalog, text="17Bx16E") == {"llama-4-scout"}  # name
    assert _ids(catalog, text="Knowledge cutoff") == set()  # notes are not searched


def test_catalog_filter_delegates_to_the_query(catalog: Catalog) -> None:
    assert select_models(catalog, kind="small", license="gemma", max_gpu_gb=8) == [
        catalog.get("gemma-3-1b"), catalog.get("gemma-3-4b"),
    ]  # fmt: skip
    with pytest.raises(CatalogQueryError, match="field 'kind': unknown kind 'closed'"):
        select_models(catalog, kind="closed")


# ---------------------------------------------------------------- ranking


def test_sort_by_blended_price(catalog: Catalog) -> None:
    assert blended_price(catalog.get("gpt-4.1-nano")) == pytest.approx(0.8 * 0.1 + 0.2 * 0.4)
    assert _order(catalog, kind="api", sort_by="price_blended") == [
        "gpt-4.1-nano",  # 0.16
        "gpt-4.1-mini",  # 0.64
        "mistral-medium-3",  # 0.72
        "gemini-2.5-flash",  # 0.74
        "o4-mini",  # 1.76
        "magistral-medium-1.0",  # 2.6
        "gemini-2.5-pro",  # 3.0
        "gpt-4.1",  # 3.2, tied with o3: catalog order
        "o3",
        "claude-sonnet-4",  # 5.4
        "claude-opus-4",  # 27
        "gpt-4.5-preview",  # 90
    ]
    assert _order(catalog, kind="api", sort_by="price_blended", descending=True)[:3] == [
        "gpt-4.5-preview", "claude-opus-4", "claude-sonnet-4",
    ]  # fmt: skip


def test_ties_keep_catalog_order_and_unknowns_go_last(catalog: Catalog) -> None:
    # $2.00 input: gpt-4.1, o3 and magistral-medium-1.0, in catalog order whichever the direction.
    ascending = _order(catalog, kind="api", sort_by="price_in")
    assert [i for i in ascending if i in {"gpt-4.1", "o3", "magistral-medium-1.0"}] == [
        "gpt-4.1", "o3", "magistral-medium-1.0",
    ]  # fmt: skip
    descending = _order(catalog, kind="api", sort_by="price_in", descending=True)
    assert [i for i in descending if i in {"gpt-4.1", "o3", "magistral-medium-1.0"}] == [
        "gpt-4.1", "o3", "magistral-medium-1.0",
    ]  # fmt: skip
    unpriced = [m.id for m in catalog.models if m.price is None]
    for descending_flag in (False, True):
        order = _order(catalog, sort_by="price_blended", descending=descending_flag)
        assert order[len(PRICED) :] == unpriced and set(order[: len(PRICED)]) == PRICED
    assert _order(catalog, sort_by="price_blended")[0] == "qwen3-32b"  # $0.112, a third-party listing
    by_params = _order(catalog, sort_by="params", descending=True)
    assert by_params[:4] == ["deepseek-v3", "deepseek-r1", "llama-4-maverick", "qwen3-235b-a22b"]
    assert set(by_params[-len(API) :]) == API
    assert _order(catalog, sort_by="params")[0] == "smollm2-135m"
    assert _order(catalog, sort_by="context", descending=True)[:7] == [
        "llama-4-scout", "gemini-2.5-pro", "gemini-2.5-flash", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano",
        "llama-4-maverick",
    ]  # fmt: skip
    assert _order(catalog, sort_by="context")[-1] == "llm360-k2"  # context unknown


def test_sort_by_release_and_name(catalog: Catalog) -> None:
    # "2024" counts as 2024-01-01 and "2024-12" as 2024-12-01.
    assert _order(catalog, sort_by="release", limit=9) == [
        "llm360-k2", "qwen2.5-0.5b", "qwen2.5-1.5b", "llama-3.2-1b", "llama-3.2-3b", "smollm2-135m",
        "smollm2-360m", "smollm2-1.7b", "deepseek-v3",
    ]  # fmt: skip
    assert _order(catalog, sort_by="release", descending=True)[:2] == ["gpt-oss-120b", "gpt-oss-20b"]
    assert _order(catalog, sort_by="name", limit=3) == ["bitnet-b1.58-2b-4t", "claude-opus-4", "claude-sonnet-4"]


def test_limit_applies_after_sorting(catalog: Catalog) -> None:
    result = query_catalog(catalog, {"kind": "api", "sort_by": "price_blended", "limit": 3}, today=TODAY)
    assert result.ids() == ["gpt-4.1-nano", "gpt-4.1-mini", "mistral-medium-3"]
    assert (result.count, result.total) == (3, 12)
    assert query_catalog(catalog, {"limit": 100}, today=TODAY).count == 38


# ---------------------------------------------------------------- staleness and provenance


def test_old_prices_are_flagged_possibly_stale(catalog: Catalog) -> None:
    result = query_catalog(catalog, {"stale_after_days": 365, "today": "2026-11-29"})
    stale = {hit.model.id for hit in result.hits if hit.possibly_stale}
    assert stale == PRICED - {"qwen3-32b"}  # every price is from 2025 except qwen3-32b's 2026-11 listing
    hits = {hit.model.id: hit for hit in result.hits}
    nano = hits["gpt-4.1-nano"]
    assert nano.price_date == "2025-04" and nano.as_of == "2026-11-29"
    assert nano.age_days == (TODAY - dt.date(2025, 4, 1)).days == 607  # month precision: the 1st
    assert nano.stale_reason == "price dated 2025-04 is 607 days old (limit 365)"
    assert hits["qwen3-32b"].age_days == 28 and hits["qwen3-32b"].stale_reason is None
    gemma = hits["gemma-3-4b"]  # no price; as_of is today
    assert (gemma.price_date, gemma.age_days, gemma.possibly_stale, gemma.stale_reason) == (None, 0, False, None)


def test_stale_after_days_comes_from_caller_then_query(catalog: Catalog) -> None:
    default = query_catalog(catalog, today=TODAY)
    assert default.stale_after_days == DEFAULT_STALE_AFTER_DAYS == 365
    relaxed = query_catalog(catalog, today=TODAY, stale_after_days=1000)
    assert not any(hit.possibly_stale for hit in relaxed.hits)  # oldest price: 2025-01, 697 days
    strict = query_catalog(catalog, {"stale_after_days": 600}, today=TODAY, stale_after_days=1000)
    assert strict.stale_after_days == 600  # the query's own value wins
    assert {h.model.id for h in strict.hits if h.possibly_stale} == {
        "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4.5-preview", "o4-mini", "deepseek-v3", "deepseek-r1",
    }  # fmt: skip
    off = query_catalog(catalog, today=TODAY, stale_after_days=None)
    assert off.stale_after_days is None and not any(hit.possibly_stale for hit in off.hits)
    assert off.hits[0].age_days == 607  # ages are still reported
    with pytest.raises(CatalogQueryError, match="stale_after_days"):
        query_catalog(catalog, today=TODAY, stale_after_days=-1)


def test_old_as_of_is_flagged_and_today_kwarg_wins(catalog: Catalog) -> None:
    later = dt.date(2027, 12, 1)  # 367 days after as_of
    result = query_catalog(catalog, {"kind": "small", "today": "2026-11-29"}, today=later)
    assert result.today == later
    for hit in result.hits:
        assert hit.possibly_stale and hit.stale_reason == "facts as_of 2026-11-29 is 367 days old (limit 365)"
    both = query_catalog(catalog, {"text": "deepseek-r1"}, today=later).hits[0]
    assert both.stale_reason is not None and both.stale_reason.startswith("facts as_of 2026-11-29 is 367 days")
    assert "; price dated 2025-01 is 1064 days old" in both.stale_reason and both.age_days == 1064


def test_day_precision_price_dates_and_the_boundary() -> None:
    data = yaml.safe_load(FROZEN.read_text(encoding="utf-8"))
    entry = next(m for m in data["models"] if m["id"] == "gpt-4.1")
    entry["price"]["date"] = "2025-04-14"
    catalog = Catalog.model_validate(data)
    on_limit = query_catalog(catalog, {"text": "gpt-4.1-nano"}, today=dt.date(2026, 4, 14))
    assert on_limit.hits[0].possibly_stale and on_limit.hits[0].age_days == 378  # "2025-04" means 2025-04-01
    query = {"license": "proprietary", "text": "gpt-4.1", "limit": 1}
    exactly = query_catalog(catalog, query, today=dt.date(2026, 4, 14)).hits[0]
    assert exactly.model.id == "gpt-4.1" and exactly.age_days == 365 and not exactly.possibly_stale
    older = query_catalog(catalog, query, today=dt.date(2026, 4, 15)).hits[0]
    assert older.age_days == 366 and older.possibly_stale


def test_parse_date_text_precisions() -> None:
    assert parse_date_text("2025-04-14") == dt.date(2025, 4, 14)
    assert parse_date_text("2025-04") == dt.date(2025, 4, 1)
    assert parse_date_text("2024") == dt.date(2024, 1, 1)
    assert parse_date_text("early 2026") is None and parse_date_text("2025-13") is None


def test_every_result_carries_sources_and_as_of_and_is_json_ready(catalog: Catalog) -> None:
    result = query_catalog(catalog, {"open_weights": True, "sort_by": "params", "fits_gb": 80}, today=TODAY)
    data = result.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["query"] == {"open_weights": True, "sort_by": "params", "fits_gb": 80.0, "overhead": 0.2,
                             "descending": False, "include_retired": False}  # fmt: skip
    assert data["count"] == len(data["results"]) == result.total
    assert (data["today"], data["stale_after_days"]) == ("2026-11-29", 365)
    for item, hit in zip(data["results"], result.hits, strict=True):
        assert item["sources"] and item["sources"] == hit.model.sources == list(hit.sources)
        assert item["as_of"] == "2026-11-29"
        assert {"price_date", "age_days", "possibly_stale", "stale_reason", "required_gb"} <= set(item)
        assert set(hit.model.model_dump()) <= set(item)
    for hit in query_catalog(catalog, today=TODAY).hits:
        assert hit.sources and hit.as_of == hit.model.as_of
    assert result.as_dict() == query_catalog(catalog, result.query, today=TODAY).as_dict()  # deterministic


# ---------------------------------------------------------------- invalid queries


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"colour": "blue"}, "unknown field 'colour' (known: open_weights, license,"),
        ({"limit": -1}, "field 'limit': Input should be greater than or equal to 1 (got -1)"),
        ({"limit": 0}, "field 'limit'"),
        ({"sort_by": "cost"}, "field 'sort_by': unknown sort key 'cost'; expected one of price_in,"),
        ({"kind": "closed"}, "field 'kind': unknown kind 'closed'"),
        ({"precision": "fp4", "fits_gb": 24}, "field 'precision'"),
        ({"precision": "int4"}, "field 'precision': only applies together with fits_gb"),
        ({"descending": True}, "field 'descending': only applies together with sort_by"),
        ({"min_params_b": 70, "max_params_b": 7}, "field 'min_params_b': 70 exceeds max_params_b 7"),
        ({"min_context": "lots"}, "field 'min_context'"),
        ({"fits_gb": 0}, "field 'fits_gb'"),
        ({"license": "  "}, "field 'license'"),
        ({"today": "soon"}, "field 'today'"),
        ({"stale_after_days": -5}, "field 'stale_after_days'"),
    ],
)
def test_invalid_queries_name_the_field(catalog: Catalog, criteria: dict[str, Any], expected: str) -> None:
    with pytest.raises(CatalogQueryError) as info:
        query_catalog(catalog, criteria, today=TODAY)
    message = str(info.value)
    assert message.startswith("catalog query: ") and expected in message and "\n" not in message


def test_direct_construction_raises_pydantic_errors() -> None:
    with pytest.raises(ValidationError, match="limit"):
        CatalogQuery(limit=-1)
    assert parse_query(CatalogQuery(limit=2)) == CatalogQuery(limit=2)
    assert parse_query({"license": " MIT "}).license == "mit"


# ---------------------------------------------------------------- retired models (the shipped catalog)

SHIPPED_DAY = dt.date(2026, 12, 4)  # the day the shipped catalog's lifecycle facts were read


def test_retired_models_are_left_out_of_queries_unless_asked(shipped: Catalog) -> None:
    current = query_catalog(shipped, today=SHIPPED_DAY)
    everything = query_catalog(shipped, {"include_retired": True}, today=SHIPPED_DAY)
    retired = {"gpt-4.5-preview", "gpt-4.1-nano", "o4-mini", "claude-opus-4", "claude-sonnet-4", "gemini-2.5-pro",
               "gemini-2.5-flash", "magistral-medium-1.0", "claude-sonnet-4-5"}
    assert set(everything.ids()) - set(current.ids()) == retired
    assert not any(hit.retired for hit in current.hits)
    marked = {hit.model.id: hit for hit in everything.hits if hit.retired}
    assert set(marked) == retired and marked["gpt-4.5-preview"].shutdown_date == "2025-07-14"
    # A shutdown only announced is current until its day, then retired.
    assert "o3" in current.ids() and query_catalog(shipped, today=dt.date(2026, 12, 11)).ids().count("o3") == 0


def test_newest_models_come_first_with_sources_and_dates(shipped: Catalog) -> None:
    result = query_catalog(shipped, {"sort_by": "release", "descending": True, "limit": 6}, today=SHIPPED_DAY)
    assert result.ids()[0] == "gpt-5.5"
    for hit in result.hits:
        assert hit.sources and hit.as_of and not hit.retired
        assert parse_date_text(hit.model.release) >= dt.date(2026, 1, 1)  # type: ignore[operator]


@pytest.mark.parametrize("day", [dt.date(2025, 6, 1), SHIPPED_DAY, dt.date(2026, 12, 11), dt.date(2027, 1, 14),
                                 dt.date(2027, 4, 1), dt.date(2030, 1, 1)])
def test_no_retired_model_is_ever_the_suggested_model(shipped: Catalog, day: dt.date) -> None:
    for preferred in ["gpt-4.1-mini", "gpt-4.5-preview", "o4-mini", "gemini-2.5-flash", ["o3", "gpt-4.1"]]:
        model = suggested_model(shipped, preferred, today=day)
        assert not model.is_retired(day) and model.price is not None and model.kind == "api"
    # Gemini 2.5 Flash names Gemini 3 Flash as its replacement; an unknown id falls through to the cheapest.
    if SHIPPED_DAY <= day < dt.date(2030, 1, 1):
        assert suggested_model(shipped, "gemini-2.5-flash", today=day).id == "gemini-3-flash-preview"
    assert not suggested_model(shipped, "no-such-model", today=day).is_retired(day)


def test_suggested_model_keeps_a_current_preference(shipped: Catalog) -> None:
    assert suggested_model(shipped, "gpt-4.1-mini", today=SHIPPED_DAY).id == "gpt-4.1-mini"
    assert suggested_model(shipped, "gpt-4.1-mini", today=dt.date(2027, 1, 14)).id != "gpt-4.1-mini"


def test_stale_facts_lines_for_answers(shipped: Catalog) -> None:
    lines = stale_facts(shipped, ["gpt-4.5-preview", "gpt-5.5", "mistral-large-3", "nope"], today=SHIPPED_DAY)
    assert lines[0] == "GPT-4.5 (preview) was retired on 2025-07-14; it is not an option today."
    assert len(lines) == 2 and lines[1].startswith("Mistral Large 3 (2512): catalog facts as of 2025-12-02")
