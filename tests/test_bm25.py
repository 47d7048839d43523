"""BM25: ranking, ties, and an index saved to a file that answers like the one built in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.index.bm25 import BM25Index, query_term_groups, query_terms, tokenize

PASSAGES = {
    "it-1": ("Brad Lightcap, COO di OpenAI, ha detto che Sora è stato lanciato troppo presto.", "it"),
    "it-2": ("Il modello Sora genera video a partire da un testo.", "it"),
    "fr-1": ("Le modèle Sora d'OpenAI n'a pas encore été publié.", "fr"),
    "en-1": ("OpenAI's COO Brad Lightcap spoke about Sora and Hollywood studios.", "en"),
    "en-2": ("The weather in Sydney was sunny all week.", "en"),
}


def build() -> BM25Index:
    return BM25Index(list(PASSAGES), [tokenize(text, lang) for text, lang in PASSAGES.values()])


def reference_scores(index_ids: list[str], docs: list[list[str]], terms: list[str]) -> dict[str, float]:
    """Okapi BM25 written out plainly, to check the vectorised index against."""
    n = len(docs)
    avgdl = sum(map(len, docs)) / n
    scores = {}
    for doc_id, doc in zip(index_ids, docs, strict=True):
        score = 0.0
        for term in dict.fromkeys(terms):
            tf = doc.count(term)
            if not tf:
                continue
            df = sum(1 for d in docs if term in d)
            idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len(doc) / avgdl))
        if score > 0:
            scores[doc_id] = score
    return scores


def test_scores_are_okapi_bm25_and_only_matching_chunks_are_returned() -> None:
    index = build()
    terms = query_terms("Chi è il COO di OpenAI che ha parlato di Sora?")
    found = dict(index.search(terms, k=10))
    docs = [tokenize(text, lang) for text, lang in PASSAGES.values()]
    expected = reference_scores(list(PASSAGES), docs, terms)
    assert found.keys() == expected.keys() and "en-2" not in found
    for doc_id, score in expected.items():
        assert found[doc_id] == pytest.approx(score, rel=1e-5)
    assert [doc_id for doc_id, _ in index.search(terms, k=2)] == sorted(expected, key=lambda d: -expected[d])[:2]


def test_term_shares_weigh_each_question_word_by_its_rarity() -> None:
    """ "Sora" is in four passages of five, "Lightcap" in two: a passage that holds only "Sora" holds
    little of the question's weight. A word counts once, however many stems it has ("sor", "sora")."""
    index = build()
    groups = query_term_groups("Lightcap Sora")
    assert groups == [["lightcap"], ["sor", "sora"]]
    shares = index.term_shares(groups, ["it-1", "it-2", "en-2", "missing"])
    assert set(shares) == {"it-1", "it-2", "en-2"}, "ids not in the index are left out"
    assert shares["it-1"] == pytest.approx(1.0) and shares["en-2"] == 0.0
    n, rare, common = 5, 2, 4
    idf_rare, idf_common = (np.log(1 + (n - df + 0.5) / (df + 0.5)) for df in (rare, common))
    assert shares["it-2"] == pytest.approx(idf_common / (idf_rare + idf_common)) and shares["it-2"] < 0.5
    assert index.term_shares([["nothing"]], ["it-1"]) == {"it-1": 0.0}
    assert query_terms("Lightcap Sora") == ["lightcap", "sor", "sora"]
    assert index.term_shares(query_term_groups("Sora Soras Lightcap"), ["it-2"]) == shares_once(index)


def shares_once(index: BM25Index) -> dict[str, float]:
    """Words sharing a stem count once: "Sora Soras Lightcap" weighs as "Sora Lightcap"."""
    return index.term_shares(query_term_groups("Sora Lightcap"), ["it-2"])


def test_ties_keep_index_order_even_at_the_cut() -> None:
    index = BM25Index([f"c{i}" for i in range(6)], [["sora", "video"]] * 6)
    assert [doc_id for doc_id, _ in index.search(["sora"], k=3)] == ["c0", "c1", "c2"]
    assert index.search(["nothing"], k=3) == [] and index.search(["sora"], k=0) == []
    assert BM25Index([], []).search(["sora"], k=3) == [] and len(BM25Index([], [])) == 0


def test_saved_index_answers_like_the_built_one(tmp_path: Path) -> None:
    index = build()
    path = tmp_path / "bm25" / "index.npz"
    index.save(path)
    loaded = BM25Index.load(path)
    assert loaded.ids == index.ids and len(loaded) == len(index)
    for question in ("Who is OpenAI's COO?", "Sora n'a pas été publié", "video da un testo", "weather"):
        terms = query_terms(question)
        assert loaded.search(terms, 5) == index.search(terms, 5)
    path.write_bytes(b"not an index")
    with pytest.raises((OSError, ValueError)):
        BM25Index.load(path)


def test_ids_and_documents_must_match() -> None:
    with pytest.raises(ValueError):
        BM25Index(["a", "b"], [["x"]])


def test_an_index_built_from_streamed_rows_is_the_same() -> None:
    rows = [(doc_id, tokenize(text, lang)) for doc_id, (text, lang) in PASSAGES.items()]
    streamed = BM25Index.from_rows(iter(rows))
    built = build()
    assert streamed.ids == built.ids
    for question in ("Who is OpenAI's COO?", "Sora n'a pas été publié", "video da un testo"):
        assert streamed.search(query_terms(question), 5) == built.search(query_terms(question), 5)
    assert len(BM25Index.from_rows(iter([]))) == 0
