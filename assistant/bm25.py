"""BM25 with per-language Snowball stemming (Italian, French, English).

Chunks are stemmed with their own language's stemmer at ingestion and the tokens are persisted in
the catalog; a question is stemmed with every supported stemmer, since it may be asked in another
language than the passage's. The inverted index lives in memory and is rebuilt only when the
catalog changes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from assistant.sentences import words

_STEMMERS = {"it": "italian", "fr": "french", "en": "english"}

_STOPWORDS = {
    "en": "a an and are as at be by did do does for from had has have he her his how i in is it its "
    "of on or she so that the their them they this to was were what when where which who whom why "
    "will with you about after before into than then there these those been being can could would "
    "should may might say said says also not no",
    "it": "a ad al alla alle agli ai anche che chi ci come con cosa cui da dal dalla dei del della "
    "delle degli di dove e ed gli ha hanno i il in la le lo ma ne nei nel nella nelle non o per "
    "perché più quale quali quando quanto questa questo se si sono su sua suo sul sulla tra un una "
    "uno è stato stata essere ha hanno detto dice",
    "fr": "a au aux avec ce ces cette comment dans de des du elle en est et il ils la le les leur "
    "lui mais ne ni on ou où par pas pour pourquoi qu que quel quelle quels qui quoi sa se ses son "
    "sont sur un une été être d l s n c j m t y ont fait dit",
}


@lru_cache(maxsize=8)
def _stemmer(language: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(_STEMMERS[language])


@lru_cache(maxsize=4)
def _stopwords(language: str) -> frozenset[str]:
    return frozenset(words(_STOPWORDS.get(language, "")))


def tokenize(text: str, language: str) -> list[str]:
    """Folded, stop-word-free, stemmed tokens of a passage in ``language``."""
    lang = language if language in _STEMMERS else "en"
    kept = [w for w in words(text) if (w not in _stopwords(lang) and len(w) > 1) or w.isdigit()]
    return list(_stemmer(lang).stemWords(kept))


def query_terms(text: str) -> list[str]:
    """Stems of a question under every supported language (the union, deduplicated)."""
    stop = set().union(*(_stopwords(lang) for lang in _STEMMERS))
    kept = [w for w in words(text) if (w not in stop and len(w) > 1) or w.isdigit()]
    terms: dict[str, None] = {}
    for lang in _STEMMERS:
        for stem in _stemmer(lang).stemWords(kept):
            terms[stem] = None
    return list(terms)


class BM25Index:
    """An in-memory inverted index with Okapi BM25 scoring."""

    def __init__(self, ids: Sequence[str], documents: Iterable[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        self.ids = list(ids)
        self.k1 = k1
        self.b = b
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for position, tokens in enumerate(documents):
            lengths.append(len(tokens))
            for term, tf in Counter(tokens).items():
                postings.setdefault(term, []).append((position, tf))
        self._lengths = np.asarray(lengths, dtype=np.float32)
        self._avgdl = float(self._lengths.mean()) if lengths else 1.0
        n = len(self.ids)
        self._postings: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        for term, plist in postings.items():
            docs = np.fromiter((p for p, _ in plist), dtype=np.int64, count=len(plist))
            tfs = np.fromiter((t for _, t in plist), dtype=np.float32, count=len(plist))
            idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
            self._postings[term] = (docs, tfs, idf)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, terms: Sequence[str], k: int) -> list[tuple[str, float]]:
        """The ``k`` best chunk ids with their BM25 scores (only chunks matching a term)."""
        if not self.ids or k <= 0:
            return []
        scores = np.zeros(len(self.ids), dtype=np.float32)
        norm = self.k1 * (1 - self.b + self.b * self._lengths / max(self._avgdl, 1e-6))
        for term in dict.fromkeys(terms):
            entry = self._postings.get(term)
            if entry is None:
                continue
            docs, tfs, idf = entry
            scores[docs] += idf * tfs * (self.k1 + 1) / (tfs + norm[docs])
        matched = np.flatnonzero(scores > 0)
        if matched.size == 0:
            return []
        top = matched[np.argsort(-scores[matched], kind="stable")[:k]]
        return [(self.ids[i], float(scores[i])) for i in top]
