"""Answering: retrieve, check the evidence, generate (or extract), verify citations, check language.

:meth:`Answerer.stream` is the one code path; :meth:`Answerer.ask` only collects it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from assistant.answer.citations import VerifiedAnswer, is_refusal, verify_citations
from assistant.answer.dateline import dateline
from assistant.answer.evidence import confidence, gather, refuse
from assistant.answer.extractive import Quote, compose_extractive
from assistant.answer.followup import resolve
from assistant.answer.generate import ChatModel, ModelError, select_chat_model
from assistant.answer.kinds import defined_term, question_kind
from assistant.answer.locate import locate
from assistant.answer.prompts import (
    answer_messages,
    condense_messages,
    new_nonce,
    phrase,
    render,
)
from assistant.answer.rank import Ranked, rank
from assistant.models import Answer, Hit, Source, Timings
from assistant.text.language import detect_language, language_name
from assistant.text.sanitize import sanitize_model_text

if TYPE_CHECKING:
    from assistant.answer.rank import QueryEmbedder
    from assistant.config import Settings
    from assistant.models import DocumentInfo, Scope, SearchResult

SearchFunction = Callable[..., "SearchResult"]
"""``search(query, k=...)``: the retrieval the answers are built on."""
DocumentLookup = Callable[[str], "DocumentInfo | None"]
"""The catalog's record of a document, by id."""

History = Sequence[tuple[str, str]]
AnswerMode = Literal["generative", "extractive"]


@dataclass
class AnswerEvent:
    """One step of a streamed answer: a status line, a text piece, a restart, or the final answer."""

    kind: Literal["status", "token", "reset", "answer"]
    text: str = ""
    answer: Answer | None = None


@dataclass
class AnswerRun:
    """The state of one answer being built: the question, its language, timings and notes."""

    question: str
    language: str
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    notes: list[str] = field(default_factory=list)


