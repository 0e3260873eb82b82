"""advisor: a build-vs-buy advisor for getting an LLM.

The public API is listed in `__all__`; names load lazily so that `import advisor` (and `advisor --help`) stays
instant and never pulls in torch, chromadb or litellm.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogHit",
    "CatalogQuery",
    "CatalogQueryError",
    "Hit",
    "HybridRetriever",
    "IngestReport",
    "KnowledgeIndex",
    "ModelEntry",
    "Policy",
    "Profile",
    "ProfileError",
    "QueryError",
    "ScoreResult",
    "Settings",
    "api_cost",
    "break_even",
    "build_tools",
    "compare",
    "cost_series",
    "fine_tune_cost",
    "load_catalog",
    "load_policy",
    "open_index",
    "parse_profile",
    "pretrain_cost",
    "query_catalog",
    "score_profile",
    "self_host_cost",
]

_WHERE = {
    "Catalog": "advisor.catalog",
    "CatalogError": "advisor.catalog",
    "ModelEntry": "advisor.catalog",
    "load_catalog": "advisor.catalog",
    "CatalogHit": "advisor.catalog_query",
    "CatalogQuery": "advisor.catalog_query",
    "CatalogQueryError": "advisor.catalog_query",
    "query_catalog": "advisor.catalog_query",
    "Profile": "advisor.profile",
    "ProfileError": "advisor.profile",
    "parse_profile": "advisor.profile",
    "Policy": "advisor.scoring",
    "ScoreResult": "advisor.scoring",
    "load_policy": "advisor.scoring",
    "score_profile": "advisor.scoring",
    "api_cost": "advisor.costs",
    "break_even": "advisor.costs",
    "compare": "advisor.costs",
    "cost_series": "advisor.costs",
    "fine_tune_cost": "advisor.costs",
    "pretrain_cost": "advisor.costs",
    "self_host_cost": "advisor.costs",
    "build_tools": "advisor.tools",
    "Hit": "advisor.retrieval",
    "HybridRetriever": "advisor.retrieval",
    "QueryError": "advisor.retrieval",
    "IngestReport": "advisor.index",
    "KnowledgeIndex": "advisor.index",
    "open_index": "advisor.index",
    "Settings": "advisor.config",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'advisor' has no attribute {name!r}")
