"""The bundled local model's llama.cpp runtimes compared, then speed by thread count, start-up, memory, request shapes.

    python benchmarks/bench_local_model.py              # runtimes; threads 1 and 2, quiet and with one core busy
    python benchmarks/bench_local_model.py --quick      # one run per config, no contention runs
    python benchmarks/bench_local_model.py --no-checks  # speeds only

Runtimes: the prebuilt xllamacpp wheel, and the native llama-server built for this CPU by `make runtime`
(python -m advisor.runtime build) as the app runs it, and with other micro-batch sizes and flash attention off;
each row gives its prompt throughput as a ratio of the best candidate's in the same run, and the instruction sets
its machine code uses (AVX-512 and VNNI instructions counted with objdump), which is where the gap comes from.

Speeds come from the server's own `timings` in the OpenAI-compatible HTTP response (a ~1,200-token prompt, 200
output tokens, temperature 0, prompt cache off); every figure is a median over the runs. The request-shape checks
go through litellm exactly as the app does. The machine is shared and noisy: re-run before quoting a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.config import REPO_ROOT, Settings, set_offline_env

set_offline_env()

from advisor.local_model import MODEL_ALIAS, LocalServer, assemble_model  # noqa: E402

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PROMPT_TOKENS = 1200
OUTPUT_TOKENS = 200


@dataclass
class Run:
    prompt_n: int
    prompt_tps: float
    gen_n: int
    gen_tps: float
    wall_s: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body: dict[str, Any], *, timeout: float = 600) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with _OPENER.open(request, timeout=timeout) as response:
        return json.loads(response.read())


def _rss_mb(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of a process, MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _evict_from_page_cache(path: Path) -> None:
    """Make the next start read the model from disk (a cold start), without touching any other file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _prompt_text(root: str) -> str:
    """About PROMPT_TOKENS tokens of the shipped guides, trimmed with the server's own tokenizer."""
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO_ROOT / "knowledge" / "guides").glob("*.md")))
    tokens = _post(root + "/tokenize", {"content": text})["tokens"][: PROMPT_TOKENS - 60]
    return str(_post(root + "/detokenize", {"tokens": tokens})["content"])


def _timed_run(root: str, context: str, n: int) -> Run:
    body = {
        "model": MODEL_ALIAS,
        "messages": [
            {"role": "system", "content": f"Run {n}. You advise teams on how to get an LLM. Use the context."},
            {"role": "user", "content": f"Context:\n{context}\n\nSummarise the main options and their costs."},
        ],
        "temperature": 0, "max_tokens": OUTPUT_TOKENS, "ignore_eos": True, "cache_prompt": False,
    }
    start = time.perf_counter()
    reply = _post(root + "/v1/chat/completions", body)
    wall = time.perf_counter() - start
    t = reply["timings"]
    return Run(t["prompt_n"], t["prompt_per_second"], t["predicted_n"], t["predicted_per_second"], wall)


def _start(model: Path, *, port: int, threads: int, ctx: int, log: Path,
           command: list[str] | None = None) -> tuple[subprocess.Popen[bytes], float]:
    """Start `python -m advisor.local_model serve` (or command) and wait until /health answers; return it and the
    seconds."""
    start = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command or [sys.executable, "-m", "advisor.local_model", "serve", "--model", str(model), "--port",
                        str(port), "--threads", str(threads), "--ctx", str(ctx), "--parent-pid", str(os.getpid())],
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
        )
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log}")
        try:
            with _OPENER.open(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.05)


