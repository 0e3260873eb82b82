"""One turn of the conversation as a stream of events.

A small local model cannot be trusted with free tool choice, so the pipeline decides: it routes the message and
reads the situation with learned classifiers (no model call), condenses a follow-up question, scores the
situation deterministically, retrieves the passages
behind the scorer's reasons and the question, emits the verdict and the sources, and only then asks the model to
write — around a recommendation line, assumptions and what-ifs that the pipeline writes itself, so text and
verdict agree. Every model call waits its turn in the local server's queue, and every step notices a stop.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from advisor.claims import Checks
from advisor.concurrency import Stopped, StopToken
from advisor.events import (
    STEPS,
    Answer,
    DoneEvent,
    ErrorEvent,
    Event,
    SourcesEvent,
    StatusEvent,
    TextEvent,
    VerdictEvent,
)

if TYPE_CHECKING:
    from advisor.concurrency import FairQueue, Ticket
    from advisor.config import Settings
    from advisor.llm import LiteLLM
    from advisor.reader import Reader
    from advisor.retrieval import Hit, HybridRetriever
    from advisor.store import Store, Turn
    from advisor.verdict import Verdict

__all__ = ["TurnRun"]

log = logging.getLogger(__name__)
_MAX_SITUATION_PASSAGES = 6
_CITATIONS_ONLY = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])?\s*|\[\d+\]")
_MAX_SECTION_CHARS = 2400  # a fact answer's best passages grow to their whole section up to this size
_MAX_FIRST_POINTS = 5  # the answering section's points closest to the question, when it has no list
_MAX_SECOND_POINTS = 3  # ... and another section's, when the best-ranked passage is another section


@dataclass(frozen=True)
class _Numbered:
    """A passage as a prompt shows it: its number in the turn's sources, where it is from, its text as data."""

    n: int
    path: str
    section: str
    text: str


@dataclass
class _Draft:
    """What the turn has so far, recorded as it stands if the turn stops or fails."""

    question: str = ""
    kind: str = "fact"
    passages: list[Hit] = field(default_factory=list)
    verdict: Verdict | None = None
    shown: list[str] = field(default_factory=list)  # every piece of text the reader has been sent
    parts: dict[str, str] = field(default_factory=dict)  # note, header, notice, footer: the pipeline's own text
    body: list[str] = field(default_factory=list)  # the model's prose as it came, before citations were checked
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = 0.0
    checks: Checks = field(default_factory=lambda: Checks())
    costs: dict[str, Any] | None = None

    def text(self, body: str) -> str:
        """The answer around a body: note, recommendation line, body, notice, what would change it."""
        p = self.parts
        return p.get("note", "") + p.get("header", "") + body + p.get("notice", "") + p.get("footer", "")


