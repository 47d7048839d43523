"""Scoped questions: which indexed documents a :class:`~assistant.models.Scope` lets through.

Globs match document ids ('/'-separated paths under their corpus folder) one path segment at a
time: ``*``, ``?`` and ``[...]`` match within a segment, a whole ``**`` segment matches any number
of segments (none too). So ``contracts/**`` is everything under ``contracts``, ``**/*.pdf`` every
PDF at any depth, ``*.md`` the Markdown files at the top. A glob without a wildcard also names a
folder: ``contracts`` is the document ``contracts`` and everything under ``contracts/``.

Matching costs at most (glob segments × id segments) segment matches per document, and fnmatch's
patterns do not backtrack catastrophically: a hostile glob or id cannot stall a question.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from assistant.errors import EmptyScopeError
from assistant.models import Scope

if TYPE_CHECKING:
    from assistant.index.catalog_store import CatalogStore

WILDCARDS = frozenset("*?[")
MAX_GLOB_CHARS = 1000
"""Longer globs are refused (a scope names folders and files, not essays)."""


def glob_segments(pattern: str) -> tuple[str, ...]:
    """A glob's segments, normalised: no empty or ``.`` segment, a bare folder name extended by ``**``.

    Raises :class:`EmptyScopeError` for an empty glob or one over :data:`MAX_GLOB_CHARS`.
    """
    text = pattern.strip()
    if not text:
        raise EmptyScopeError("an empty --in glob matches no document (use e.g. \"contracts/**\")")
    if len(text) > MAX_GLOB_CHARS:
        raise EmptyScopeError(f"the --in glob is {len(text):,} characters long; the limit is {MAX_GLOB_CHARS:,}")
    segments = [s for s in text.replace("\\", "/").split("/") if s not in ("", ".")]
    collapsed: list[str] = []
    for segment in segments:
        if segment == "**" and collapsed and collapsed[-1] == "**":
            continue  # a/**/**/b is a/**/b (and keeps the matching linear)
        collapsed.append(segment)
    if not collapsed:
        return ("**",)
    if text.endswith("/") or not any(ch in WILDCARDS for ch in text):
        collapsed.append("**")  # a folder: the name itself and everything under it
    return tuple(collapsed)


def glob_match(segments: Sequence[str], doc_id: str) -> bool:
    """Whether a document id matches a glob split by :func:`glob_segments`."""
    parts = doc_id.split("/")
    reachable = {0}  # how many of the id's segments the glob's segments so far can have consumed
    last = len(segments) - 1
    for n, segment in enumerate(segments):
        if segment == "**":
            if n == last:
                return True  # the rest of the id, whatever it is
            reachable = set(range(min(reachable), len(parts) + 1))
        elif WILDCARDS.isdisjoint(segment):
            reachable = {i + 1 for i in reachable if i < len(parts) and parts[i] == segment}
        else:
            reachable = {i + 1 for i in reachable if i < len(parts) and fnmatchcase(parts[i], segment)}
        if not reachable:
            return False
    return len(parts) in reachable


def in_scope(scope: Scope, documents: Iterable[tuple[str, str]]) -> list[str]:
    """The ids of the ``(doc_id, language)`` documents that ``scope`` lets through, in the given order.

    A document is in scope when it matches every non-empty part: one of the globs or ids, and one
    of the languages. An empty scope lets every document through.
    """
    globs = [glob_segments(g) for g in scope.globs]
    ids = set(scope.doc_ids)
    languages = {language.strip().lower() for language in scope.languages}
    chosen: list[str] = []
    for doc_id, language in documents:
        if (globs or ids) and doc_id not in ids and not any(glob_match(g, doc_id) for g in globs):
            continue
        if languages and (language or "").lower() not in languages:
            continue
        chosen.append(doc_id)
    return chosen


def describe(scope: Scope) -> str:
    """The scope on one line, as the CLI options that make it ("--in 'a/**' --lang fr")."""
    parts = [f"--in {g!r}" for g in scope.globs]
    parts += [f"--doc {d!r}" for d in scope.doc_ids]
    parts += [f"--lang {language}" for language in scope.languages]
    shown = " ".join(parts)
    return shown if len(shown) <= 300 else shown[:299] + "…"


def resolve_scope(scope: Scope | None, documents: Iterable[tuple[str, str]]) -> list[str] | None:
    """The document ids a question in ``scope`` may be answered from; None when there is no restriction.

    Raises :class:`EmptyScopeError` (a usage error, exit 2) when the scope names no indexed document.
    """
    if scope is None or scope.is_empty():
        return None
    chosen = in_scope(scope, documents)
    if not chosen:
        raise EmptyScopeError(f"no indexed document is in the scope {describe(scope)}")
    return chosen


def folder_globs(doc_ids: Iterable[str]) -> list[str]:
    """Every folder prefix of the ids as ``folder/**``, sorted (``a/b/c.md`` gives ``a/**`` and ``a/b/**``)."""
    folders: set[str] = set()
    for doc_id in doc_ids:
        parts = doc_id.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return [f"{folder}/**" for folder in sorted(folders)]


class ScopeResolver:
    """Resolves scopes over one catalog: its documents are read once per catalog revision, and the
    scopes resolved since (the same scope asked again, as in a conversation) are remembered."""

    def __init__(self, remembered: int = 64) -> None:
        self.remembered = remembered
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._documents: list[tuple[str, str]] = []
        self._resolved: dict[str, list[str] | None] = {}

    def resolve(self, scope: Scope | None, catalog: CatalogStore) -> list[str] | None:
        """The ids of the documents in ``scope``; None when it lets every document through.

        Raises :class:`EmptyScopeError` when it names no indexed document.
        """
        if scope is None or scope.is_empty():
            return None
        key = scope.model_dump_json()
        with self._lock:
            revision = catalog.revision()
            if revision != self._revision:
                self._documents = [(info.doc_id, info.language) for info in catalog.documents()]
                self._revision, self._resolved = revision, {}
            if key in self._resolved:
                return self._resolved[key]
            documents = self._documents
        allowed = resolve_scope(scope, documents)
        chosen = None if allowed is not None and len(allowed) == len(documents) else allowed
        with self._lock:
            if self._revision == revision:
                if len(self._resolved) >= self.remembered:
                    self._resolved.pop(next(iter(self._resolved)))
                self._resolved[key] = chosen
        return chosen
