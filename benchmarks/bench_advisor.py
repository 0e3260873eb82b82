"""Conversation benchmarks: pipeline overhead per turn, and generation through the advisor vs raw llama.cpp.

    python benchmarks/bench_advisor.py            # overhead with an instant scripted model, then the local model
    python benchmarks/bench_advisor.py --no-local # overhead only

Time to the `verdict` event and to the first `text` event of a situation question are measured with both models;
the event stream's own cost is the share of a turn spent outside the components it calls (retrieval, reading,
scoring, prompts, token counting, the model, the store), each timed in the same turns.

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


class _Clock:
    """Time spent inside the components a turn calls (retrieval, reading, scoring, prompts, token counting,
    the model, the store), so that what is left of a turn's time is the pipeline's own glue and its events."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def wrap(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:  # a component calling another is counted once
                return original(*args, **kwargs)
            self._depth += 1
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
                return iter(list(result)) if hasattr(result, "__next__") else result  # a stream: its pieces too
            finally:
                self.seconds += time.perf_counter() - started
                self._depth -= 1

        setattr(owner, name, timed)


def _clock_components(advisor: Any) -> _Clock:
    import importlib

    clock = _Clock()
    for owner, names in ((advisor.retriever, ("search", "section")),
                         (advisor.store, ("turns", "add_turn", "get_conversation", "new_conversation")),
                         (advisor.llm, ("stream", "complete", "count_tokens"))):
        for name in names:
            clock.wrap(owner, name)
    # The pipeline imports these when it runs a step, so wrapping the module attribute is enough.
    for name in ("read", "route"):
        clock.wrap(advisor.reader, name)
    for module, name in (("advisor.scoring", "score_profile"),
                         ("advisor.scoring", "load_policy"), ("advisor.prompts", "render"),
                         ("advisor.prompt_context", "fit_passages"), ("advisor.prompt_context", "compact_costs"),
                         ("advisor.prompt_context", "compact_models"), ("advisor.answer_costs", "answer_costs"),
                         ("advisor.routing", "decide"), ("advisor.hygiene", "clean_message")):
        clock.wrap(importlib.import_module(module), name)
    return clock


def _understanding_times(advisor: Any) -> tuple[float, float]:
    """Median seconds to read a situation message and to route one, over the development situations."""
    from advisor.understanding_eval import dev_cases

    messages = [m for case in dev_cases() for m in case.messages]
    reader = advisor.reader
    reader.read(messages[:1])
    read, route = [], []
    for message in messages:
        started = time.perf_counter()
        reader.read([message])
        read.append(time.perf_counter() - started)
        started = time.perf_counter()
        reader.route(message)
        route.append(time.perf_counter() - started)
    return statistics.median(read), statistics.median(route)


# What the understanding step used to be: the bundled model asked for the situation's facts as schema-constrained
# JSON with the user's words (before the reader, this ran before every verdict). Kept here only to measure it.
_OLD_EXTRACTION = ("Read what the user wrote about their situation and fill in ONLY the facts they actually state. "
                   "For each fact, copy the user's exact supporting words into \"quote\" first, then give the value. "
                   "Fields: team_ml_expertise, data_sensitivity, deployment, task_scope, quality_bar, "
                   "labeled_examples, monthly_tokens, latency_ms, budget_usd, time_to_market_weeks.\n\n"
                   "What the user wrote:\n<user_text>\n{text}\n</user_text>\n\nReply with a JSON object "
                   '{{"facts": [{{"field": ..., "quote": ..., "value": ...}}]}}.')
_OLD_SCHEMA = {"title": "situation", "type": "object", "required": ["facts"], "properties": {"facts": {
    "type": "array", "items": {"type": "object", "required": ["field", "quote", "value"], "properties": {
        "field": {"type": "string"}, "quote": {"type": "string"},
        "value": {"type": ["string", "number", "boolean"]}}}}}}


