"""Conversation benchmarks: pipeline overhead per turn, and generation through the advisor vs raw llama.cpp.

    python benchmarks/bench_advisor.py            # overhead with an instant scripted model, then the local model
    python benchmarks/bench_advisor.py --no-local # overhead only

Overhead is measured with a scripted OpenAI-compatible server that answers instantly, so what remains is the
advisor's own work (retrieval, cues, scoring, prompt building, token counting, the SQLite store). Generation
tokens/s is measured on the same prompt twice, interleaved: straight to the llama.cpp server, and through the
advisor's model layer (litellm, streaming). Medians throughout; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.config import REPO_ROOT, Settings, set_offline_env

set_offline_env()

FACT = ["How much GPU memory do a 70B model's weights need in 4-bit?", "What is QLoRA?",
        "Which licence has a 700 million monthly active users clause?", "When was GPT-4.5 preview retired?"]
SITUATION = ["We are a hospital and patient records must stay on our servers. What should we do?",
             "We need to classify tickets into 12 labels, have 8,000 labelled examples and need answers in 50 ms.",
             "Our small team wants to prototype a chatbot in three weeks; which option fits?"]


def _rss_mb(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_overhead(settings: Settings, *, repeats: int) -> dict[str, float]:
    """Median turn latency with an instant scripted model, for fact and situation questions."""
    from advisor.advisor import Advisor
    from advisor.llm import LiteLLM
    from advisor.store import Store
    from tests.fake_llm import FakeOpenAI

    with FakeOpenAI() as fake, tempfile.TemporaryDirectory() as tmp:
        llm = LiteLLM("openai/fake", api_base=fake.base_url, api_key="x", max_retries=0, context_tokens=4096)
        advisor = Advisor(settings, llm=llm, store=Store(Path(tmp) / "db.sqlite3"))
        advisor.ask(FACT[0])  # warm: embedder, BM25 cache, litellm import
        times: dict[str, list[float]] = {"fact": [], "situation": []}
        for _ in range(repeats):
            for kind, questions in (("fact", FACT), ("situation", SITUATION)):
                for q in questions:
                    started = time.perf_counter()
                    advisor.ask(q)
                    times[kind].append(time.perf_counter() - started)
        model_calls = len(fake.chat_requests())
    return {"fact_ms_median": statistics.median(times["fact"]) * 1000,
            "situation_ms_median": statistics.median(times["situation"]) * 1000,
            "turns": sum(len(v) for v in times.values()), "model_calls": model_calls}


def _raw_stream(base_url: str, messages: list[dict[str, str]], max_tokens: int) -> tuple[float, float, int]:
    """Stream straight from the server: (seconds to first token, tokens/s after it, tokens)."""
    body = {"model": "local", "messages": messages, "max_tokens": max_tokens, "temperature": 0, "seed": 0,
            "stream": True, "stream_options": {"include_usage": True}, "repeat_penalty": 1.15,
            "repeat_last_n": 256, "cache_prompt": False}
    request = urllib.request.Request(base_url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    first = last = None
    tokens = 0
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=600) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = int(chunk["usage"].get("completion_tokens", tokens))
            if chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"):
                now = time.perf_counter()
                first = first or now
                last = now
    assert first is not None and last is not None
    return first - started, (tokens - 1) / max(last - first, 1e-9), tokens


def _advisor_stream(llm: Any, messages: list[dict[str, str]], max_tokens: int) -> tuple[float, float, int]:
    from advisor.llm import Completion

    started = time.perf_counter()
    first = last = None
    tokens = 0
    for piece in llm.stream(messages, max_tokens=max_tokens, deterministic=True):  # no prompt cache, like raw
        if isinstance(piece, Completion):
            tokens = piece.usage.get("completion_tokens", 0)
        else:
            now = time.perf_counter()
            first = first or now
            last = now
    assert first is not None and last is not None
    return first - started, (tokens - 1) / max(last - first, 1e-9), tokens


def bench_local(settings: Settings, *, repeats: int) -> dict[str, float]:
    """Generation through the advisor vs raw, time to first streamed token, and peak memory, on the local model."""
    from advisor.advisor import Advisor, Answer
    from advisor.llm import open_llm
    from advisor.local_model import LocalServer
    from advisor.store import Store

    server = LocalServer(settings)
    base = server.ensure_running()
    try:
        llm = open_llm(settings)
        advisor = Advisor(settings, llm=llm, store=Store(settings.data_dir / "bench.sqlite3"))
        plan_prompt = advisor._plan(FACT[0], [], "bench").prompt  # the real answer prompt of a fact question
        raw, ours = [], []
        for _ in range(repeats):
            raw.append(_raw_stream(base, plan_prompt, 160))
            ours.append(_advisor_stream(llm, plan_prompt, 160))
        ttft = []
        for question in FACT[1:3]:
            started = time.perf_counter()
            for piece in advisor.ask_stream(question):
                if isinstance(piece, str) and piece.strip():
                    ttft.append(time.perf_counter() - started)
                    break
            for piece in advisor.ask_stream(question):  # a full turn, for memory
                if isinstance(piece, Answer):
                    break
        raw_tps = statistics.median(r[1] for r in raw)
        our_tps = statistics.median(o[1] for o in ours)
        return {"raw_gen_tok_s": raw_tps, "advisor_gen_tok_s": our_tps, "gen_ratio": our_tps / raw_tps,
                "raw_first_token_s": statistics.median(r[0] for r in raw),
                "advisor_first_token_s": statistics.median(o[0] for o in ours),
                "turn_first_token_s": statistics.median(ttft), "server_peak_rss_mb": _rss_mb(server.pid),
                "advisor_peak_rss_mb": _rss_mb()}
    finally:
        server.stop()


def main() -> int:
    """Run the benchmarks and print each figure with its same-run comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-local", action="store_true", help="skip the local-model part")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="advisor-bench-") as tmp:
        data = Path(tmp)
        (data / "models").symlink_to(REPO_ROOT / ".advisor-data" / "models", target_is_directory=True)
        settings = Settings(data_dir=data, local_port=8491)
        from advisor.index import open_index

        open_index(settings).ingest(progress=False)
        results: dict[str, Any] = {"overhead": bench_overhead(settings, repeats=args.repeats)}
        o = results["overhead"]
        print(f"overhead   instant model, {o['turns']:.0f} turns: fact {o['fact_ms_median']:.0f} ms median, "
              f"situation {o['situation_ms_median']:.0f} ms median (target <= 100 ms)")
        if not args.no_local:
            results["local"] = r = bench_local(settings, repeats=args.repeats)
            print(f"generation local model: {r['advisor_gen_tok_s']:.1f} tok/s through the advisor vs "
                  f"{r['raw_gen_tok_s']:.1f} raw -> ratio {r['gen_ratio']:.2f} (target >= 0.9)")
            print(f"first token same prompt: {r['advisor_first_token_s']:.1f} s advisor vs "
                  f"{r['raw_first_token_s']:.1f} s raw; a whole turn (retrieval + prompt + model): "
                  f"{r['turn_first_token_s']:.1f} s median")
            print(f"memory     peak RSS: server {r['server_peak_rss_mb']:.0f} MB, advisor process "
                  f"{r['advisor_peak_rss_mb']:.0f} MB")
    out = REPO_ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "advisor.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
