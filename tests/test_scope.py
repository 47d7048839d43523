"""Scoped questions: globs on document ids, and the scope applied inside both retrievers.

The index holds the shipped corpus plus a second folder on other topics (``tests/scoped_corpus.py``);
every question of the shipped set, of the external dev set and of the second folder is searched in
several scopes, and every hit must fall inside its scope while k hits still come back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CORPUS, suite_chroma_env
from scoped_corpus import DOCUMENTS, LANGUAGES, QUESTIONS, scoped_services

from assistant.errors import EmptyScopeError, ExitCode
from assistant.index.bm25 import BM25Index
from assistant.index.scope import ScopeResolver, folder_globs, glob_match, glob_segments, in_scope, resolve_scope
from assistant.models import DocumentInfo, Scope
from assistant.services import Services

DEV_QUESTIONS = CORPUS.parent.parent / "shared" / "data" / "qa-dev" / "questions.jsonl"


def matches(pattern: str, doc_id: str) -> bool:
    return glob_match(glob_segments(pattern), doc_id)


# -- globs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "doc_id", "expected"),
    [
        ("contracts/**", "contracts/lease.md", True),
        ("contracts/**", "contracts/2024/renewal.md", True),
        ("contracts/**", "contractsX/lease.md", False),
        ("contracts/**", "other/contracts/lease.md", False),
        ("contracts", "contracts/2024/renewal.md", True),  # a bare folder name is the folder
        ("contracts/", "contracts/lease.md", True),
        ("./contracts/*", "contracts/lease.md", True),
        ("contracts/*", "contracts/2024/renewal.md", False),  # * stays within one segment
        ("*.md", "contracts/lease.md", False),
        ("*.md", "notes.md", True),
        ("**/*.md", "notes.md", True),
        ("**/*.md", "a/b/c/notes.md", True),
        ("**/*.md", "a/b/c/notes.txt", False),
        ("a/**/c.md", "a/c.md", True),
        ("a/**/c.md", "a/b/x/c.md", True),
        ("a/**/**/c.md", "a/b/c.md", True),
        ("recipes/r?sotto.txt", "recipes/risotto.txt", True),
        ("recipes/[rt]*", "recipes/tarte-tatin.txt", True),
        ("recipes/[!rt]*", "recipes/tarte-tatin.txt", False),
        ("Contracts/**", "contracts/lease.md", False),  # ids are case-sensitive, as paths
        ("**", "anything/at/all.txt", True),
    ],
)
def test_glob_semantics(pattern: str, doc_id: str, expected: bool) -> None:
    assert matches(pattern, doc_id) is expected


def test_an_empty_or_overlong_glob_is_a_usage_error() -> None:
    for bad in ("", "   ", "x" * 1001):
        with pytest.raises(EmptyScopeError):
            glob_segments(bad)
    assert EmptyScopeError("x").exit_code == ExitCode.USAGE


def test_a_hostile_glob_on_a_long_id_returns_at_once() -> None:
    segments = glob_segments("/".join(["**/*a*a*a*a*a*b"] * 40))
    doc_id = "/".join(["a" * 200] * 60)
    started = time.perf_counter()
    assert not glob_match(segments, doc_id)
    assert time.perf_counter() - started < 2.0


def test_scope_parts_combine_as_documented() -> None:
    documents = [("contracts/lease.md", "en"), ("contracts/caffe.md", "it"), ("recipes/tarte.txt", "fr")]
    assert in_scope(Scope(globs=["contracts/**"]), documents) == ["contracts/lease.md", "contracts/caffe.md"]
    # globs and ids are alternatives; languages narrow them
    either = Scope(globs=["contracts/**"], doc_ids=["recipes/tarte.txt"])
    assert in_scope(either, documents) == [d for d, _ in documents]
    assert in_scope(Scope(globs=["contracts/**"], languages=["it"]), documents) == ["contracts/caffe.md"]
    assert in_scope(Scope(languages=["FR"]), documents) == ["recipes/tarte.txt"]
    assert resolve_scope(Scope(), documents) is None and resolve_scope(None, documents) is None
    with pytest.raises(EmptyScopeError, match="--in 'letters/\\*\\*'"):
        resolve_scope(Scope(globs=["letters/**"]), documents)
    with pytest.raises(EmptyScopeError):
        resolve_scope(Scope(doc_ids=["contracts/lease.md"], languages=["it"]), documents)


class CountingCatalog:
    """The two things a scope resolver reads of a catalog, counting the reads of its documents."""

    def __init__(self, ids: list[str]) -> None:
        self.ids, self.stamp, self.reads = ids, "r1", 0

    def revision(self) -> str:
        return self.stamp

    def documents(self) -> list[DocumentInfo]:
        self.reads += 1
        return [
            DocumentInfo(doc_id=i, path=f"/x/{i}", title=i, language="en", sha256="0", encoding="utf-8", format="md",
                         n_chars=1)
            for i in self.ids
        ]


def test_the_resolver_reads_the_documents_once_per_catalog_revision() -> None:
    catalog = CountingCatalog(["a/x.md", "a/y.md", "b/z.md"])
    resolver = ScopeResolver()
    store: Any = catalog
    assert resolver.resolve(Scope(globs=["a/**"]), store) == ["a/x.md", "a/y.md"]
    assert resolver.resolve(Scope(globs=["a/**"]), store) == ["a/x.md", "a/y.md"]
    assert resolver.resolve(Scope(globs=["**"]), store) is None  # every document: no filter needed
    assert catalog.reads == 1
    catalog.ids, catalog.stamp = ["b/z.md", "a/new.md"], "r2"  # an ingest moved the revision
    assert resolver.resolve(Scope(globs=["a/**"]), store) == ["a/new.md"] and catalog.reads == 2
    with pytest.raises(EmptyScopeError):
        resolver.resolve(Scope(doc_ids=["a/x.md"]), store)


def test_folder_globs_list_every_folder_prefix() -> None:
    ids = ["a/b/c.md", "a/d.md", "top.txt", "e/f.txt"]
    assert folder_globs(ids) == ["a/**", "a/b/**", "e/**"]


def test_bm25_rows_restrict_the_candidates_before_the_k_best() -> None:
    index = BM25Index(["c1", "c2", "c3", "c4"], [["sora"], ["sora", "sora"], ["sora"], ["other"]])
    owners = {"c1": "a", "c2": "b", "c3": "a", "c4": "a"}
    assert index.search(["sora"], 1)[0][0] == "c2"  # the best overall is b's
    rows = index.document_rows(["a"], lambda: owners)
    assert sorted(rows.tolist()) == [0, 2, 3]
    assert [cid for cid, _ in index.search(["sora"], 2, rows)] == ["c1", "c3"]
    assert index.search(["sora"], 5, index.document_rows(["nobody"], lambda: owners)) == []
    assert index.search(["sora"], 5, np.asarray([], dtype=np.int64)) == []


# -- scoped retrieval over a real index -------------------------------------------------------------


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest
) -> Services:
    return scoped_services(tmp_path_factory.mktemp("scope"), embedding_cache, suite_chroma_env(request, "scope"))


def all_questions() -> list[str]:
    shipped = [json.loads(line)["question"] for line in (CORPUS / "questions.jsonl").read_text().splitlines()]
    dev_lines = DEV_QUESTIONS.read_text().splitlines() if DEV_QUESTIONS.is_file() else []  # beside the repo
    dev = [json.loads(line)["question"] for line in dev_lines]
    return [*shipped, *dev, *QUESTIONS]


SCOPES = {
    "folder": Scope(globs=["contracts/**"]),
    "nested folder": Scope(globs=["contracts/2024/**"]),
    "two documents": Scope(doc_ids=["000_9054f5f7106c5075.txt", "sky/moon.txt"]),
    "glob and language": Scope(globs=["**/*.txt"], languages=["it"]),
    "language": Scope(languages=["fr"]),
}


def scope_ids(services: Services, scope: Scope) -> set[str]:
    return set(services.scope_documents(scope) or [d.doc_id for d in services.documents()])


def chunks_in(services: Services, doc_ids: set[str]) -> int:
    return sum(d.n_chunks for d in services.documents() if d.doc_id in doc_ids)


def test_the_index_holds_both_folders_with_their_languages(services: Services) -> None:
    documents = {d.doc_id: d for d in services.documents()}
    assert set(DOCUMENTS) <= set(documents) and len(documents) == 5 + len(DOCUMENTS)
    assert {doc_id: documents[doc_id].language for doc_id in DOCUMENTS} == LANGUAGES
    assert services.folders() == ["contracts/**", "contracts/2024/**", "recipes/**", "sky/**"]


@pytest.mark.slow
def test_every_hit_of_a_scoped_search_is_in_scope_and_k_come_back(services: Services) -> None:
    allowed = {name: scope_ids(services, scope) for name, scope in SCOPES.items()}
    held = {name: chunks_in(services, ids) for name, ids in allowed.items()}
    assert all(0 < len(ids) < len(services.documents()) for ids in allowed.values())
    questions = all_questions()
    assert len(questions) >= 80
    for question in questions:  # each question embedded once (the query cache is smaller than the set)
        for name, scope in SCOPES.items():
            for k in (3, 10):
                result = services.search(question, k=k, mode="hybrid", scope=scope)
                assert {hit.doc_id for hit in result.hits} <= allowed[name], (name, question)
                assert len(result.hits) == min(k, held[name]), (name, question, k)


@pytest.mark.slow
def test_each_retriever_applies_the_scope_itself(services: Services) -> None:
    scope = Scope(globs=["sky/**"])
    allowed, held = {"sky/moon.txt"}, chunks_in(services, {"sky/moon.txt"})
    question = "Who is OpenAI's COO?"  # the whole index answers from the shipped corpus, not the Moon's
    unscoped = services.search(question, k=held, mode="dense")
    assert not {hit.doc_id for hit in unscoped.hits} & allowed
    dense = services.search(question, k=held, mode="dense", scope=scope)
    assert {hit.doc_id for hit in dense.hits} == allowed and len(dense.hits) == held  # not a filtered top k
    bm25 = services.search("Moon Earth orbit Apollo", k=10, mode="bm25", scope=Scope(globs=["contracts/**"]))
    assert bm25.hits == []  # no contract mentions them, though the Moon's passages do
    inside = services.search("Moon Earth orbit Apollo", k=10, mode="bm25", scope=scope)
    assert {hit.doc_id for hit in inside.hits} == allowed


@pytest.mark.slow
def test_the_language_filter_keeps_only_documents_in_that_language(services: Services) -> None:
    languages = {d.doc_id: d.language for d in services.documents()}
    for language in ("it", "fr", "en"):
        for question in QUESTIONS:
            hits = services.search(question, k=10, scope=Scope(languages=[language])).hits
            assert hits and {languages[hit.doc_id] for hit in hits} == {language}, (language, question)


@pytest.mark.slow
def test_every_citation_of_a_scoped_answer_is_in_scope(services: Services) -> None:
    shipped = [json.loads(line)["question"] for line in (CORPUS / "questions.jsonl").read_text().splitlines()]
    scopes = [
        Scope(globs=["contracts/**", "recipes/**"]),
        Scope(doc_ids=["000_9054f5f7106c5075.txt", "003_1aeb26e51effe5d5.txt"]),
        Scope(globs=["**/*.txt"], languages=["it"]),
    ]
    cited = 0
    for scope in scopes:
        allowed = scope_ids(services, scope)
        for question in [*shipped, *QUESTIONS]:
            answer = services.ask(question, mode="extractive", scope=scope)
            assert {source.doc_id for source in answer.sources} <= allowed, (scope, question)
            cited += bool(answer.sources)
    assert cited >= 40  # most scoped questions were answered, so the assertion above was about something


def test_a_scope_that_names_nothing_is_a_usage_error_before_any_answer(services: Services) -> None:
    for scope in (Scope(globs=["letters/**"]), Scope(doc_ids=["nope.txt"]), Scope(languages=["de"])):
        with pytest.raises(EmptyScopeError, match="no indexed document is in the scope"):
            services.search("Who is OpenAI's COO?", scope=scope)
        with pytest.raises(EmptyScopeError):
            services.stream("Who is OpenAI's COO?", mode="extractive", scope=scope)  # raised before streaming


def test_an_empty_scope_is_the_whole_index(services: Services) -> None:
    whole = services.search("Who is OpenAI's COO?", k=5)
    assert services.search("Who is OpenAI's COO?", k=5, scope=Scope()).hits == whole.hits
