"""The eval runner: every case through the Advisor's turn events (as the web page and Slack use them), scored
with deterministic metrics, finished cases kept on disk as they finish so that a crash or Ctrl-C loses nothing.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.eval_cases import EvalCase

if TYPE_CHECKING:
    from advisor.advisor import Advisor

__all__ = ["CASES_FILE", "Progress", "Turn", "run_cases", "score_case", "summarise"]

CASES_FILE = "cases.jsonl"  # one finished case a line, appended as each finishes: what --resume reads
_PASS_COVERAGE = 0.5  # a case with must_mention passes when at least this share of its points is present


@dataclass
class Turn:
    """One turn as the runner saw it: the answer, the passages given, and how the events went."""

    message: str
    answer: dict[str, Any] | None = None
    passages: dict[int, str] = field(default_factory=dict)
    error: str | None = None
    first_text_s: float | None = None
    statuses: list[str] = field(default_factory=list)
    quotes: dict[str, str] = field(default_factory=dict)  # the user's words behind each stated profile field

    def summary(self) -> dict[str, Any]:
        """The turn for results.json (the passages' texts left out)."""
        return {"message": self.message, "answer": self.answer, "error": self.error,
                "first_text_s": self.first_text_s, "statuses": self.statuses, "quotes": self.quotes}


def ask(advisor: Advisor, message: str, *, conversation_id: str | None = None, model: str | None = None) -> Turn:
    """One turn through the Advisor's events; errors are recorded, never raised."""
    from advisor.events import DoneEvent, ErrorEvent, SourcesEvent, StatusEvent, TextEvent, VerdictEvent

    turn = Turn(message)
    started = time.perf_counter()
    try:
        for event in advisor.events(message, conversation_id=conversation_id, model=model):
            if isinstance(event, StatusEvent):
                turn.statuses.append(event.step)
            elif isinstance(event, VerdictEvent):
                turn.quotes = dict(event.quotes)
            elif isinstance(event, SourcesEvent):
                turn.passages = {int(s["n"]): str(s.get("text", "")) for s in event.sources}
            elif isinstance(event, TextEvent) and turn.first_text_s is None and event.delta.strip():
                turn.first_text_s = round(time.perf_counter() - started, 3)
            elif isinstance(event, DoneEvent):
                turn.answer = event.answer.as_dict()
            elif isinstance(event, ErrorEvent):
                turn.error = event.message
    except Exception as exc:  # bad input, a broken component: the case records it and the run goes on
        turn.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return turn


# A judge scores (question, answer, passages); the kinds whose answers it reads (a refusal has nothing to judge).
JudgeFn = Callable[[str, str, dict[int, str]], dict[str, Any]]
_JUDGED_KINDS = ("situation", "fact", "conversation", "consistency")


def run_case(advisor: Advisor, case: EvalCase, *, model: str | None = None,
             judge: JudgeFn | None = None) -> dict[str, Any]:
    """Every turn a case needs (its messages in one conversation; paraphrases and the flip each on their own),
    then its metrics, and the judge's scores of the last answer when a judge is given."""
    turns: list[Turn] = []
    conversation: str | None = None
    for message in case.messages:
        turn = ask(advisor, message, conversation_id=conversation, model=model)
        turns.append(turn)
        conversation = (turn.answer or {}).get("conversation_id") or conversation
        if turn.error:
            break
    variants = [ask(advisor, p, model=model) for p in case.paraphrases]
    flipped = ask(advisor, f"{case.messages[-1]} {case.flip.append}", model=model) if case.flip else None
    embed = _embedder(advisor)
    metrics = score_case(case, turns, variants=variants, flipped=flipped, embed=embed)
    result = {"id": case.id, "kind": case.kind, "messages": case.messages,
              "turns": [t.summary() for t in turns],
              "paraphrases": [t.summary() for t in variants], "flip": flipped.summary() if flipped else None,
              "metrics": metrics, "passed": metrics["passed"], "failures": metrics["failures"]}
    last = turns[-1] if turns else None
    if judge is not None and case.kind in _JUDGED_KINDS and last is not None and last.answer and not last.error:
        result["judge"] = judge("\n".join(case.messages), str(last.answer.get("answer", "")), last.passages)
    return result


def _embedder(advisor: Advisor) -> Callable[[Sequence[str]], Any] | None:
    index = getattr(advisor.retriever, "index", None)
    return index.embedder.encode if index is not None else None


# --- metrics ---------------------------------------------------------------------------------------------------
def points_found(answer: str, points: Iterable[str]) -> list[str]:
    """The points ("a|b" alternatives, lower-case stems) present in the lower-cased answer."""
    text = " ".join(answer.lower().split())
    return [p for p in points if any(alt.strip() and alt.strip() in text for alt in p.split("|"))]


def score_case(case: EvalCase, turns: list[Turn], *, variants: Sequence[Turn] = (), flipped: Turn | None = None,
               embed: Callable[[Sequence[str]], Any] | None = None) -> dict[str, Any]:
    """A case's metrics from its turns; `failures` names each check that failed (none: the case passed)."""
    last = turns[-1] if turns else Turn("")
    answer = last.answer or {}
    text = str(answer.get("answer", ""))
    m: dict[str, Any] = {"error": next((t.error for t in turns if t.error), None)}
    failures: list[str] = [f"error: {m['error']}"] if m["error"] else []
    recommendation = answer.get("recommendation")
    m["recommendation"] = recommendation
    if case.expect_recommendation is not None:
        m["recommendation_ok"] = recommendation in case.expect_recommendation
        if not m["recommendation_ok"]:
            failures.append(f"recommendation {recommendation} not in {case.expect_recommendation}")
    if case.expect_profile:
        right, wrong = _profile_fields(case.expect_profile, answer.get("profile") or {})
        m["profile_right"] = round(right / len(case.expect_profile), 3)
        m["profile_wrong"] = wrong
        if wrong:
            failures.append(f"profile fields wrong or missing: {', '.join(wrong)}")
    if answer.get("profile"):
        m["profile_invented"] = _invented(answer["profile"], last.quotes, case.messages[:len(turns)])
    if case.expect_sources:
        given = [f"{s['path']}#{s['section']}" for s in sorted(answer.get("sources") or [], key=lambda s: s["n"])]
        rank = next((i + 1 for i, g in enumerate(given) if g in case.expect_sources), None)
        m["hit"] = rank is not None
        m["reciprocal_rank"] = round(1 / rank, 3) if rank else 0.0
        if rank is None:
            failures.append("no expected source retrieved")
    if case.must_mention:
        found = points_found(text, case.must_mention)
        m["coverage"] = round(len(found) / len(case.must_mention), 3)
        m["missing_points"] = [p for p in case.must_mention if p not in found]
        if m["coverage"] < _PASS_COVERAGE:
            failures.append(f"points missing: {', '.join(m['missing_points'])}")
    if case.must_not_contain:
        leaked = [w for w in case.must_not_contain if w.lower() in " ".join(t.answer["answer"] for t in turns
                                                                           if t.answer).lower()]
        m["refused"] = not leaked
        if leaked:
            failures.append(f"contains {', '.join(leaked)}")
    if case.kind == "offtopic":
        m["redirected"] = answer.get("kind") == "offtopic"
        if not m["redirected"]:
            failures.append(f"answered as {answer.get('kind')}, not redirected")
    if answer and answer.get("kind") != "offtopic":  # a redirect is the pipeline's fixed reply: no claim to check
        citations, unsupported_citations, unsupported_numbers = _check_text(text, last, answer, embed)
        m.update(citations=citations, citations_unsupported=unsupported_citations,
                 numbers_unsupported=unsupported_numbers)
        if unsupported_citations:
            failures.append(f"{len(unsupported_citations)} citation(s) unsupported")
        if unsupported_numbers:
            failures.append(f"unsupported numbers: {', '.join(unsupported_numbers)}")
        checks = answer.get("checks") or {}
        m["sentences_kept"] = int(checks.get("kept", 0)) + int(checks.get("corrected", 0))
        m["sentences_dropped"] = int(checks.get("dropped", 0))
    if variants:
        verdicts = [recommendation, *[(v.answer or {}).get("recommendation") for v in variants]]
        m["paraphrase_verdicts"] = verdicts
        m["paraphrases_agree"] = len(set(verdicts)) == 1
        if not m["paraphrases_agree"]:
            failures.append(f"paraphrases disagree: {verdicts}")
    if case.flip is not None and flipped is not None:
        got = (flipped.answer or {}).get("recommendation")
        m["flip_recommendation"] = got
        m["flip_ok"] = got in case.flip.expect_recommendation
        if not m["flip_ok"]:
            failures.append(f"after the flip {got} not in {case.flip.expect_recommendation}")
    every = [*turns, *variants, *([flipped] if flipped else [])]
    m["latency_s"] = round(sum(float((t.answer or {}).get("latency_s") or 0) for t in turns), 3)
    m["first_text_s"] = last.first_text_s
    usage = [(t.answer or {}).get("usage") or {} for t in every]
    m["tokens"] = sum(int(u.get("total_tokens", 0) or 0) for u in usage)
    m["cost_usd"] = round(sum(float(u.get("cost_usd") or 0) for u in usage), 6)
    m["failures"] = failures
    m["passed"] = not failures
    return m


def _profile_fields(expected: dict[str, Any], got: dict[str, Any]) -> tuple[int, list[str]]:
    from advisor.situations import values_match

    wrong = [name for name, value in expected.items()
             if got.get(name) is None or not values_match(name, value, got[name])]
    return len(expected) - len(wrong), wrong


def _invented(profile: dict[str, Any], quotes: dict[str, str], messages: Sequence[str]) -> list[str]:
    """Profile fields the user never stated: no words of theirs behind the field, or words found in none of
    their messages (as written, or as the pipeline read them: without the clauses hygiene removes)."""
    from advisor.hygiene import strip_overrides

    said = " ".join(" ".join([*messages, *(strip_overrides(m)[0] for m in messages)]).lower().split())
    return sorted(name for name in profile
                  if not quotes.get(name) or " ".join(quotes[name].lower().split()) not in said)


def _check_text(text: str, turn: Turn, answer: dict[str, Any],
                embed: Callable[[Sequence[str]], Any] | None) -> tuple[int, list[str], list[str]]:
    """Re-check the answer shown: each [n] names a passage given that supports its sentence; each number occurs
    in a passage, the user's words, the computed figures (scores, costs, profile) or the model's name."""
    from advisor.claims import SUPPORT_THRESHOLD, claims_in, numbers_in, support_score

    passages = turn.passages
    evidence = [*passages.values(), turn.message, str(answer.get("standalone_question") or ""),
                str(answer.get("model")), json.dumps(answer.get("costs") or {}), json.dumps(answer.get("scores") or {}),
                json.dumps(answer.get("profile") or {})]
    allowed = [v for t in evidence for _, vs in numbers_in(t) for v in vs]
    citations, bad_citations, bad_numbers = 0, [], []
    for sentence in claims_in(text):
        plain = re.sub(r"\s*\[\d{1,3}\]", "", sentence)
        for written, values in numbers_in(plain):
            if not any(abs(v - a) <= 0.005 * max(abs(a), 1e-9) for v in values for a in allowed):
                bad_numbers.append(written)
        for n in sorted({int(x) for x in re.findall(r"\[(\d+)\]", sentence)}):
            citations += 1
            passage = passages.get(n)
            if passage is None or (embed is not None and support_score(plain, passage, embed) < SUPPORT_THRESHOLD):
                bad_citations.append(f"[{n}] {sentence[:80]}")
    return citations, bad_citations, bad_numbers


# --- the run ---------------------------------------------------------------------------------------------------
def run_cases(advisor: Advisor, cases: Sequence[EvalCase], out: Path, *, model: str | None = None,
              concurrency: int = 1, repeat: int = 1, judge: JudgeFn | None = None,
              progress: Callable[[int, int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run the cases not yet in out/cases.jsonl, or that ended in an error there (each `repeat` times),
    appending each as it finishes; return every finished case, in the cases' order."""
    out.mkdir(parents=True, exist_ok=True)
    done = {key for key, result in finished_cases(out).items() if not result["metrics"].get("error")}
    wanted = [(c, r) for c in cases for r in range(repeat) if f"{c.id}#{r}" not in done]
    lock = threading.Lock()
    stopping = threading.Event()  # set on Ctrl-C or a crash: a case that ends after it is not kept
    total, count = len(cases) * repeat, len(done)

    def one(case: EvalCase, rep: int) -> dict[str, Any]:
        result = run_case(advisor, case, model=model, judge=judge) | {"repeat": rep}
        nonlocal count
        if stopping.is_set():  # it may have been cut short (the local model stops with the run): ask it again
            return result
        with lock, (out / CASES_FILE).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(result) + "\n")
            count += 1
            if progress:
                progress(count, total, result)
        return result

    serial = [(c, r) for c, r in wanted if c.document]  # an ingested document is seen by every turn meanwhile
    rest = [(c, r) for c, r in wanted if not c.document]
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="eval")
    try:
        for case, rep in serial:
            with _ingested(advisor, case):
                one(case, rep)
        for future in as_completed([pool.submit(one, c, r) for c, r in rest]):
            future.result()
    except BaseException:  # Ctrl-C or a crash: what finished is on disk; nothing started after is kept
        stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    every = finished_cases(out)
    order = {c.id: i for i, c in enumerate(cases)}
    return sorted((r for r in every.values() if r["id"] in order), key=lambda r: (order[r["id"]], r["repeat"]))


def finished_cases(out: Path) -> dict[str, dict[str, Any]]:
    """The cases already finished in a run folder, by "id#repeat"; a torn last line (a crash) is skipped."""
    found: dict[str, dict[str, Any]] = {}
    path = out / CASES_FILE
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        found[f"{item['id']}#{item.get('repeat', 0)}"] = item
    return found


class _ingested:
    """A case's document in the index while the case runs, removed after."""

    def __init__(self, advisor: Advisor, case: EvalCase) -> None:
        self.advisor, self.path = advisor, Path(case.document or "")
        self.doc_id: str | None = None

    def __enter__(self) -> _ingested:
        index = self.advisor.retriever.index
        before = {d.doc_id for d in index.documents()}
        index.ingest([self.path], progress=False)
        added = {d.doc_id for d in index.documents()} - before
        self.doc_id = next(iter(added), None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.doc_id:
            self.advisor.retriever.index.remove_document(self.doc_id)


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The overall and per-kind metrics of finished cases."""
    summary = _aggregate(results)
    kinds = sorted({r["kind"] for r in results})
    summary["by_kind"] = {k: _aggregate([r for r in results if r["kind"] == k]) for k in kinds}
    repeats: dict[str, set[Any]] = {}
    for r in results:
        repeats.setdefault(r["id"], set()).add(r["metrics"].get("recommendation"))
    repeated = [ids for ids, recs in repeats.items() if sum(1 for x in results if x["id"] == ids) > 1]
    if repeated:
        summary["verdict_changed_share"] = round(sum(len(repeats[i]) > 1 for i in repeated) / len(repeated), 3)
    return summary


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def _aggregate(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ms = [r["metrics"] for r in results]

    def share(key: str) -> float | None:
        return _mean([float(bool(m[key])) for m in ms if key in m])

    latencies = sorted(m["latency_s"] for m in ms if not m.get("error"))
    return {
        "cases": len(results),
        "passed": sum(bool(r["passed"]) for r in results),
        "pass_rate": _mean([float(bool(r["passed"])) for r in results]),
        "errors": sum(bool(m.get("error")) for m in ms),
        "recommendation_accuracy": share("recommendation_ok"),
        "profile_accuracy": _mean([m["profile_right"] for m in ms if "profile_right" in m]),
        "profile_invented": sum(len(m.get("profile_invented", [])) for m in ms),
        "hit_at_k": share("hit"),
        "mrr": _mean([m["reciprocal_rank"] for m in ms if "reciprocal_rank" in m]),
        "coverage": _mean([m["coverage"] for m in ms if "coverage" in m]),
        "citation_validity": _mean([1 - len(m["citations_unsupported"]) / m["citations"]
                                    for m in ms if m.get("citations")]),
        "numbers_unsupported": sum(len(m.get("numbers_unsupported", [])) for m in ms),
        "refusal_rate": share("refused"),
        "redirect_rate": share("redirected"),
        "paraphrase_agreement": share("paraphrases_agree"),
        "flip_accuracy": share("flip_ok"),
        "latency_median_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p90_s": round(latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))], 3)
        if latencies else None,
        "tokens": sum(m.get("tokens", 0) for m in ms),
        "cost_usd": round(sum(m.get("cost_usd", 0.0) for m in ms), 6),
    }


class Progress:
    """One line a finished case on stderr, with the time left at the pace so far:
    "[12/84] case-id  ok    3.2 s  (eta 9 min)"."""

    def __init__(self, *, stream: Any = None) -> None:
        self.started = time.perf_counter()
        self.first: int | None = None  # the count when this run began (a resumed run starts past 0)
        self.stream = stream

    def __call__(self, count: int, total: int, result: dict[str, Any]) -> None:
        if self.first is None:
            self.first = count - 1
        status = "ok  " if result["passed"] else "FAIL"
        seconds = result["metrics"].get("latency_s") or 0
        pace = (time.perf_counter() - self.started) / max(1, count - self.first)
        left = (total - count) * pace
        eta = "" if count >= total else f"  (eta {left / 60:.0f} min)" if left >= 90 else f"  (eta {left:.0f} s)"
        print(f"[{count}/{total}] {result['id']:<40} {status} {seconds:6.1f} s{eta}",
              file=self.stream or sys.stderr, flush=True)