def bench_overhead(settings: Settings, *, repeats: int) -> dict[str, float]:
    """Median turn latency with an instant scripted model (HTTP, through litellm), for fact and situation
    questions; time to the verdict and the first text; the share of a turn spent outside its components."""
    from advisor.advisor import Advisor
    from advisor.events import TextEvent, VerdictEvent
    from advisor.llm import LiteLLM
    from advisor.store import Store
    from tests.fake_llm import FakeOpenAI

    with FakeOpenAI() as fake, tempfile.TemporaryDirectory() as tmp:
        llm = LiteLLM("openai/fake", api_base=fake.base_url, api_key="x", max_retries=0, context_tokens=4096)
        advisor = Advisor(settings, llm=llm, store=Store(Path(tmp) / "db.sqlite3"))
        advisor.ask(FACT[0])  # warm: embedder, BM25 cache, litellm import
        times: dict[str, list[float]] = {"fact": [], "situation": []}
        verdict_s, first_text_s = [], []
        for _ in range(repeats):
            for kind, questions in (("fact", FACT), ("situation", SITUATION)):
                for q in questions:
                    started = time.perf_counter()
                    verdict_at = None
                    for event in advisor.events(q):
                        if isinstance(event, VerdictEvent):
                            verdict_at = time.perf_counter() - started
                            verdict_s.append(verdict_at)
                        elif verdict_at is not None and isinstance(event, TextEvent):
                            first_text_s.append(time.perf_counter() - started)
                            verdict_at = None
                    times[kind].append(time.perf_counter() - started)
        clock = _clock_components(advisor)
        turns, glue = [], []
        for _ in range(repeats):
            for q in FACT + SITUATION:
                before = clock.seconds
                started = time.perf_counter()
                advisor.ask(q)
                total = time.perf_counter() - started
                turns.append(total)
                glue.append((total - (clock.seconds - before)) / total)
        model_calls = len(fake.chat_requests())
    reading, routing = _understanding_times(advisor)
    return {"fact_ms_median": statistics.median(times["fact"]) * 1000,
            "situation_ms_median": statistics.median(times["situation"]) * 1000,
            "read_ms_median": reading * 1000, "route_ms_median": routing * 1000,
            "verdict_ms_median": statistics.median(verdict_s) * 1000,
            "first_text_ms_median": statistics.median(first_text_s) * 1000,
            "turn_ms_median": statistics.median(turns) * 1000, "glue_share_median": statistics.median(glue),
            "turns": sum(len(v) for v in times.values()) + len(turns), "model_calls": model_calls}


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
    """Generation through the advisor vs raw, first token, time to the verdict and the first text of a situation
    question, and peak memory, on the local model."""
    from advisor.advisor import Advisor
    from advisor.events import TextEvent, VerdictEvent
    from advisor.llm import open_llm
    from advisor.local_model import LocalServer
    from advisor.prompts import render
    from advisor.store import Store

    server = LocalServer(settings)
    base = server.ensure_running()
    try:
        llm = open_llm(settings)
        advisor = Advisor(settings, llm=llm, store=Store(settings.data_dir / "bench.sqlite3"))
        passages = advisor.retriever.search(FACT[0], k=settings.top_k)
        prompt = [{"role": "system", "content": render("system")},  # a fact question's real answer prompt
                  {"role": "user", "content": render("answer_fact", passages=passages, question=FACT[0], costs="",
                                                     models="")}]
        raw, ours = [], []
        for _ in range(repeats):
            raw.append(_raw_stream(base, prompt, 160))
            ours.append(_advisor_stream(llm, prompt, 160))
        ttft = []
        for question in FACT[1:3]:
            started = time.perf_counter()
            with advisor.events(question) as stream:
                for event in stream:
                    if isinstance(event, TextEvent) and event.delta.strip():
                        ttft.append(time.perf_counter() - started)
                        break
        verdict_s, first_text_s = [], []
        for question in SITUATION[:2]:
            started = time.perf_counter()
            with advisor.events(question) as stream:  # stopped after the first prose, to keep the run short
                for event in stream:
                    if isinstance(event, VerdictEvent):
                        verdict_s.append(time.perf_counter() - started)
                    elif isinstance(event, TextEvent) and not event.delta.startswith("**Recommendation"):
                        first_text_s.append(time.perf_counter() - started)
                        break
        advisor.ask(FACT[3])  # a full turn, for memory
        old = []
        for question in SITUATION[:2]:  # the model extraction the reader replaced, in the same run
            started = time.perf_counter()
            llm.complete([{"role": "user", "content": _OLD_EXTRACTION.format(text=question)}], max_tokens=400,
                         json_schema=_OLD_SCHEMA, deterministic=True)
            old.append(time.perf_counter() - started)
        raw_tps = statistics.median(r[1] for r in raw)
        our_tps = statistics.median(o[1] for o in ours)
        return {"raw_gen_tok_s": raw_tps, "advisor_gen_tok_s": our_tps, "gen_ratio": our_tps / raw_tps,
                "raw_first_token_s": statistics.median(r[0] for r in raw),
                "advisor_first_token_s": statistics.median(o[0] for o in ours),
                "turn_first_token_s": statistics.median(ttft), "verdict_s": statistics.median(verdict_s),
                "old_extraction_s": statistics.median(old),
                "situation_first_text_s": statistics.median(first_text_s),
                "server_peak_rss_mb": _rss_mb(server.pid), "advisor_peak_rss_mb": _rss_mb()}
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
        print(f"events     situation, instant model: verdict at {o['verdict_ms_median']:.0f} ms, first text at "
              f"{o['first_text_ms_median']:.0f} ms (medians)")
        print(f"reader     reading a situation message {o['read_ms_median']:.0f} ms, routing one "
              f"{o['route_ms_median']:.0f} ms (medians over the dev situations; target <= 200 ms)")
        print(f"events     a turn through the event stream {o['turn_ms_median']:.0f} ms, of which the pipeline's own "
              f"glue and events {o['glue_share_median']:.1%} and its components the rest (median; target <= 5%)")
        if not args.no_local:
            results["local"] = r = bench_local(settings, repeats=args.repeats)
            print(f"generation local model: {r['advisor_gen_tok_s']:.1f} tok/s through the advisor vs "
                  f"{r['raw_gen_tok_s']:.1f} raw -> ratio {r['gen_ratio']:.2f} (target >= 0.9)")
            print(f"first token same prompt: {r['advisor_first_token_s']:.1f} s advisor vs "
                  f"{r['raw_first_token_s']:.1f} s raw; a whole turn (retrieval + prompt + model): "
                  f"{r['turn_first_token_s']:.1f} s median")
            print(f"events     situation, local model: verdict at {r['verdict_s']:.1f} s (target <= 3 s), first prose "
                  f"at {r['situation_first_text_s']:.1f} s (medians); the model extraction it replaced took "
                  f"{r['old_extraction_s']:.1f} s a message in the same run")
            print(f"memory     peak RSS: server {r['server_peak_rss_mb']:.0f} MB, advisor process "
                  f"{r['advisor_peak_rss_mb']:.0f} MB")
    out = REPO_ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "advisor.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