class TurnRun:
    """One turn: its events, and its record in the store whatever happens (done, failed or stopped)."""

    def __init__(self, *, settings: Settings, llm: LiteLLM, retriever: HybridRetriever, reader: Reader,
                 store: Store, queue: FairQueue | None, conversation_id: str, turn_id: str, text: str,
                 stop: StopToken) -> None:
        self.settings = settings
        self.llm = llm
        self.retriever = retriever
        self.reader = reader
        self.store = store
        self.queue = queue
        self.conversation_id = conversation_id
        self.turn_id = turn_id
        self.text = text
        self.stop = stop
        self.started = time.perf_counter()
        self.draft = _Draft()
        self._recorded = False
        self._history: list[Turn] = []
        self._ticket: Ticket | None = None
        self._model_failed = False
        self._figures: list[str] = []
        self._models_for: tuple[str, list[Any]] | None = None

    # -- the event stream ----------------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """The turn's events; closing the iterator stops the turn and records it as stopped."""
        try:
            self._history = self.store.turns(self.conversation_id, limit=self.settings.history_turns)
            if self.settings.agent_mode and not self.llm.local:
                yield from self._agent_turn()
            else:
                yield from self._pipeline()
        except Stopped:
            yield self._done(stopped=True)
        except GeneratorExit:
            self.stop.stop()
            self._record(stopped=True)
            raise
        except Exception as exc:
            from advisor.llm import LLMError

            message = " ".join(str(exc).split())[:500] or type(exc).__name__
            kind = exc.kind if isinstance(exc, LLMError) else "internal"
            log.error("turn %s failed in conversation %s: %s", self.turn_id, self.conversation_id, message,
                      exc_info=kind == "internal")
            self._record(error=message)
            yield ErrorEvent(t=self._t(), message=message, kind=kind, turn_id=self.turn_id,
                             conversation_id=self.conversation_id)
        except BaseException:  # KeyboardInterrupt in a terminal: keep what was written
            self.stop.stop()
            self._record(stopped=True)
            raise

    def _t(self) -> float:
        return time.perf_counter() - self.started

    def _status(self, step: str, position: int | None = None) -> StatusEvent:
        message = STEPS[step] + (f": number {position} in the queue" if position is not None else "")
        return StatusEvent(t=self._t(), step=step, message=message, position=position)  # type: ignore[arg-type]

    def _say(self, text: str, part: str | None = None) -> Iterator[Event]:
        """Send text to the reader; part names the pipeline's own pieces (the model's prose has none)."""
        if part is not None:
            self.draft.parts[part] = self.draft.parts.get(part, "") + text
        if text:
            self.draft.shown.append(text)
            yield TextEvent(t=self._t(), delta=text)

    # -- model slots ---------------------------------------------------------------------------------------------
    def _model_call(self, step: str) -> Generator[Event, None, bool]:
        """Wait for a slot on the model server (status `waiting` with the place in line), then resume step;
        returns whether it had to wait."""
        self.stop.check()
        if self.queue is None:
            return False
        ticket = self.queue.join()
        self._ticket = ticket
        unregister = self.stop.on_stop(self.queue.wake)
        try:
            last: int | None = None
            while (position := ticket.wait(0.5)) is not None:
                self.stop.check()
                if position != last:
                    last = position
                    yield self._status("waiting", position)
            if last is not None:
                yield self._status(step)
            return last is not None
        except BaseException:
            ticket.leave()
            raise
        finally:
            unregister()

    def _release(self) -> None:
        ticket = self._ticket
        if ticket is not None:
            ticket.leave()
            self._ticket = None

    # -- the pipeline ----------------------------------------------------------------------------------------------
    def _pipeline(self) -> Iterator[Event]:
        from advisor.hygiene import strip_overrides
        from advisor.routing import OFF_TOPIC_REPLY, Decision, asks_its_own_question, decide, wants_costs

        yield self._status("understanding")
        cleaned, note = strip_overrides(self.text)
        question = cleaned or self.text
        has_profile = any(t.profile is not None for t in self._history)  # a situation was read, even if empty
        decision = (decide(self.reader.route(cleaned).route, has_history=bool(self._history), has_profile=has_profile)
                    if cleaned else Decision("offtopic"))
        if decision.kind == "fact" and has_profile and self.reader.read([cleaned]).profile.stated():
            # "What would that cost at 1 billion tokens a month?" after a situation: a new fact of that situation
            # (the volume), so the situation is answered again with it; a cost question needs no fact answer too.
            decision = Decision("situation", also_fact=not wants_costs(cleaned))
        if decision.condense:
            yield from self._model_call("understanding")
            try:
                question = self._condense(cleaned)
            finally:
                self._release()
            if decision.kind == "offtopic":  # "and the other one?" reads as off-topic until it is condensed
                decision = decide(self.reader.route(question).route, has_history=False, has_profile=False)
        self.draft.question = question
        if decision.kind == "situation" and not self._history and (self._asks_about_a_model(cleaned)
                                                                    or self._only_asks(cleaned)):
            decision = Decision("fact")
        elif decision.kind == "situation" and not decision.also_fact and not self._history \
                and asks_its_own_question(cleaned):
            decision = Decision("situation", also_fact=True)  # the verdict, and the question answered
        if decision.kind == "offtopic":
            self.draft.kind = "offtopic"
            yield from self._say(note + OFF_TOPIC_REPLY, "note")
            yield self._done()
            return
        yield from self._say(note, "note")
        hits = self.retriever.search(question, k=self.settings.top_k)
        if decision.kind == "situation":
            yield from self._situation(cleaned, hits, also_fact=decision.also_fact)
        else:
            yield self._status("retrieving")
            self.draft.passages = hits
            yield from self._fact()

    def _situation(self, cleaned: str, hits: list[Hit], *, also_fact: bool) -> Iterator[Event]:
        from advisor.answer_costs import answer_costs
        from advisor.scoring import load_policy, score_profile
        from advisor.verdict import Verdict

        self.draft.kind = "situation"
        # Everything the user said in this conversation, in order: a later statement corrects an earlier one.
        reading = self.reader.read([t.user for t in self._history] + [cleaned])
        self.stop.check()
        yield self._status("scoring")
        policy = load_policy(self.settings.policy_path, self.settings.knowledge_dir)
        scores = score_profile(reading.profile, policy=policy).as_dict()
        verdict = Verdict.of(reading.profile.stated(), scores, quotes=reading.quotes)
        self.draft.verdict = verdict
        yield VerdictEvent(t=self._t(), **verdict.as_dict())
        yield self._status("retrieving")
        # The passages each section needs, and no more: a small model reads a handful of short passages well and
        # a dozen badly, and every prompt token costs time on two cores.
        reasons = self._reasons(scores)
        drawbacks = self._drawbacks(verdict.recommendation)
        extra = self._whole_sections(hits[:3]) if also_fact else []  # the question's passages, as a fact answer's
        self.draft.passages = _dedupe([r[1] for r in reasons] + ([drawbacks] if drawbacks else []) + extra)[
            :_MAX_SITUATION_PASSAGES]
        self.draft.costs = answer_costs(verdict.recommendation, verdict.profile, self.settings)
        number = {(h.path, h.section): i + 1 for i, h in enumerate(self.draft.passages)}
        question_prompt = self._fact_prompt(
            [number[(h.path, h.section)] for h in extra if (h.path, h.section) in number]) if also_fact else None
        yield self._sources()
        yield from self._writing()
        try:
            yield from self._say(verdict.header(), "header")
            if verdict.recommendation is not None:
                yield from self._why(reasons, number)
                yield from self._risks(drawbacks, number)
            yield from self._costs()
            if question_prompt is not None:
                yield from self._say("\n\n**Your question**\n", "sections")
                start = len(self.draft.shown)
                yield from self._checked(*question_prompt, max_tokens=self.settings.llm_max_tokens)
                asked = " ".join(re.findall(r"[^.!?\n]*\?", cleaned)).strip() or cleaned
                yield from self._complete("".join(self.draft.shown[start:]), question_prompt[1], question=asked)
        finally:
            self._release()
        yield from self._say(verdict.footer(), "footer")
        yield self._done()

    # -- sections ------------------------------------------------------------------------------------------------
    def _sources(self) -> SourcesEvent:
        return SourcesEvent(t=self._t(), sources=[
            {"n": i + 1, **h.source(), "text": h.text} for i, h in enumerate(self.draft.passages)])

    def _writing(self) -> Iterator[Event]:
        waited = yield from self._model_call("writing")
        if not waited:
            yield self._status("writing")

    def _reasons(self, scores: dict[str, Any]) -> list[tuple[dict[str, Any], Hit]]:
        """The recommended option's strongest reasons (up to three), each with the guide section behind it."""
        ranking = scores["ranking"]
        if scores["recommended"] is None:
            return []
        top = next(o for o in ranking if o["option"] == scores["recommended"])
        reasons = sorted((r for r in top["reasons"] if r["effect"] != "excluded" and r["effect"] > 0),
                         key=lambda r: -r["effect"])
        found: list[tuple[dict[str, Any], Hit]] = []
        for reason in reasons:
            hit = self.retriever.section(reason["source"])
            if hit is not None and all(h.section != hit.section or h.path != hit.path for _, h in found):
                found.append((reason, hit))
            if len(found) == 3:
                break
        return found

    def _drawbacks(self, option: str | None) -> Hit | None:
        if option is None:
            return None
        return self.retriever.section(f"guides/option-{option.replace('_', '-')}.md#Drawbacks and risks")

    def _why(self, reasons: list[tuple[dict[str, Any], Hit]], number: dict[tuple[str, str], int]) -> Iterator[Event]:
        from advisor.hygiene import as_data
        from advisor.prompts import render

        yield from self._say("**Why**\n", "sections")
        items = [{"why": r["why"], "input": r["input"], "n": number[(h.path, h.section)],
                  "source": f"{h.path} § {h.section}", "excerpt": as_data(self._excerpt(h.text, r["why"]))}
                 for r, h in reasons]

        def fallback() -> str:  # the scorer's own reasons, each cited to its section
            return "".join(f"- {_cite(item['why'], item['n'])}\n" for item in items)

        if not items:
            return
        verdict = self.draft.verdict
        assert verdict is not None
        prompt = render("answer_why", self.settings.prompts_dir, label=verdict.label, reasons=items,
                        question=self.draft.question)
        yield from self._checked(prompt, [i["n"] for i in items], fallback, max_tokens=220)

    def _risks(self, drawbacks: Hit | None, number: dict[tuple[str, str], int]) -> Iterator[Event]:
        from advisor.hygiene import as_data
        from advisor.prompts import render

        if drawbacks is None:
            return
        verdict = self.draft.verdict
        assert verdict is not None
        n = number[(drawbacks.path, drawbacks.section)]
        yield from self._say("\n\n**Risks and how to reduce them**\n", "sections")
        points = [p for p in _points(drawbacks.text)][:3]

        def fallback() -> str:  # the guide's own list, cited
            return "".join(f"- {_cite(p, n)}\n" for p in points)

        situation = "; ".join(f"{k} = {v}" for k, v in verdict.profile.items()) or "nothing specific yet"
        prompt = render("answer_risks", self.settings.prompts_dir, label=verdict.label, n=n,
                        source=f"{drawbacks.path} § {drawbacks.section}", text=as_data(drawbacks.text[:1800]),
                        situation=situation)
        yield from self._checked(prompt, [n], fallback, max_tokens=220)

    def _costs(self) -> Iterator[Event]:
        from advisor.answer_costs import render_costs

        if self.draft.costs is not None:
            yield from self._say("\n\n**Costs**\n" + render_costs(self.draft.costs), "costs")

    def _fact(self) -> Iterator[Event]:
        models = self._named_models()
        self._fuller_passages(models)
        unknown = self._unknown_terms(models)
        prepared = self._fact_prompt(list(range(1, len(self.draft.passages) + 1)))
        if models:  # the catalog card says what a fallback would
            prepared = (prepared[0], prepared[1], lambda: "")
        yield self._sources()
        yield from self._writing()
        if unknown:  # say so first: what follows is the nearest the knowledge base has, not an answer to it
            names = ", ".join(f"“{w}”" for w in unknown)
            yield from self._say(f"The knowledge base has no information on {names}; this is what it holds on the "
                                 "nearest topics.\n\n", "unknown")
        start = len(self.draft.shown)
        try:
            yield from self._checked(*prepared, max_tokens=self.settings.llm_max_tokens)
        finally:
            self._release()
        written = "".join(self.draft.shown[start:])
        if not unknown:
            yield from self._complete(written, prepared[1])
        yield from self._cards(models)
        yield self._done()

    def _asks_about_a_model(self, message: str) -> bool:
        """A question that names a catalog model and states nothing about the asker's situation ("What is unusual
        about BitNet b1.58 2B4T?") asks for the model's facts, whatever the router made of its numbers."""
        if not message.rstrip().endswith("?") or not self._named_models():
            return False
        return not self.reader.read([message]).profile.stated()

    def _only_asks(self, message: str) -> bool:
        """A question of its own that states no fact of a situation ("Is it OK to run our production inference on
        spot GPUs?"), whatever the router made of it: a verdict from no fact at all would be assumptions only, and
        the question is what the user asked. (One that states a fact gets the verdict and the question answered.)"""
        from advisor.routing import asks_its_own_question

        return asks_its_own_question(message) and not self.reader.read([message]).profile.stated()

    def _named_models(self) -> list[Any]:
        """The catalog models the question names (at most two), found once a turn."""
        from advisor.catalog import CatalogError, load_catalog
        from advisor.fact_points import named_models

        question = self.draft.question
        if self._models_for is None or self._models_for[0] != question:
            try:
                found = named_models(question, load_catalog(self.settings.catalog_path))
            except CatalogError:
                found = []
            self._models_for = (question, found)
        return self._models_for[1]

    def _whole_sections(self, hits: list[Hit]) -> list[Hit]:
        """The hits with the two best as whole sections (a list cut in two by chunking is whole again)."""
        section = self.retriever.section
        passages = list(hits)
        for i, hit in enumerate(passages[:2]):
            whole = section(f"{hit.doc_id or hit.path}#{hit.section}") if hit.kind != "catalog" else None
            if whole is not None and len(hit.text) < len(whole.text) <= _MAX_SECTION_CHARS:
                passages[i] = dataclasses.replace(hit, text=whole.text)
        return passages

    def _fuller_passages(self, models: list[Any]) -> None:
        """The passages a fact answer works from: the two best as whole sections, and the catalog entry of every
        model the question names."""
        section = self.retriever.section
        passages = self.draft.passages = self._whole_sections(self.draft.passages)
        have = {h.doc_id for h in passages}
        for model in models:
            if f"models.yaml#{model.id}" not in have and (entry := section(f"models.yaml#{model.id}")) is not None:
                passages.append(entry)

    def _unknown_terms(self, models: list[Any]) -> list[str]:
        """The question's terms no passage holds (not counting the names of the models it names)."""
        from advisor.fact_points import model_words

        named = model_words(models)
        return [w for w in self.retriever.unknown_terms(self.draft.question) if w.lower() not in named][:3]

    def _complete(self, written: str, citable: list[int], *, question: str | None = None) -> Iterator[Event]:
        """A fact answer covers the sections that answer it, in the guide's words and cited, after the checked
        answer: the points the answer left out of the section whose heading is closest to the question (its whole
        list), then the few closest to the question of the best-ranked guide passage when that is another section
        (a heading and the best-matching text each find the answering section alone in about 70% of the eval
        questions, together in 85%)."""

        from advisor.fact_points import points_to_add

        guides = [n for n in citable if self.draft.passages[n - 1].kind != "catalog"]
        if not guides or "does not cover" in written:
            return
        question = question or self.draft.question
        first = self._answering(guides, question)
        sections = [first] + [guides[0]] * (guides[0] != first)
        lines: list[str] = []
        for i, n in enumerate(sections):
            given = written + "".join(lines)
            missing = points_to_add(question, self.draft.passages[n - 1].text, given, embed=self._embed,
                                    want_list=i == 0, limit=_MAX_SECOND_POINTS if i else _MAX_FIRST_POINTS)
            lines += [line for line in dict.fromkeys(f"- {_cite(item, n)}\n" for item in missing) if line not in lines]
        if lines:
            lead = "\n" if written.strip() else ""
            yield from self._say(lead + "".join(lines), "list")

    def _answering(self, candidates: list[int], question: str) -> int:
        """Of the guide passages given, the one whose heading is closest to the question: the section that
        answers it (headings name what a section answers better than its best-matching chunk does)."""
        if len(candidates) == 1:
            return candidates[0]
        heads = [f"{self.draft.passages[n - 1].title}: {self.draft.passages[n - 1].section}" for n in candidates]
        vectors = self._embed([question, *heads])
        return candidates[int((vectors[1:] @ vectors[0]).argmax())]

    def _cards(self, models: list[Any]) -> Iterator[Event]:
        """The catalog facts of each model the question names, with their date and source, cited (a retired one's
        card opens with its retirement date); then one line for each other cited catalog model that is retired or
        whose facts are older than the stale age."""
        import datetime as dt

        from advisor.catalog import CatalogError, load_catalog
        from advisor.catalog_query import parse_date_text, stale_facts
        from advisor.fact_points import catalog_card, cited_catalog_ids

        try:
            catalog = load_catalog(self.settings.catalog_path)
        except CatalogError:
            catalog = None
        limit = self.settings.catalog_stale_days
        numbers = {h.doc_id: i + 1 for i, h in enumerate(self.draft.passages)}
        carded: set[str] = set()
        for model in models:
            n = numbers.get(f"models.yaml#{model.id}")
            if n is None:
                continue
            dated = parse_date_text(str(model.as_of))
            stale = limit is not None and dated is not None and (dt.date.today() - dated).days > limit
            lines = catalog_card(model, stale=stale, catalog=catalog)
            carded.add(model.id)
            yield from self._say(f"\n**{model.name}** (catalog) [{n}]:\n" + "".join(f"- {line}\n" for line in lines),
                                 "card")
        cited = [i for i in cited_catalog_ids("".join(self.draft.shown), self.draft.passages) if i not in carded]
        notes = stale_facts(catalog, cited, stale_after_days=limit) if catalog is not None else []
        if notes:
            yield from self._say("\n" + "".join(f"- {line}\n" for line in notes), "dated")

    def _fact_prompt(self, wanted: list[int]) -> tuple[list[dict[str, str]], list[int], Any]:
        """The fact prompt over the wanted passages (as many as fit), the numbers it may cite, and the fallback."""
        from advisor.hygiene import as_data
        from advisor.prompt_context import compact_costs, compact_models, fit_passages
        from advisor.prompts import render
        from advisor.routing import wants_costs, wants_models

        question, folder = self.draft.question, self.settings.prompts_dir
        variables: dict[str, Any] = {"costs": "", "models": ""}
        if wants_costs(question):
            variables["costs"] = compact_costs(5e8, self.settings)
        if wants_models(question):
            variables["models"] = compact_models(question, None, self.settings)
        self._figures = [variables["costs"], variables["models"]]
        passages: list[Any] = [_Numbered(n, self.draft.passages[n - 1].path, self.draft.passages[n - 1].section,
                                         as_data(self.draft.passages[n - 1].text)) for n in wanted]
        system = {"role": "system", "content": render("system", folder)}

        def build(chosen: list[Any]) -> list[dict[str, str]]:
            return [system, {"role": "user", "content": render("answer_fact", folder, passages=chosen,
                                                               question=question, **variables)}]

        budget = self.llm.context_tokens - self.settings.llm_max_tokens - 64
        chosen = fit_passages(passages, build, count=lambda messages: sum(
            self.llm.count_tokens(m["content"]) + 8 for m in messages), budget=budget)
        citable = [int(getattr(p, "n", 0)) for p in chosen]

        def fallback() -> str:
            if not citable:
                return "The knowledge base does not cover this question.\n"
            best = self.draft.passages[citable[0] - 1]
            points = _points(best.text)[:4]
            return ("The model's answer could not be checked against the passages; the closest passage says:\n"
                    + "".join(f"- {_cite(p, citable[0])}\n" for p in points))

        return build(chosen), citable, fallback

    def _excerpt(self, text: str, about: str, keep: int = 3) -> str:
        """The passage's sentences closest to a reason, in their order: a short prompt is a fast one."""
        import numpy as np

        from advisor.claims import passage_windows

        parts = [p for p in passage_windows(text) if p in text][:40]
        if len(parts) <= keep:
            return text
        vectors = self._embed([about, *parts])
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        best = sorted(np.argsort(-(vectors[1:] @ vectors[0]))[:keep])
        return " ".join(parts[i] for i in best)

    def _embed(self, texts: Any) -> Any:
        index = getattr(self.retriever, "index", None)
        if index is not None:
            return index.embedder.encode(texts)
        from advisor.embedding import load_embedder

        return load_embedder(self.settings.resolved_embed_model_path()).encode(texts)

    def _checked(self, prompt: str | list[dict[str, str]], citable: list[int], fallback: Any, *,
                 max_tokens: int) -> Iterator[Event]:
        """Stream one model-written section through the claim check, a sentence behind the model; the
        fallback (the pipeline's own text) when no sentence survives or the model fails."""
        from advisor.claims import ClaimChecker, Evidence, SentenceStream
        from advisor.llm import Completion, LLMError
        from advisor.prompts import render

        messages = prompt if isinstance(prompt, list) else [
            {"role": "system", "content": render("system", self.settings.prompts_dir)},
            {"role": "user", "content": prompt}]
        verdict = self.draft.verdict
        figures = [*getattr(self, "_figures", []), *(self.draft.costs or {}).get("lines", []),
                   "".join(self.draft.parts.values())]
        evidence = Evidence(user_messages=tuple([t.user for t in self._history] + [self.text]),
                            figures=tuple(f for f in figures if f),
                            profile=verdict.profile if verdict is not None else None,
                            recommendation=verdict.recommendation if verdict is not None else None)
        checker = ClaimChecker([h.text for h in self.draft.passages], evidence, embed=self._embed,
                               reader=self.reader, citable=citable)
        shown = 0
        label = ""  # a bare "- **Label:**" line, shown only once a checked sentence follows it

        def release(text: str) -> str:
            nonlocal shown, label
            if _bare_label(text):
                label = text
                return ""
            if not _CITATIONS_ONLY.sub("", text).strip():  # blank, or citations with nothing to cite
                return text if not text.strip() and not label else ""
            shown += 1
            out, label = label + text, ""
            return out

        self.stop.check()
        if not self._model_failed:
            stream = SentenceStream()
            try:
                for piece in self.llm.stream(messages, max_tokens=max_tokens, stop=self.stop):
                    if isinstance(piece, Completion):
                        _add(self.draft.usage, piece.usage)
                        self.draft.cost_usd = piece.cost_usd
                        continue
                    self.draft.body.append(piece)
                    for unit in stream.feed(piece):
                        yield from self._say(release(_unheaded(checker.check(unit))))
                for unit in stream.flush():
                    text = release(_unheaded(checker.check(unit)))
                    yield from self._say(text.rstrip() + "\n" if text.strip() else "")
            except LLMError as exc:
                if verdict is None:
                    raise
                # The verdict is deterministic: without the model the user still gets it, clearly marked.
                log.warning("model failed; answering with the scorer's verdict and the guides: %s", exc)
                self._model_failed = True
                self.draft.kind = "degraded"
                yield from self._say(f"_The model could not write the explanation ({exc}); here is what the scorer and "
                                     "the guides say._\n", "notice")
            finally:
                self.draft.checks.add(checker.checks)
        self.stop.check()  # a stopped stream ends quietly: no fallback, no next section
        if not shown:
            yield from self._say(checker.vouch(fallback()), "fallback")

    def _condense(self, message: str) -> str:
        from advisor.llm import LLMError
        from advisor.prompts import render

        history = self._history
        prompt = render("condense", self.settings.prompts_dir, history=history[-3:], message=message)
        try:
            reply = self.llm.complete([{"role": "user", "content": prompt}], max_tokens=120, deterministic=True,
                                      stop=self.stop)
        except LLMError as exc:
            log.warning("condensing failed, using the message and the previous question: %s", exc)
            return f"{history[-1].user} {message}"
        _add(self.draft.usage, reply.usage)
        question = " ".join(reply.text.strip().strip('"').split())
        return question if 3 <= len(question) <= 1000 else f"{history[-1].user} {message}"

    # -- agent mode ----------------------------------------------------------------------------------------------
    def _agent_turn(self) -> Iterator[Event]:
        from advisor.agent import run_agent
        from advisor.citations import tidy_citations
        from advisor.hygiene import strip_overrides
        from advisor.verdict import Verdict

        yield self._status("understanding")
        cleaned, note = strip_overrides(self.text)
        self.draft.question = cleaned or self.text
        from advisor.llm import translate_error

        try:
            turn = run_agent(self.settings, self.llm, self.retriever, self.draft.question,
                             [(t.user, t.answer) for t in self._history if t.answer])
        except Exception as exc:
            raise translate_error(exc, self.llm.name, self.llm.timeout_s) from exc
        self.stop.check()
        self.draft.passages = turn.passages
        body, _ = tidy_citations(turn.text, len(turn.passages))
        if turn.scores:
            assumed = {a["field"] for a in turn.scores["assumptions"]}
            profile = {k: v for k, v in turn.scores["profile"].items() if k not in assumed}
            self.draft.kind = "situation"
            self.draft.verdict = Verdict.of(profile, turn.scores)
            yield VerdictEvent(t=self._t(), **self.draft.verdict.as_dict())
        yield SourcesEvent(t=self._t(), sources=[
            {"n": i + 1, **h.source(), "text": h.text} for i, h in enumerate(turn.passages)])
        verdict = self.draft.verdict
        yield from self._say(note, "note")
        if verdict is not None:
            yield from self._say(verdict.header(), "header")
        self.draft.body.append(body)
        yield from self._say(body)
        if verdict is not None:
            yield from self._say(verdict.footer(), "footer")
        yield self._done()

    # -- the record ------------------------------------------------------------------------------------------------
    def _answer(self, *, stopped: bool = False) -> Answer:
        from advisor.citations import tidy_citations

        draft, verdict = self.draft, self.draft.verdict
        # Exactly what the reader was shown: every sentence of the model's went through the claim check.
        text, cited = tidy_citations("".join(draft.shown), len(draft.passages))
        sources = [{**h.source(), "cited": i + 1 in cited, "n": i + 1} for i, h in enumerate(draft.passages)]
        return Answer(
            answer=text.strip(), recommendation=verdict.recommendation if verdict else None, sources=sources,
            profile=verdict.profile if verdict else None, scores=verdict.scores if verdict else None,
            model=self.llm.name, latency_s=self._t(), usage=dict(draft.usage), cost_usd=draft.cost_usd,
            conversation_id=self.conversation_id, turn_id=self.turn_id, kind=draft.kind,
            provisional=verdict.provisional if verdict else False, questions=verdict.questions if verdict else [],
            standalone_question=draft.question, stopped=stopped, checks=draft.checks.as_dict(),
            costs=draft.costs)

    def _done(self, *, stopped: bool = False) -> DoneEvent:
        answer = self._answer(stopped=stopped)
        self._record(answer=answer, stopped=stopped)
        return DoneEvent(t=self._t(), result=answer.as_dict())

    def _record(self, *, answer: Answer | None = None, stopped: bool = False, error: str | None = None) -> None:
        """Store the turn once: finished, stopped (with what was written) or failed (with the error)."""
        if self._recorded:
            return
        self._recorded = True
        self._release()
        answer = answer or self._answer(stopped=stopped)
        try:
            self.store.add_turn(
                self.conversation_id, user=self.text, answer=answer.answer,
                standalone_question=answer.standalone_question or None, recommendation=answer.recommendation,
                sources=answer.sources, profile=answer.profile, scores=answer.scores, model=answer.model,
                latency_s=answer.latency_s, usage=answer.usage, cost_usd=answer.cost_usd, error=error,
                stopped=stopped, kind=answer.kind, turn_id=self.turn_id, checks=answer.checks, costs=answer.costs)
        except Exception:  # the turn's own outcome matters more than a failed log entry
            if error is None:
                raise
            log.exception("could not record the failed turn")


