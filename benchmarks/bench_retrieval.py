"""Ingest and retrieval benchmarks, each figure a ratio against the raw component measured in the same run.

    python benchmarks/bench_retrieval.py            # ingest (2,100 chunks), re-ingest, retrieval at 10k and 100k
    python benchmarks/bench_retrieval.py --quick    # skip the 100k-chunk run

The machine is shared and noisy: every latency is a median, and raw and advisor measurements are interleaved.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.config import REPO_ROOT, Settings, set_offline_env

set_offline_env()

QUERIES = [
    "We handle patient records and cannot send them to a vendor",
    "What does GPT-4.1 cost per million tokens?",
    "How much GPU memory does a 70B model need in 4-bit?",
    "When does self-hosting become cheaper than an API?",
    "Should we pre-train our own model from scratch?",
    "Which licence has a 700 million monthly active users clause?",
    "We only need to classify support tickets into 12 labels",
    "How long do API models stay available before retirement?",
    "LoRA versus full fine-tuning memory for an 8B model",
    "air-gapped deployment on our own servers",
]


def _words() -> list[str]:
    text = " ".join(p.read_text(encoding="utf-8") for p in (REPO_ROOT / "knowledge" / "guides").glob("*.md"))
    return re.findall(r"[A-Za-z][A-Za-z0-9-]+", text)


def _synthetic_text(rng, words: list[str], n: int) -> str:  # type: ignore[no-untyped-def]
    picks = rng.integers(0, len(words), size=n)
    return " ".join(words[i] for i in picks) + "."


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_ingest(tmp: Path, *, docs: int, sections: int) -> dict[str, float]:
    """Full ingest of a synthetic corpus vs raw sentence-transformers encode of the same texts; then re-ingest."""
    import numpy as np
    from llama_index.core.schema import MetadataMode

    from advisor.corpus import discover_user_paths
    from advisor.index import open_index

    rng = np.random.default_rng(7)
    words = _words()
    corpus = tmp / "corpus"
    corpus.mkdir()
    for d in range(docs):
        body = "".join(f"## Section {s}\n\n{_synthetic_text(rng, words, 110)}\n\n" for s in range(sections))
        (corpus / f"doc{d:04}.md").write_text(f"# Synthetic document {d}\n\n{body}", encoding="utf-8")
    empty_kb = tmp / "kb"
    (empty_kb / "guides").mkdir(parents=True)
    index = open_index(Settings(data_dir=tmp / "data", knowledge_dir=empty_kb))
    embedder = index.embedder
    # The exact texts the ingest embeds (title and section lines included).
    refs, _ = discover_user_paths([corpus], salt=index._salt(), max_bytes=10**9)
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for r in refs for n in index._nodes_for(r.load(), "x")]
    embedder.encode(texts[:64])  # warm-up

    def raw() -> float:
        started = time.perf_counter()
        embedder._model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        return len(texts) / (time.perf_counter() - started)

    raw_before = raw()
    report = index.ingest([corpus], progress=False)
    ingest_rate = report.chunks_added / report.seconds
    raw_after = raw()
    raw_rate = statistics.mean([raw_before, raw_after])
    again = [index.ingest([corpus], progress=False) for _ in range(3)]
    re_seconds = statistics.median(r.seconds for r in again)
    return {
        "chunks": report.chunks_added, "raw_encode_texts_per_s": raw_rate, "ingest_chunks_per_s": ingest_rate,
        "ingest_vs_raw": ingest_rate / raw_rate, "full_ingest_s": report.seconds,
        "reingest_s_median": re_seconds, "reingest_embedded": max(r.embedded for r in again),
        "reingest_vs_full": re_seconds / report.seconds,
    }


def bench_retrieval(tmp: Path, *, chunks: int, repeats: int) -> dict[str, float]:
    """Hybrid search median latency vs raw query embedding + raw Chroma top-k on the same collection."""
    import numpy as np
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    from advisor.index import open_index
    from advisor.retrieval import HybridRetriever

    rng = np.random.default_rng(11)
    words = _words()
    empty_kb = tmp / "kb"
    (empty_kb / "guides").mkdir(parents=True, exist_ok=True)
    index = open_index(Settings(data_dir=tmp / f"data-{chunks}", knowledge_dir=empty_kb))
    collection = index.collection
    dim = index.embedder.dimension
    started = time.perf_counter()
    batch = 5000
    for start in range(0, chunks, batch):
        n = min(batch, chunks - start)
        vectors = rng.standard_normal((n, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids, docs, metas = [], [], []
        for i in range(start, start + n):
            doc_id = f"user:/synthetic/doc{i // 20}.md"
            node = TextNode(id_=f"{doc_id}::{i % 20}", text=_synthetic_text(rng, words, 100), metadata={
                "title": f"Synthetic {i // 20}", "section": f"Section {i % 20}", "kind": "user",
                "path": doc_id[5:], "doc_id": doc_id, "doc_hash": "x", "chunk_index": i % 20, "n_chunks": 20})
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
            ids.append(node.node_id)
            docs.append(node.text)
            metas.append(node_to_metadata_dict(node, remove_text=True, flat_metadata=True))
        collection.add(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)
    index._bump_generation()
    load_s = time.perf_counter() - started
    retriever = HybridRetriever(index)
    started = time.perf_counter()
    retriever.warm()
    bm25_build_s = time.perf_counter() - started
    model = index.embedder._model

    raw_times, ours_times, embed_times, query_times = [], [], [], []
    for _ in range(repeats):
        for q in QUERIES:
            t0 = time.perf_counter()
            vec = model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
            t1 = time.perf_counter()
            collection.query(query_embeddings=vec, n_results=5)
            t2 = time.perf_counter()
            retriever.search(q, k=5)
            t3 = time.perf_counter()
            embed_times.append(t1 - t0)
            query_times.append(t2 - t1)
            raw_times.append(t2 - t0)
            ours_times.append(t3 - t2)
    raw_ms = statistics.median(raw_times) * 1000
    ours_ms = statistics.median(ours_times) * 1000
    return {
        "chunks": chunks, "load_s": load_s, "bm25_build_s": bm25_build_s,
        "raw_embed_ms_median": statistics.median(embed_times) * 1000,
        "raw_chroma_ms_median": statistics.median(query_times) * 1000,
        "raw_total_ms_median": raw_ms, "hybrid_ms_median": ours_ms, "hybrid_vs_raw": ours_ms / raw_ms,
        "peak_rss_mb": _maxrss_mb(),
    }


def _in_subprocess(args: list[str]) -> dict[str, float]:
    # Each scale runs in its own process so that its peak memory is its own.
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    """Run the benchmarks and print each figure with its same-run ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-chunk retrieval run")
    parser.add_argument("--part", choices=["ingest", "retrieval"], help=argparse.SUPPRESS)
    parser.add_argument("--chunks", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        with tempfile.TemporaryDirectory(prefix="advisor-bench-") as tmp:
            if args.part == "ingest":
                result = bench_ingest(Path(tmp), docs=100, sections=21)
            else:
                result = bench_retrieval(Path(tmp), chunks=args.chunks, repeats=5)
        print(json.dumps(result))
        return 0

    results: dict[str, dict[str, float]] = {"ingest": _in_subprocess(["--part", "ingest"])}
    ing = results["ingest"]
    print(f"ingest     {ing['chunks']:.0f} chunks: {ing['ingest_chunks_per_s']:.1f} chunks/s vs raw encode "
          f"{ing['raw_encode_texts_per_s']:.1f} texts/s -> ratio {ing['ingest_vs_raw']:.3f} (target >= 0.85)")
    print(f"re-ingest  nothing changed: {ing['reingest_s_median'] * 1000:.0f} ms median, "
          f"{ing['reingest_embedded']:.0f} embedded -> {ing['reingest_vs_full']:.4f} of full ingest "
          f"({ing['full_ingest_s']:.1f} s; target <= 0.05)")
    for chunks in [10_000] + ([] if args.quick else [100_000]):
        r = results[f"retrieval_{chunks}"] = _in_subprocess(["--part", "retrieval", "--chunks", str(chunks)])
        print(f"retrieval  {chunks:,} chunks: hybrid {r['hybrid_ms_median']:.1f} ms median vs raw "
              f"{r['raw_total_ms_median']:.1f} ms (embed {r['raw_embed_ms_median']:.1f} + chroma "
              f"{r['raw_chroma_ms_median']:.1f}) -> ratio {r['hybrid_vs_raw']:.2f} (target <= 2); "
              f"peak RSS {r['peak_rss_mb']:.0f} MB; load {r['load_s']:.0f} s, BM25 build {r['bm25_build_s']:.1f} s")
    out = REPO_ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "retrieval.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
