"""BM25 with per-language Snowball stemming (Italian, French, English).

Chunks are stemmed with their own language's stemmer at ingestion and the tokens are persisted in
the catalog; a question is stemmed with every supported stemmer, since it may be asked in another
language than the passage's. The inverted index lives in memory and is rebuilt only when the
catalog changes; it can be saved to and loaded from one file.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.text.lexicon import stopwords
from assistant.text.sentences import words

_STEMMERS = {"it": "italian", "fr": "french", "en": "english"}



@lru_cache(maxsize=8)
def _stemmer(language: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(_STEMMERS[language])


def tokenize(text: str, language: str) -> list[str]:
    """Folded, stop-word-free, stemmed tokens of a passage in ``language``."""
    lang = language if language in _STEMMERS else "en"
    kept = [w for w in words(text) if (w not in stopwords(lang) and len(w) > 1) or w.isdigit()]
    return list(_stemmer(lang).stemWords(kept))


def query_terms(text: str) -> list[str]:
    """Stems of a question under every supported language (the union, deduplicated)."""
    return list(dict.fromkeys(stem for group in query_term_groups(text) for stem in group))


def query_term_groups(text: str) -> list[list[str]]:
    """The question's words (stop words left out, each once), each as its stems under every
    supported language: "Sora" is ``["sor", "sora"]``, one word however many stems."""
    stop = set().union(*(stopwords(lang) for lang in _STEMMERS))
    kept = list(dict.fromkeys(w for w in words(text) if (w not in stop and len(w) > 1) or w.isdigit()))
    stems = [_stemmer(lang).stemWords(kept) for lang in _STEMMERS]
    return [list(dict.fromkeys(variants)) for variants in zip(*stems, strict=True)]


class BM25Index:
    """An in-memory inverted index with Okapi BM25 scoring.

    Postings are stored as flat arrays (one slice per term) holding each posting's whole BM25
    weight, so that a search is one vectorised add per query term. :meth:`save` and :meth:`load`
    keep it in one ``.npz`` file, so that a process need not rebuild it from the catalog.
    """

    def __init__(self, ids: Sequence[str], documents: Iterable[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        self.ids = list(ids)
        self._build(documents, k1, b)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, Sequence[str]]], k1: float = 1.2, b: float = 0.75) -> BM25Index:
        """An index of ``(chunk id, tokens)`` rows, read once as they come (no list of every token is kept)."""
        index = cls.__new__(cls)
        index.ids = []

        def documents() -> Iterator[Sequence[str]]:
            for chunk_id, tokens in rows:
                index.ids.append(chunk_id)
                yield tokens

        index._build(documents(), k1, b)
        return index

    def _build(self, documents: Iterable[Sequence[str]], k1: float, b: float) -> None:
        self.stamp = ""
        """What the index was built from (see :meth:`Catalog.revision`); kept by :meth:`save`."""
        self.k1 = k1
        self.b = b
        vocabulary: dict[str, int] = {}
        lengths = array("q")  # machine integers: a Python int per token would cost 36 bytes
        term_ids = array("q")
        for tokens in documents:
            lengths.append(len(tokens))
            term_ids.extend([vocabulary.setdefault(t, len(vocabulary)) for t in tokens])
        n = len(lengths)
        if n != len(self.ids):
            raise ValueError(f"{len(self.ids)} ids for {n} documents")
        # (term, document) pairs, sorted by term then document, with their term frequencies
        terms = np.asarray(term_ids, dtype=np.int64)
        del term_ids
        docs = np.repeat(np.arange(n, dtype=np.int64), np.asarray(lengths, dtype=np.int64))
        pairs, tfs = np.unique(terms * max(n, 1) + docs, return_counts=True)
        del terms, docs
        posting_terms, posting_docs = np.divmod(pairs, max(n, 1))
        offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(posting_terms, minlength=len(vocabulary)), out=offsets[1:])
        length = np.asarray(lengths, dtype=np.float32)
        avgdl = float(length.mean()) if n else 1.0
        norm = k1 * (1 - b + b * length / max(avgdl, 1e-6))
        df = np.diff(offsets).astype(np.float64)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        tf = tfs.astype(np.float32)
        weights = idf[posting_terms].astype(np.float32) * tf * (k1 + 1) / (tf + norm[posting_docs])
        self._terms = list(vocabulary)
        self._vocabulary = vocabulary
        self._offsets = offsets
        self._docs = posting_docs.astype(np.int32)
        self._weights = weights.astype(np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def document_rows(self, doc_ids: Iterable[str], owners: Callable[[], dict[str, str]]) -> np.ndarray:
        """The positions of these documents' chunks in the index, for :meth:`search`'s ``rows``.

        ``owners`` (chunk id -> document id, the catalog's) is called once per index: the chunks'
        documents are kept with it, so that each scoped search costs one vectorised lookup.
        """
        labels: tuple[dict[str, int], np.ndarray] | None = getattr(self, "_row_documents", None)
        if labels is None:
            owner = owners()
            codes: dict[str, int] = {}
            rows = np.fromiter(
                (codes.setdefault(owner[c], len(codes)) if c in owner else -1 for c in self.ids),
                dtype=np.int64,
                count=len(self.ids),
            )
            labels = self._row_documents = (codes, rows)
        codes, rows = labels
        wanted = np.fromiter((codes[d] for d in dict.fromkeys(doc_ids) if d in codes), dtype=np.int64)
        return np.flatnonzero(np.isin(rows, wanted))

    def search(self, terms: Sequence[str], k: int, rows: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The ``k`` best chunk ids with their BM25 scores (only chunks matching a term).

        ``rows`` (from :meth:`document_rows`) restricts the candidates to those chunks, before the ``k`` best
        are taken: a scoped search still gets ``k`` of them when that many match.
        """
        if not self.ids or k <= 0:
            return []
        scores = np.zeros(len(self.ids), dtype=np.float32)
        for term in dict.fromkeys(terms):
            position = self._vocabulary.get(term)
            if position is None:
                continue
            start, end = self._offsets[position], self._offsets[position + 1]
            scores[self._docs[start:end]] += self._weights[start:end]  # a term's documents are distinct
        matched = np.flatnonzero(scores > 0)
        if rows is not None:
            allowed = np.zeros(len(self.ids), dtype=bool)
            allowed[rows] = True
            matched = matched[allowed[matched]]
        if matched.size == 0:
            return []
        if matched.size > k:  # only the k best (and chunks tied with the k-th) need sorting
            kth = np.partition(scores[matched], matched.size - k)[matched.size - k]
            matched = matched[scores[matched] >= kth]
        top = matched[np.lexsort((matched, -scores[matched]))][:k]  # by score, ties by position
        return [(self.ids[i], float(scores[i])) for i in top]

    def term_shares(self, groups: Sequence[Sequence[str]], ids: Iterable[str]) -> dict[str, float]:
        """For each chunk id of ``ids`` (those in the index), the share of the question's weight that
        its terms hold.

        Each of the question's words (``groups``, its stems: :func:`query_term_groups`) is held by
        the chunks holding any of its stems and weighs BM25's inverse document frequency of that set
        of chunks; words that share a stem ("video", "videos") count once. The share is 1 for a
        chunk holding every word, 0 for one holding none, and 0 for all when no word is in the index.

        What a BM25 match is worth as evidence: a chunk that matches only "Sora" in a corpus about
        Sora holds little of the question's weight, however often it repeats it."""
        n = len(self.ids)
        row_of: dict[str, int] | None = getattr(self, "_row_of", None)
        if row_of is None:
            row_of = self._row_of = {cid: row for row, cid in enumerate(self.ids)}
        wanted = {cid: row_of[cid] for cid in ids if cid in row_of}
        rows = np.fromiter(wanted.values(), dtype=np.int64, count=len(wanted))
        held = np.zeros(len(rows), dtype=np.float64)
        total = 0.0
        seen: set[str] = set()
        for group in groups:
            if seen.intersection(group):
                continue
            seen.update(group)
            positions = [self._vocabulary[stem] for stem in dict.fromkeys(group) if stem in self._vocabulary]
            if not positions:
                continue
            postings = [self._docs[self._offsets[p] : self._offsets[p + 1]] for p in positions]
            holders = np.unique(np.concatenate(postings))
            df = float(len(holders))
            idf = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
            total += idf
            held += idf * np.isin(rows, holders)
        shares = held / total if total > 0 else held
        return {cid: float(share) for cid, share in zip(wanted, shares, strict=True)}

    def save(self, path: Path) -> None:
        """Write the index to ``path`` (a ``.npz`` file), atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as handle:
                np.savez(
                    handle,
                    ids=np.asarray(self.ids, dtype=np.str_),
                    terms=np.asarray(self._terms, dtype=np.str_),
                    offsets=self._offsets,
                    docs=self._docs,
                    weights=self._weights,
                    params=np.asarray([self.k1, self.b], dtype=np.float64),
                    stamp=np.asarray(self.stamp, dtype=np.str_),
                )
            partial.replace(path)
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk must not keep a half-written copy
            raise

    @classmethod
    def load(cls, path: Path) -> BM25Index:
        """An index written by :meth:`save` (raises ``OSError`` or ``ValueError`` if it cannot be read)."""
        with np.load(path, allow_pickle=False) as data:
            index = cls.__new__(cls)
            index.ids = data["ids"].tolist()
            index._terms = data["terms"].tolist()
            index._vocabulary = {term: i for i, term in enumerate(index._terms)}
            index._offsets = data["offsets"]
            index._docs = data["docs"]
            index._weights = data["weights"]
            index.k1, index.b = (float(x) for x in data["params"])
            index.stamp = str(data["stamp"]) if "stamp" in data.files else ""
        if len(index._offsets) != len(index._terms) + 1 or len(index._docs) != len(index._weights):
            raise ValueError(f"the BM25 index {path} is inconsistent")
        return index
