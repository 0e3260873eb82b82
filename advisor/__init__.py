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
    "load_catalog",
    "load_policy",
    "open_index",
    "parse_profile",
    "query_catalog",
    "score_profile",
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
