"""Hybrid retrieval over the shipped knowledge, with the real embedder and Chroma."""

from __future__ import annotations

import pytest

from advisor.evaluation import evaluate_retrieval, load_retrieval_cases
from advisor.retrieval import MAX_QUERY_CHARS, HybridRetriever, QueryError


def test_dev_eval_set_hit_rate_and_mrr(retriever: HybridRetriever) -> None:
    cases = load_retrieval_cases()
    assert len(cases) >= 30
    result = evaluate_retrieval(retriever, cases, k=5)
    assert result.hit_at_k >= 0.9, result.misses
    assert result.mrr >= 0.7, result.mrr


def test_eval_cases_point_at_passages_that_exist(shipped_index) -> None:  # type: ignore[no-untyped-def]
    indexed = {(m["path"], m["section"]) for _, _, m in shipped_index.iter_records()}
    for case in load_retrieval_cases():
        for passage in case.expected:
            assert (passage.path, passage.section) in indexed, (case.id, passage)


def test_hits_carry_citation_fields(retriever: HybridRetriever) -> None:
    hits = retriever.search("Which licence has a 700 million monthly active users clause?", k=5)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        assert hit.id and hit.title and hit.path and hit.text and 0 < hit.score <= 1
        assert set(hit.source()) == {"id", "title", "path", "section", "score"}
    assert any("700" in h.text for h in hits)


def test_kind_and_document_filters(retriever: HybridRetriever) -> None:
    catalog = retriever.search("open-weight model that runs on one 80 GB GPU", k=5, kind="catalog")
    assert catalog and {h.kind for h in catalog} == {"catalog"}
    assert all(h.path == "models.yaml" for h in catalog)
    guides = retriever.search("GPU memory", k=5, kind="guide")
    assert {h.kind for h in guides} == {"guide"}
    only = retriever.search("costs", k=3, document="guides/option-api.md")
    assert only and {h.doc_id for h in only} == {"guides/option-api.md"}
    assert retriever.search("costs", k=3, kind="user") == []


def test_exact_terms_are_found_by_bm25(retriever: HybridRetriever) -> None:
    hits = retriever.search("MXFP4", k=5)
    assert any(h.bm25_score for h in hits)
    assert any("gpt-oss" in (h.section + h.text).lower() for h in hits)


@pytest.mark.parametrize("phrase", ["What can go wrong with", "What is the catch with",
                                    "What should we watch out for with"])
def test_everyday_phrases_for_downsides_find_the_drawbacks_section(retriever: HybridRetriever, phrase: str) -> None:
    hits = retriever.search(f"{phrase} a small task-specific model?", k=3)
    assert ("guides/option-small-model.md", "Drawbacks and risks") in [(h.path, h.section) for h in hits]


def test_bad_queries(retriever: HybridRetriever) -> None:
    with pytest.raises(QueryError, match="empty"):
        retriever.search(" \t\x00\n ")
    with pytest.raises(QueryError, match="too long"):
        retriever.search("x" * (MAX_QUERY_CHARS + 1))
    assert retriever.search("air\x07gapped\x1b deployment", k=1)  # control characters are dropped


def test_bm25_cache_is_reused_and_follows_ingests(shipped_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = HybridRetriever(shipped_index)
    first.search("break-even volume", k=1)
    cache = shipped_index.settings.data_dir / "bm25" / shipped_index.settings.collection / "advisor-meta.json"
    assert cache.is_file()
    stamp = cache.stat().st_mtime_ns
    HybridRetriever(shipped_index).search("break-even volume", k=1)
    assert cache.stat().st_mtime_ns == stamp  # loaded from disk, not rebuilt

    note = tmp_path / "zebra.md"
    note.write_text("# Zebra note\n\nThe quagga zebrafication protocol needs no GPU.\n", encoding="utf-8")
    shipped_index.ingest([note], progress=False)
    try:
        hits = first.search("quagga zebrafication", k=1)
        assert hits[0].title == "Zebra note" and hits[0].bm25_score
    finally:
        note.unlink()
        shipped_index.ingest(progress=False)
    assert all(h.title != "Zebra note" for h in first.search("quagga zebrafication", k=3))