def _add(total: dict[str, int], usage: dict[str, int]) -> None:
    for key, value in usage.items():
        total[key] = total.get(key, 0) + value


def _points(text: str) -> list[str]:
    """A passage's list items, or else its sentences: the points a fallback restates."""
    from advisor.fact_points import list_items, section_points

    return list_items(text) or section_points(text)


def _cite(text: str, n: int) -> str:
    """A sentence with its citation before the closing full stop, as the claim check writes them."""
    from advisor.claims import with_citations

    text = text.strip()
    return with_citations(text if text[-1:] in ".!?" else text + ".", [n])


def _bare_label(text: str) -> bool:
    """A list item that is only a bold label ("- **Costs:**"): nothing to show without the sentence after it."""
    import re

    return bool(re.fullmatch(r"\s*(?:[-*•]|\d{1,2}[.)])?\s*\*\*[^*\n]+\*\*:?\s*", text))


def _unheaded(text: str) -> str:
    """The model's own headings go: the pipeline writes each section's."""
    plain = text.strip()
    if plain.startswith("#") or (plain.startswith("**") and plain.rstrip(":").endswith("**")):
        return ""
    return text


def _dedupe(hits: list[Hit]) -> list[Hit]:
    seen: set[tuple[str, str]] = set()
    out = []
    for hit in hits:
        key = (hit.path, hit.section)
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out