class Answerer:
    """Answers questions over the index with verified citations."""

    def __init__(
        self, settings: Settings, search: SearchFunction, embedder: QueryEmbedder, document: DocumentLookup
    ) -> None:
        self.settings = settings
        self._search = search
        self._embedder = embedder
        self._document = document
        self._models: dict[tuple[str | None, str | None], tuple[ChatModel, str]] = {}
        self._lock = threading.Lock()

    # -- public --------------------------------------------------------------------------
    def ask(self, question: str, **options: object) -> Answer:
        """The whole answer at once (collects :meth:`stream`)."""
        final: Answer | None = None
        for event in self.stream(question, **options):  # type: ignore[arg-type]
            if event.kind == "answer":
                final = event.answer
        assert final is not None
        return final

    def stream(
        self,
        question: str,
        history: History = (),
        k: int | None = None,
        mode: str | None = None,
        backend: str | None = None,
        model: str | None = None,
        strict: bool | None = None,
        scope: Scope | None = None,
    ) -> Iterator[AnswerEvent]:
        """Stream an answer: status lines, text pieces, then the verified :class:`Answer`.

        Model failures are raised as :class:`ModelError` after the partial text was streamed;
        the caller marks such an answer as failed. A ``scope`` limits the passages, hence the
        citations, to its documents.
        """
        question = question.strip()
        run = AnswerRun(question=question, language=detect_language(question))
        chat, note = self.chat_model(backend, model)
        resolved_mode = self._mode(mode, chat)
        yield AnswerEvent("status", note)
        standalone = self._standalone(question, history, chat, resolved_mode, run)
        t0 = time.perf_counter()
        result = self._search(standalone, k=k, scope=scope)  # every passage, so every citation, is in scope
        retrieval_ms = (time.perf_counter() - t0) * 1000
        hits = result.hits
        strict_mode = self.settings.answer.strict_citations if strict is None else strict
        ranked = rank(standalone, run.language, hits, self._embedder)
        evidence = gather(standalone, run.language, hits, ranked)
        score = confidence(evidence)
        strictness = self.settings.answer.strictness
        if not hits or refuse(score, strictness):
            why = f"the passages do not back an answer (confidence {score:.2f} < strictness {strictness:.2f})"
            if not evidence.asks:
                why = "the question holds no word to look for in the documents"
            elif hits and not evidence.states_kind:
                why = f"no close passage sentence states the {question_kind(standalone)} the question asks for"
            elif hits and not evidence.names_term:
                why = f"no close passage names what the question asks about ({defined_term(standalone)})"
            answer = self._refusal(run, chat, resolved_mode, why)
        elif resolved_mode == "extractive":
            answer = yield from self._extractive(run, standalone, hits, ranked, strict_mode)
        else:
            answer = yield from self._generative(run, standalone, hits, chat, strict_mode)
        answer.confidence = score
        answer.backend, answer.model = chat.backend, chat.model if resolved_mode == "generative" else "extractive"
        answer.standalone_question = standalone if standalone != question else None
        answer.timings = Timings(
            retrieval_ms=retrieval_ms,
            first_token_ms=None if run.first_token is None else (run.first_token - run.started) * 1000,
            total_ms=(time.perf_counter() - run.started) * 1000,
        )
        yield AnswerEvent("answer", answer=answer)

    def chat_model(self, backend: str | None = None, model: str | None = None) -> tuple[ChatModel, str]:
        """The chat model for this backend/model choice.

        An explicit backend is selected once and reused; ``auto`` is decided again on every call
        (two quick HTTP requests), so a long-running UI switches to Ollama once it is started.
        """
        if (backend or self.settings.llm.backend) == "auto":
            return select_chat_model(self.settings, backend, model)
        with self._lock:
            key = (backend, model)
            if key not in self._models:
                self._models[key] = select_chat_model(self.settings, backend, model)
            return self._models[key]

    # -- steps ---------------------------------------------------------------------------
    def _mode(self, mode: str | None, chat: ChatModel) -> AnswerMode:
        chosen = mode or self.settings.answer.mode
        if chosen == "auto":
            return "generative" if chat.backend == "ollama" else "extractive"
        if chosen not in ("generative", "extractive"):
            raise ModelError(f"unknown answer mode {chosen!r} (use auto, generative or extractive)")
        return chosen  # type: ignore[return-value]

    def _standalone(self, question: str, history: History, chat: ChatModel, mode: AnswerMode, run: AnswerRun) -> str:
        """Rewrite a follow-up into a standalone question (by the model, or with the conversation's topic)."""
        if not history:
            return question
        if mode == "generative":
            text = "".join(chat.stream(condense_messages(history, question, run.language), 96)).strip()
            first_line = sanitize_model_text(text).splitlines()[0].strip() if text.strip() else ""
            if 3 <= len(first_line) <= 400:
                return first_line
        return resolve(question, history, run.language)

    def _extractive(
        self, run: AnswerRun, query: str, hits: list[Hit], ranked: list[Ranked], strict: bool
    ) -> Generator[AnswerEvent, None, Answer]:
        most = self.settings.answer.extractive_sentences
        line = dateline(query, hits)  # "when was the article published?": its dateline, alone
        composed = compose_extractive(query, run.language, [line] if line else ranked, max_sentences=most)
        if composed is None:
            return self._refusal(run, None, "extractive", "no passage sentence can be quoted")
        raw, quotes = composed
        text = sanitize_model_text(raw)
        for piece in _pieces(text):
            self._mark_first_token(run)
            yield AnswerEvent("token", piece)
        verified = verify_citations(text, hits, similarity=self._similarity, strict=strict)
        _narrow_to_quotes(verified.sources, quotes, hits)
        return self._build(run, verified, hits, "extractive")

    def _generative(
        self, run: AnswerRun, query: str, hits: list[Hit], chat: ChatModel, strict: bool
    ) -> Generator[AnswerEvent, None, Answer]:
        used, dropped = self._fit(run, query, hits, chat)
        if not used:
            return self._refusal(run, chat, "generative", "the model's context is too small for any passage")
        messages = answer_messages(query, run.language, used, new_nonce())
        raw = yield from self._generate(run, chat, messages)
        if is_refusal(raw, used, similarity=self._similarity):
            return self._refusal(run, chat, "generative", "the model found no answer in the passages")
        text = sanitize_model_text(raw)
        if text and detect_language(text) != run.language:
            retry = [
                *messages,
                {"role": "assistant", "content": raw},
                {"role": "user", "content": render("language_retry", language_name=language_name(run.language))},
            ]
            yield AnswerEvent("reset")
            text = sanitize_model_text((yield from self._generate(run, chat, retry)))
            if detect_language(text) != run.language:
                run.notes.append(f"the answer may not be in {language_name(run.language)} (checked after one retry)")
        verified = verify_citations(text, used, similarity=self._similarity, strict=strict)
        answer = self._build(run, verified, used, "generative")
        answer.passages_dropped = dropped
        if dropped:
            answer.notes.append(f"{dropped} lower-ranked passage(s) left out to fit the model's context")
        return answer

    def _generate(
        self, run: AnswerRun, chat: ChatModel, messages: list[dict[str, str]]
    ) -> Generator[AnswerEvent, None, str]:
        pieces: list[str] = []
        for piece in chat.stream(messages, self.settings.llm.max_answer_tokens):
            self._mark_first_token(run)
            pieces.append(piece)
            yield AnswerEvent("token", piece)
        return "".join(pieces)

    def _fit(self, run: AnswerRun, query: str, hits: list[Hit], chat: ChatModel) -> tuple[list[Hit], int]:
        """Drop the lowest-ranked passages until the prompt and the answer fit the context."""
        budget = chat.context_tokens - self.settings.llm.max_answer_tokens
        used = list(hits)
        while used:
            messages = answer_messages(query, run.language, used, "0" * 12)
            if sum(chat.count_tokens(m["content"]) for m in messages) + 16 <= budget:
                break
            used.pop()
        return used, len(hits) - len(used)

    def _similarity(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Answer sentences embedded as queries against source spans as passages (spans are cached)."""
        embedder = self._embedder
        claims = np.stack([embedder.embed_query(text) for text in a])
        return claims @ embedder.embed_passages(list(b)).T

    def _mark_first_token(self, run: AnswerRun) -> None:
        if run.first_token is None:
            run.first_token = time.perf_counter()

    def _build(self, run: AnswerRun, verified: VerifiedAnswer, hits: list[Hit], mode: AnswerMode) -> Answer:
        for source in verified.sources:
            info = self._document(source.doc_id)
            if info is not None:
                source.path, source.date = info.path, source.date or info.date
                source.sha256 = info.sha256
                source.locator = locate(info, source.start, source.passage, source.passage_start)
        return Answer(
            question=run.question,
            text=verified.text,
            language=run.language,
            sentences=verified.sentences,
            sources=verified.sources,
            mode=mode,
            notes=[*run.notes, *verified.notes],
            passages_used=len(hits),
        )

    def _refusal(self, run: AnswerRun, chat: ChatModel | None, mode: AnswerMode, why: str) -> Answer:
        return Answer(
            question=run.question,
            text=phrase("refusal", run.language),
            language=run.language,
            refused=True,
            mode=mode,
            notes=[*run.notes, f"refused: {why}"],
        )


def _narrow_to_quotes(sources: list[Source], quotes: Sequence[Quote], hits: Sequence[Hit]) -> None:
    """Point the sources of trimmed quotes (and of a dateline, part of its sentence) at the quoted
    text, a verbatim part of the verified quote."""
    for quote in quotes:
        hit = hits[quote.passage - 1]
        start, end = hit.start + quote.start, hit.start + quote.end
        for source in sources:
            if source.doc_id == hit.doc_id and source.start <= start and end <= source.end:
                offset = start - source.start
                source.quote = source.quote[offset : offset + end - start]
                source.start, source.end = start, end
                break


def _pieces(text: str, size: int = 24) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]
