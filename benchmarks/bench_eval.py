"""Eval runner concurrency: the same cases serial and with --concurrency 8, against a scripted model that takes a
fixed 0.5 s a request, the raw model latency measured in the same run.

    python benchmarks/bench_eval.py                 # 16 situation cases of evals/advisor.yaml, 3 rounds
    python benchmarks/bench_eval.py --rounds 1 --cases 8

The cases are first run once untimed (so the embedder's cache and every lazy import are warm for both timings),
then serial and concurrent alternate round by round. Target: concurrency 8 at least 5x faster than serial.
Medians throughout; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.config import REPO_ROOT, Settings, set_offline_env

set_offline_env()

LATENCY_S = 0.5
TARGET = 5.0


def _raw_request(base_url: str) -> float:
    """One request straight to the scripted server: the model's own latency, nothing of the advisor."""
    body = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "hello"}]}).encode()
    request = urllib.request.Request(f"{base_url}/chat/completions", body, {"Content-Type": "application/json",
                                                                           "Authorization": "Bearer x"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=16, help="situation cases to run (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each mode (default 3)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    from advisor.advisor import Advisor
    from advisor.eval_cases import load_dataset
    from advisor.eval_run import run_cases
    from advisor.llm import LiteLLM
    from advisor.store import Store
    from tests.fake_llm import FakeOpenAI

    cases = [c for c in load_dataset(REPO_ROOT / "evals" / "advisor.yaml").cases if c.kind == "situation"]
    cases = cases[: args.cases]
    with FakeOpenAI() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.delay_s = LATENCY_S
        llm = LiteLLM("openai/fake", api_base=fake.base_url, api_key="x", max_retries=0, context_tokens=4096)
        # The shipped index (make index) and reader answer; the turns go to a temporary store.
        settings = Settings(llm_max_retries=0)
        raw = statistics.median(_raw_request(fake.base_url) for _ in range(5))
        with Advisor(settings, llm=llm, store=Store(Path(tmp) / "turns.sqlite3")) as advisor:
            run_cases(advisor, cases, Path(tmp) / "warm", concurrency=args.concurrency)
            requests_before = len(fake.chat_requests())
            timings: dict[int, list[float]] = {1: [], args.concurrency: []}
            for r in range(args.rounds):
                for n in (1, args.concurrency):
                    started = time.perf_counter()
                    results = run_cases(advisor, cases, Path(tmp) / f"run-{r}-{n}", concurrency=n)
                    timings[n].append(time.perf_counter() - started)
                    assert len(results) == len(cases) and not any(c["metrics"]["error"] for c in results)
            calls = (len(fake.chat_requests()) - requests_before) / (2 * args.rounds * len(cases))
    serial, concurrent = statistics.median(timings[1]), statistics.median(timings[args.concurrency])
    floor = len(cases) * calls * raw  # the model's own time for the cases, one request after another
    speedup = serial / concurrent
    print(f"{len(cases)} cases, {calls:.1f} model requests a case, raw model latency {raw:.3f} s (median of 5)")
    print(f"serial          {serial:7.2f} s  = {serial / floor:.2f}x the model's own serial time")
    print(f"concurrency {args.concurrency:<3} {concurrent:7.2f} s  = {concurrent / floor:.2f}x it")
    print(f"speedup         {speedup:7.2f}x  (target >= {TARGET:g}x): {'ok' if speedup >= TARGET else 'BELOW TARGET'}")
    return 0 if speedup >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
