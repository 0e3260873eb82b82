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
    "Hit",
    "HybridRetriever",
    "IngestReport",
    "KnowledgeIndex",
    "ModelEntry",
    "QueryError",
    "Settings",
    "load_catalog",
    "open_index",
]

_WHERE = {
    "Catalog": "advisor.catalog",
    "CatalogError": "advisor.catalog",
    "ModelEntry": "advisor.catalog",
    "load_catalog": "advisor.catalog",
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