def bench_threads(model: Path, tmp: Path, *, threads: int, busy: bool, runs: int, cold: bool) -> dict[str, Any]:
    """Cold start, RSS and median prompt/generation speed for one thread count, optionally with a core kept busy."""
    if cold:
        _evict_from_page_cache(model)
    port = _free_port()
    proc, start_s = _start(model, port=port, threads=threads, ctx=4096, log=tmp / "server.log")
    idle_rss, _ = _rss_mb(proc.pid)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        root = f"http://127.0.0.1:{port}"
        context = _prompt_text(root)
        results = [_timed_run(root, context, n) for n in range(runs)]
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    rss, peak = _rss_mb(proc.pid)
    proc.terminate()
    proc.wait(timeout=10)
    return {
        "threads": threads, "busy_core": busy, "cold_start": cold, "start_s": round(start_s, 2),
        "rss_idle_mb": round(idle_rss), "rss_after_mb": round(rss), "rss_peak_mb": round(peak),
        "prompt_tokens": results[0].prompt_n, "output_tokens": results[0].gen_n,
        "prompt_tok_s": round(statistics.median(r.prompt_tps for r in results), 1),
        "gen_tok_s": round(statistics.median(r.gen_tps for r in results), 1),
        "wall_s": round(statistics.median(r.wall_s for r in results), 1),
        "runs": runs,
    }


def _instruction_sets(binary: Path) -> str:
    """AVX-512 (zmm) and VNNI (vpdpbusd) instructions in a binary's machine code, counted with objdump."""
    if shutil.which("objdump") is None:
        return "objdump not installed"
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(binary)], capture_output=True, text=True,
                             check=False).stdout
    return f"{listing.count('zmm')} zmm, {listing.count('vpdpbusd')} vpdpbusd"


