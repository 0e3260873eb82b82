"""The deterministic tools as llama-index FunctionTools: option scoring, costs, catalog search, guidance search.

Every tool validates its arguments with the same pydantic schema it advertises, returns its result as JSON text
(the model reads it) with the Python object as raw_output, and turns bad arguments into an `{"error": ...}`
result the model can correct, never an exception that ends the conversation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from advisor.catalog_query import CatalogQuery
from advisor.profile import Profile

if TYPE_CHECKING:
    from llama_index.core.tools import FunctionTool

    from advisor.config import Settings
    from advisor.retrieval import HybridRetriever

__all__ = ["CostArgs", "ModelSearchArgs", "SearchArgs", "build_tools", "tool_error"]


class CostArgs(BaseModel):
    """Arguments of the cost tool."""

    model_config = ConfigDict(extra="forbid")
    monthly_tokens: float = Field(ge=0, description="Inference volume per month, input plus output tokens.")
    api_model: str | None = Field(default=None, description="Catalog id of a current API model to price "
                                  "(default: gpt-4.1-mini while current, else the cheapest current one).")
    open_model: str = Field(default="gpt-oss-120b", description="Catalog id of the open-weight model to self-host.")
    gpu: Literal["h100", "a100", "h200"] | None = Field(default=None, description="GPU type for self-hosting.")
    years: int | None = Field(default=None, ge=1, le=10, description="Horizon for multi-year totals.")


# The catalog tool takes every catalog filter and sort, but not the date fields that exist for tests and settings.
_SEARCH_FIELDS: dict[str, Any] = {name: (info.annotation, info) for name, info in CatalogQuery.model_fields.items()
                                   if name not in ("today", "stale_after_days")}
ModelSearchArgs: type[BaseModel] = create_model(
    "ModelSearchArgs", __config__=ConfigDict(extra="forbid"), __doc__="Arguments of the catalog tool.",
    **_SEARCH_FIELDS,
)


class SearchArgs(BaseModel):
    """Arguments of the guidance search tool."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=2000, description="What to look up in the guides and catalog.")
    kind: Literal["guide", "catalog"] | None = Field(default=None, description="Only guides, or only the catalog.")
    k: int = Field(default=5, ge=1, le=10, description="How many passages to return.")


def tool_error(message: str) -> dict[str, str]:
    """The result a tool returns for arguments it cannot use."""
    return {"error": message}


def _validated(schema: type[BaseModel], run: Callable[[Any], Any]) -> Callable[..., Any]:
    def call(**kwargs: Any) -> Any:
        try:
            return run(schema.model_validate(kwargs))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "arguments"
            return tool_error(f"field '{field}': {err['msg']}")
        except (ValueError, KeyError) as exc:
            return tool_error(str(exc).strip("'\""))

    return call


def _json(output: Any) -> str:
    return json.dumps(output, ensure_ascii=False, default=str)


def build_tools(settings: Settings, *, retriever: HybridRetriever | None = None) -> list[FunctionTool]:
    """The tools the chat advisor can call; the guidance search is included when a retriever is given."""
    from llama_index.core.tools import FunctionTool

    from advisor.catalog import load_catalog
    from advisor.catalog_query import query_catalog
    from advisor.scoring import load_policy, score_profile

    catalog = load_catalog(settings.catalog_path)

    def score(profile: Profile) -> dict[str, Any]:
        return score_profile(profile, policy=load_policy(settings.policy_path, settings.knowledge_dir)).as_dict()

    def costs(args: CostArgs) -> dict[str, Any]:
        from advisor.catalog_query import DEFAULT_API_MODEL, suggested_model
        from advisor.cost_assumptions import load_cost_assumptions
        from advisor.costs import compare

        api_model = args.api_model or suggested_model(catalog, DEFAULT_API_MODEL).id
        result = compare(api_model, args.open_model, args.monthly_tokens, years=args.years, gpu=args.gpu,
                         catalog=catalog, assumptions=load_cost_assumptions(settings.costs_path))
        return result.as_dict()

    def models(args: BaseModel) -> dict[str, Any]:
        query = CatalogQuery.model_validate(args.model_dump(exclude_none=True))
        return query_catalog(catalog, query, stale_after_days=settings.catalog_stale_days).as_dict()

    tools = [
        FunctionTool.from_defaults(
            fn=_validated(Profile, score), name="score_options", fn_schema=Profile, callback=_json,
            description=(
                "Score the four ways to get an LLM (api, open_weight, pretrain, small_model) for the user's "
                "situation. Pass only the facts the user stated; leave the rest out and the scorer will assume "
                "documented defaults and report them. Returns the ranking with traced reasons and guide "
                "sources, the recommendation, assumptions, and the smallest changes that would flip it.")),
        FunctionTool.from_defaults(
            fn=_validated(CostArgs, costs), name="estimate_costs", fn_schema=CostArgs, callback=_json,
            description=(
                "Monthly and multi-year cost of an API model versus self-hosting an open-weight model at a "
                "given monthly token volume, with GPUs needed, the break-even volume and every assumption "
                "(prices with dates and sources). Model ids come from the catalog.")),
        FunctionTool.from_defaults(
            fn=_validated(ModelSearchArgs, models), name="search_models", fn_schema=ModelSearchArgs,
            callback=_json,
            description=(
                "Find models in the catalog by open weights, licence, commercial use, context length, "
                "modality, parameter count or memory fit at a precision; sort by price or size. Every result "
                "carries its sources, as_of date and a possibly_stale flag.")),
    ]
    if retriever is not None:
        def search(args: SearchArgs) -> list[dict[str, Any]]:
            return [h.as_dict() for h in retriever.search(args.query, k=args.k, kind=args.kind)]

        tools.append(FunctionTool.from_defaults(
            fn=_validated(SearchArgs, search), name="search_guidance", fn_schema=SearchArgs, callback=_json,
            description=("Search the build-vs-buy guides and the model catalog; returns passages with their "
                         "title, path, section and text for citation.")))
    return tools
