"""Shared-state load test: 50 conversations x 3 turns over 2 replica processes sharing one store, SQLite vs
PostgreSQL, with an instant scripted model, against the bare store measured in the same run.

    python benchmarks/bench_store.py                      # 50 conversations x 3 turns, 8 at once per replica
    python benchmarks/bench_store.py --conversations 20 --workers 4

Each replica is its own process running the Advisor (tests/replica.py): the shipped index and reader (`make index`;
each replica reads its own copy of the embedded index, the store is what they share), the scripted OpenAI-compatible
server on loopback answering at once, and the store at ADVISOR_DATABASE_URL: one SQLite file, then one database of a
throw-away PostgreSQL server (Debian's, started here as the tests start it). Half the conversations go to each
replica, each conversation's turns in order, `--workers` conversations at once per replica. Every turn is then
looked up in the store: a turn missing, out of order or in the wrong conversation is lost. Nothing leaves loopback.

Raw: the bare store in this process, `add_turn` from 4 threads into fresh conversations on the same back end (turns/s
and latency), so each replica figure is also a ratio against what the store alone does. Target: 0 errors, 0 lost
turns. Medians and percentiles of one run; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.config import REPO_ROOT, Settings, set_offline_env

set_offline_env()

TEXTS = ("We are a hospital and patient records must stay on our servers; our ML engineers have fine-tuned models "
         "before. What should we do?",
         "And what would it cost at 2 billion tokens a month?",
         "How much GPU memory do a 70B model's weights need in 4-bit?")
RAW_TURNS = 400


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _raw_store(url: str) -> dict[str, float]:
    """The bare store: add_turn from 4 threads, each into its own fresh conversation."""
    from advisor.store import Store

    store = Store(url)
    conversations = [store.new_conversation() for _ in range(4)]
    latencies: list[float] = []
    lock = threading.Lock()

    def write(k: int) -> None:
        for i in range(RAW_TURNS // 4):
            started = time.perf_counter()
            store.add_turn(conversations[k], user=f"raw {k} {i}", answer="a", standalone_question=None,
                           recommendation=None, sources=[{"id": "x", "path": "guides/x.md"}], profile={"i": i},
                           scores=None, model="m", latency_s=0.0, usage={"total_tokens": 1}, cost_usd=None)
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    wall = time.perf_counter() - started
    assert sum(len(store.turns(c)) for c in conversations) == RAW_TURNS
    store.close()
    return {"rate": RAW_TURNS / wall, "p50": statistics.median(latencies), "p99": _percentile(latencies, 0.99)}


def _replica_env(root: Path, n: int, url: str, llm_base_url: str) -> dict[str, str]:
    shipped = REPO_ROOT / ".advisor-data"
    data = root / f"replica-{n}"
    data.mkdir(parents=True)
    shutil.copytree(shipped / "chroma", data / "chroma")
    if (shipped / "bm25").is_dir():
        shutil.copytree(shipped / "bm25", data / "bm25")
    (data / "reader").symlink_to(shipped / "reader", target_is_directory=True)
    return {"ADVISOR_DATA_DIR": str(data), "ADVISOR_DATABASE_URL": url, "ADVISOR_LLM": "openai/fake",
            "ADVISOR_LLM_API_BASE": llm_base_url, "ADVISOR_LLM_API_KEY": "x", "ADVISOR_LLM_CONTEXT_TOKENS": "4096",
            "ADVISOR_LLM_MAX_RETRIES": "0", "ADVISOR_LLM_TIMEOUT_S": "60"}


def _load(url: str, root: Path, llm_base_url: str, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    """Both replicas on one store: warm them, then the timed conversations; then count what the store holds."""
    from advisor.store import Store
    from tests.replica import Replica

    replicas = [Replica(_replica_env(root / tag, n, url, llm_base_url), log=root / f"{tag}-replica-{n}.log")
                for n in range(2)]
    try:
        for replica in replicas:
            replica.ready()
        with ThreadPoolExecutor(max_workers=2) as pool:  # untimed: every lazy import and cache warm
            list(pool.map(lambda r: r[1].send({"op": "ask", "conversations": [
                {"key": f"warm:{tag}:{r[0]}", "texts": list(TEXTS)}]}), enumerate(replicas)))
        plan = [{"key": f"bench:{tag}:{i}", "texts": [f"{text} (conversation {i})" for text in TEXTS[: args.turns]]}
                for i in range(args.conversations)]
        halves = [plan[0::2], plan[1::2]]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            replies = list(pool.map(lambda pair: pair[0].send(
                {"op": "ask", "conversations": pair[1], "workers": args.workers}), zip(replicas, halves, strict=True)))
        wall = time.perf_counter() - started
    finally:
        for replica in replicas:
            replica.close()
    rows = [row for reply in replies for row in reply["turns"]]
    errors = [row for row in rows if row["error"]]
    store = Store(url)
    lost = 0
    for conversation in plan:
        conversation_id = store.find_external(conversation["key"])
        turns = store.turns(conversation_id) if conversation_id else []
        kept = [t.user for t in turns if t.error is None and t.answer]
        lost += sum(1 for i, text in enumerate(conversation["texts"]) if i >= len(kept) or kept[i] != text)
    store.close()
    latencies = [row["latency_s"] for row in rows]
    return {"turns": len(rows), "rate": len(rows) / wall, "p50": statistics.median(latencies),
            "p99": _percentile(latencies, 0.99), "errors": len(errors), "lost": lost, "wall": wall,
            "first_error": errors[0]["error"] if errors else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=3, choices=(1, 2, 3), help="turns per conversation")
    parser.add_argument("--workers", type=int, default=8, help="conversations at once per replica")
    args = parser.parse_args()
    if not (REPO_ROOT / ".advisor-data" / "chroma").is_dir():
        print("no shipped index: run `make index` first", file=sys.stderr)
        return 1

    from tests.fake_llm import FakeOpenAI
    from tests.postgres import MISSING, PostgresServer, find_bindir

    Settings()  # a bad ADVISOR_* value fails here, before anything starts
    bindir = find_bindir()
    if bindir is None:
        print(MISSING, file=sys.stderr)
        return 1
    results: dict[str, tuple[dict[str, float], dict[str, Any]]] = {}
    server = PostgresServer(bindir).start()
    try:
        with FakeOpenAI() as fake, tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            root = Path(tmp)
            for name in ("sqlite", "postgresql"):
                raw_url = f"sqlite:///{root / 'raw.sqlite3'}" if name == "sqlite" else server.create_database()
                load_url = f"sqlite:///{root / 'shared.sqlite3'}" if name == "sqlite" else server.create_database()
                results[name] = (_raw_store(raw_url), _load(load_url, root, fake.base_url, args, name))
    finally:
        server.stop()

    total = args.conversations * args.turns
    print(f"{args.conversations} conversations x {args.turns} turns over 2 replicas, {args.workers} at once each, "
          f"instant scripted model; raw = bare store add_turn from 4 threads in one process")
    ok = True
    for name, (raw, load) in results.items():
        print(f"{name:<10} {load['rate']:6.1f} turns/s = {load['rate'] / raw['rate']:.3f}x raw {raw['rate']:.0f}/s | "
              f"p50 {load['p50'] * 1000:6.0f} ms = {load['p50'] / raw['p50']:.0f}x raw {raw['p50'] * 1000:.1f} ms | "
              f"p99 {load['p99'] * 1000:6.0f} ms = {load['p99'] / raw['p99']:.0f}x raw {raw['p99'] * 1000:.1f} ms | "
              f"errors {load['errors']}/{load['turns']} | lost {load['lost']}/{total}")
        if load["first_error"]:
            print(f"           first error: {load['first_error']}")
        ok = ok and load["errors"] == 0 and load["lost"] == 0 and load["turns"] == total
    sqlite_rate, pg_rate = results["sqlite"][1]["rate"], results["postgresql"][1]["rate"]
    print(f"postgresql/sqlite turns/s {pg_rate / sqlite_rate:.2f}x; target 0 errors, 0 lost: "
          f"{'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
