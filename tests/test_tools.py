"""The deterministic tools as llama-index FunctionTools, as an agent (or a forced call) would use them."""

from __future__ import annotations

import json

import pytest

from advisor.config import Settings
from advisor.profile import FIELD_ORDER
from advisor.tools import build_tools


@pytest.fixture(scope="module")
def tools():  # type: ignore[no-untyped-def]
    return {t.metadata.name: t for t in build_tools(Settings())}


def test_tool_schemas_are_precise(tools) -> None:  # type: ignore[no-untyped-def]
    assert set(tools) == {"score_options", "estimate_costs", "search_models"}
    score = tools["score_options"].metadata.to_openai_tool()["function"]
    assert score["name"] == "score_options" and "api, open_weight, pretrain, small_model" in score["description"]
    props = score["parameters"]["properties"]
    assert set(props) == set(FIELD_ORDER)
    assert all(p.get("description") for p in props.values())
    assert "air_gapped" in json.dumps(props["deployment"])
    models = tools["search_models"].metadata.get_parameters_dict()["properties"]
    assert "today" not in models and "stale_after_days" not in models and "sort_by" in models
    costs = tools["estimate_costs"].metadata.get_parameters_dict()
    assert costs["required"] == ["monthly_tokens"]


def test_score_tool_returns_json_and_the_verdict(tools) -> None:  # type: ignore[no-untyped-def]
    out = tools["score_options"].call(data_sensitivity="regulated", team_ml_expertise="experienced")
    assert out.raw_output["recommended"] == "open_weight"
    assert json.loads(out.content)["recommended"] == "open_weight"
    assert any(a["field"] == "deployment" for a in out.raw_output["assumptions"])


@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("score_options", {"deployment": "moon"}, "field 'deployment'"),
    ("score_options", {"colour": "blue"}, "field 'colour'"),
    ("estimate_costs", {"monthly_tokens": -5}, "field 'monthly_tokens'"),
    ("estimate_costs", {"monthly_tokens": 1e9, "api_model": "nope"}, "unknown model id 'nope'"),
    ("search_models", {"sort_by": "vibes"}, "field 'sort_by'"),
    ("search_models", {"today": "2020-01-01"}, "field 'today'"),
])
def test_bad_arguments_become_correctable_errors(tools, name: str, kwargs: dict, message: str) -> None:  # type: ignore[no-untyped-def]
    out = tools[name].call(**kwargs)
    assert set(out.raw_output) == {"error"} and message in out.raw_output["error"]
    assert json.loads(out.content) == out.raw_output


def test_cost_and_catalog_tools(tools) -> None:  # type: ignore[no-untyped-def]
    costs = tools["estimate_costs"].call(monthly_tokens=2e10, api_model="gpt-4.1", open_model="qwen3-32b").raw_output
    text = json.dumps(costs)
    assert "break_even" in text and "assumptions" in text
    found = tools["search_models"].call(open_weights=True, license="apache", sort_by="params", descending=True,
                                        limit=3).raw_output
    assert found["results"][0]["id"] == "mistral-large-3"  # 675B, Apache 2.0
    assert all(r["sources"] and r["as_of"] for r in found["results"])


def test_tools_never_suggest_a_retired_model(tools) -> None:  # type: ignore[no-untyped-def]
    from advisor.catalog import load_catalog

    catalog = load_catalog()
    default = tools["estimate_costs"].call(monthly_tokens=1e9).raw_output
    assert not catalog.get(default["api"]["model_id"]).is_retired()
    refused = tools["estimate_costs"].call(monthly_tokens=1e9, api_model="gpt-4.5-preview").raw_output
    assert "retired on 2025-07-14" in refused["error"]
    listed = tools["search_models"].call(kind="api").raw_output["results"]
    assert listed and not any(r["is_retired"] for r in listed)
    assert "gpt-4.5-preview" not in {r["id"] for r in listed}


def test_guidance_search_tool(shipped_index) -> None:  # type: ignore[no-untyped-def]
    from advisor.retrieval import HybridRetriever

    tools = {t.metadata.name: t for t in build_tools(shipped_index.settings,
                                                        retriever=HybridRetriever(shipped_index))}
    hits = tools["search_guidance"].call(query="700 million monthly active users", kind="guide", k=3).raw_output
    assert len(hits) == 3 and all(h["kind"] == "guide" for h in hits)
    assert "error" in tools["search_guidance"].call(query="").raw_output