def bench_runtimes(model: Path, tmp: Path, *, settings: Settings, runs: int) -> list[dict[str, Any]]:
    """Prompt and generation speed of each llama.cpp runtime on the same prompt, with the app's threads and slots."""
    import xllamacpp

    from advisor.local_model import GOMP_SPINCOUNT
    from advisor.runtime import native_command, native_server

    os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)  # as `advisor.local_model serve` sets it
    threads = settings.local_threads
    wheel = Path(xllamacpp.__file__).parent
    candidates: list[tuple[str, list[str] | None, Path]] = [  # (name, llama-server's extra flags, binary)
        ("xllamacpp wheel (prebuilt)", None, next(wheel.glob("xllamacpp*.so")))]
    native = native_server(settings)
    if native is not None:
        candidates += [(name, extra, native) for name, extra in [
            ("native build (make runtime)", []), ("native, ubatch 256", ["--ubatch-size", "256"]),
            ("native, ubatch 1024", ["--batch-size", "1024", "--ubatch-size", "1024"]),
            ("native, flash attention off", ["--flash-attn", "off"])]]  # a later flag overrides the default
    rows = []
    for name, extra, binary in candidates:
        port = _free_port()
        command = None if extra is None else [*native_command(
            binary, model=model, alias=MODEL_ALIAS, host="127.0.0.1", port=port, threads=threads, ctx=4096,
            parallel=settings.local_parallel, cache_mib=0), *extra]
        proc, start_s = _start(model, port=port, threads=threads, ctx=4096, log=tmp / "server.log", command=command)
        try:
            root = f"http://127.0.0.1:{port}"
            context = _prompt_text(root)
            results = [_timed_run(root, context, n) for n in range(runs)]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        rows.append({"runtime": name, "prompt_tok_s": round(statistics.median(r.prompt_tps for r in results), 1),
                     "gen_tok_s": round(statistics.median(r.gen_tps for r in results), 1),
                     "start_s": round(start_s, 2), "instructions": _instruction_sets(binary), "runs": runs})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def bench_concurrent(model: Path, tmp: Path, *, threads: int) -> dict[str, Any]:
    """Two requests at once on the local_parallel slots vs the same two one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    port = _free_port()
    proc, _ = _start(model, port=port, threads=threads, ctx=4096, log=tmp / "server.log")
    try:
        root = f"http://127.0.0.1:{port}"
        context = _prompt_text(root)
        start = time.perf_counter()
        sequential = [_timed_run(root, context, n) for n in (10, 11)]
        sequential_s = time.perf_counter() - start
        start = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            together = list(pool.map(lambda n: _timed_run(root, context, n), (12, 13)))
        together_s = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {
        "threads": threads, "n_parallel": Settings().local_parallel,
        "sequential_s": round(sequential_s, 1), "concurrent_s": round(together_s, 1),
        "gen_tok_s_alone": round(statistics.median(r.gen_tps for r in sequential), 1),
        "gen_tok_s_each_concurrent": round(statistics.median(r.gen_tps for r in together), 1),
        "first_answer_s_concurrent": round(min(r.wall_s for r in together), 1),
        "first_answer_s_sequential": round(sequential[0].wall_s, 1),
    }


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "recommendation": {"type": "string", "enum": ["api", "open_weight", "pretrain", "small_model"]},
        "ticket": {"type": "string", "pattern": "^ZX-[0-9]{3}$"},
        "reasons": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
    },
    "required": ["recommendation", "ticket", "reasons"],
    "additionalProperties": False,
}
# A request whose natural answer is prose: only an enforced schema turns it into a matching object.
PROSE = [{"role": "user", "content": "Write a four-line poem about the sea."}]


def _matches(text: str | None) -> bool:
    import re

    try:
        data = json.loads(text or "")
    except ValueError:
        return False
    return (
        isinstance(data, dict) and set(data) == {"recommendation", "ticket", "reasons"}
        and data["recommendation"] in SCHEMA["properties"]["recommendation"]["enum"]
        and isinstance(data["ticket"], str) and re.fullmatch(r"ZX-[0-9]{3}", data["ticket"]) is not None
        and isinstance(data["reasons"], list) and 1 <= len(data["reasons"]) <= 2
    )


def check_request_shapes(base_url: str) -> dict[str, str]:
    """Which request shapes work through litellm against the running server."""
    import litellm

    def call(**kwargs: Any) -> Any:
        return litellm.completion(model="openai/" + MODEL_ALIAS, api_base=base_url, api_key="none",
                                  temperature=0, max_tokens=120, timeout=300, **kwargs)

    def attempt(name: str, fn: Any) -> None:
        start = time.perf_counter()
        try:
            verdict = fn()
        except Exception as error:
            verdict = f"error: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
        out[name] = f"{verdict} ({time.perf_counter() - start:.1f} s)"

    out: dict[str, str] = {}
    attempt("no response_format (baseline)", lambda: "matches schema" if _matches(
        call(messages=PROSE).choices[0].message.content) else "prose, no schema (as expected)")
    attempt("json_object + schema", lambda: "ENFORCED" if _matches(call(
        messages=PROSE, response_format={"type": "json_object", "schema": SCHEMA}).choices[0].message.content)
        else "not enforced")
    attempt("json_schema (OpenAI shape)", lambda: "ENFORCED" if _matches(call(messages=PROSE, response_format={
        "type": "json_schema", "json_schema": {"name": "verdict", "schema": SCHEMA, "strict": True}},
    ).choices[0].message.content) else "not enforced")

    def stream() -> str:
        chunks = [c.choices[0].delta.content or "" for c in call(messages=PROSE, stream=True)]
        return f"works: {len(chunks)} chunks, {len(''.join(chunks))} chars"

    attempt("streaming", stream)
    tool = {"type": "function", "function": {"name": "score_profile", "description": "Score a team profile.",
                                             "parameters": SCHEMA}}
    ask = [{"role": "user", "content": "We handle patient records; ticket ZX-042. Score our situation."}]

    def tools(choice: Any) -> str:
        message = call(messages=ask, tools=[tool], tool_choice=choice).choices[0].message
        if message.tool_calls:
            call0 = message.tool_calls[0].function
            valid = _matches(call0.arguments)
            return f"tool_calls: {call0.name}({'arguments match schema' if valid else call0.arguments[:80]})"
        return f"no tool_calls; text: {(message.content or '')[:80]!r}"

    attempt("tool_choice named function", lambda: tools({"type": "function", "function": {"name": "score_profile"}}))
    attempt('tool_choice "required" (one tool)', lambda: tools("required"))
    attempt('tool_choice "auto"', lambda: tools("auto"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per config, no busy-core runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-checks", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=None, help="where the model is assembled (default: settings)")
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    runs = 1 if args.quick else args.runs

    start = time.perf_counter()
    model = assemble_model(settings.models_dir)
    print(f"model ready in {time.perf_counter() - start:.1f} s: {model}", flush=True)

    from advisor.runtime import chosen_runtime

    with tempfile.TemporaryDirectory() as tmp:
        runtimes = bench_runtimes(model, Path(tmp), settings=settings, runs=max(2, runs))
    best = max(r["prompt_tok_s"] for r in runtimes)
    print("\n| runtime | prompt tok/s | vs best | gen tok/s | start s | machine code |")
    print("|---|---|---|---|---|---|")
    for r in runtimes:
        print(f"| {r['runtime']} | {r['prompt_tok_s']} | {r['prompt_tok_s'] / best:.2f}x | {r['gen_tok_s']} | "
              f"{r['start_s']} | {r['instructions']} |")
    chosen, _ = chosen_runtime(settings)
    row = runtimes[0] if chosen == "xllamacpp" else runtimes[1]
    print(f"chosen runtime (ADVISOR_LOCAL_RUNTIME={settings.local_runtime}): {row['runtime']}, prompt "
          f"{row['prompt_tok_s']} tok/s = {row['prompt_tok_s'] / best:.2f}x the best candidate"
          + ("" if chosen == "native" else "; `make runtime` builds the native server for this CPU") + "\n")

    rows = []
    concurrent: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        configs = [(1, False), (2, False)] + ([] if args.quick else [(1, True), (2, True)])
        for i, (threads, busy) in enumerate(configs):
            row = bench_threads(model, Path(tmp), threads=threads, busy=busy, runs=runs, cold=i == 0)
            rows.append(row)
            print(json.dumps(row), flush=True)
        if not args.quick:
            concurrent = bench_concurrent(model, Path(tmp), threads=settings.local_threads)
            print(json.dumps(concurrent), flush=True)

    print("\n| threads | other load | prompt tok/s | gen tok/s | 1.2k-in/200-out wall s | start s | RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['threads']} | {'1 core busy' if r['busy_core'] else 'quiet'} | {r['prompt_tok_s']} | "
              f"{r['gen_tok_s']} | {r['wall_s']} | {r['start_s']}{' (cold)' if r['cold_start'] else ''} | "
              f"{r['rss_after_mb']} |")
    by = {(r["threads"], r["busy_core"]): r for r in rows}
    for busy in (False, True):
        if (1, busy) in by and (2, busy) in by:
            one, two = by[(1, busy)], by[(2, busy)]
            prompt, gen = two["prompt_tok_s"] / one["prompt_tok_s"], two["gen_tok_s"] / one["gen_tok_s"]
            print(f"2 threads / 1 thread ({'1 core busy' if busy else 'quiet'}): "
                  f"prompt {prompt:.2f}x, generation {gen:.2f}x")
    if concurrent is not None:
        print(f"two requests at once (n_parallel {concurrent['n_parallel']}, {concurrent['threads']} threads): wall "
              f"{concurrent['concurrent_s']} s vs {concurrent['sequential_s']} s one after the other "
              f"({concurrent['concurrent_s'] / concurrent['sequential_s']:.2f}x); generation "
              f"{concurrent['gen_tok_s_each_concurrent']} tok/s each vs {concurrent['gen_tok_s_alone']} alone")

    if not args.no_checks:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            (data / "models").mkdir()
            (data / "models" / model.name).symlink_to(model)
            (data / "models" / (model.name + ".verified")).write_bytes(
                (model.parent / (model.name + ".verified")).read_bytes())
            local = Settings(data_dir=data, local_port=_free_port(), local_threads=settings.local_threads)
            start = time.perf_counter()
            with LocalServer(local) as server:
                print(f"\nLocalServer.ensure_running(): {time.perf_counter() - start:.1f} s "
                      f"(threads {local.local_threads}, n_parallel {local.local_parallel}, ctx {local.local_ctx})")
                for name, verdict in check_request_shapes(server.base_url).items():
                    print(f"  {name}: {verdict}")


if __name__ == "__main__":
    main()
