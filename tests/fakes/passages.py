"""Corpus passages as retrieved hits, and a small, meaningful stand-in for multilingual-e5.

Used by the citation tests; the fixtures built on them are in :mod:`fakes.passage_fixtures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.answer.citations import VerifiedAnswer
from assistant.models import Hit
from assistant.text.sentences import words

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
IT_DOC = "000_9054f5f7106c5075.txt"  # Italian: Sora's launch, the studios, the unions, Lightcap
IT_DOC_2 = "001_bfcfb1f07bcdb431.txt"  # Italian: OpenAI meets Hollywood
FR_DOC = "004_5eaa805196ca9fd9.txt"  # French: why Sora's release was delayed

LIGHTCAP = "Brad Lightcap, COO di OpenAI, ha dichiarato che “abbiamo lanciato ‘Sora’ troppo presto”"
LIGHTCAP_SENTENCE = (
    LIGHTCAP + ", riconoscendo che il modello non era pronto per affrontare le sfide del mercato e le "
    "esigenze specifiche dell’industria cinematografica."
)
DATE_CLAIM = "Dopo la presentazione di “Sora” il 15 febbraio 2024, OpenAI ha avviato trattative con Disney"


# --- a small, meaningful stand-in for multilingual-e5 ---------------------------------------------

# Italian and French words mapped to the English concept they express, so that a translation and
# its original share a bag of concepts.
# fmt: off
LEXICON = {
    "lanciato": "launch", "launched": "launch", "lancio": "launch",
    "troppo": "too", "presto": "early", "dichiarato": "say", "said": "say",
    "sindacati": "union", "unions": "union", "cinematografici": "film", "cinematografica": "film",
    "preoccupazioni": "fear", "temendo": "fear", "feared": "fear", "minare": "undermine",
    "diritti": "copyright", "autore": "copyright", "ia": "ai", "valore": "value", "umano": "human",
    "lavoro": "work",
    "prudent": "cautious", "risques": "risk", "risks": "risk", "securite": "security",
    "elections": "election", "americaines": "us", "medias": "media",
}
# fmt: on
STOP = set(
    words(
        "a an the is was were are of to in on and that he she it by with for about because very would "
        "di il la le lo che e ha ho abbiamo non era per del della dei dell l un una nel "
        "de du des les est et en qu quant aux au cette ce a"
    )
)


def concepts(text: str) -> set[str]:
    """The English concepts of a text's content words."""
    return {LEXICON.get(w, w) for w in words(text) if w not in STOP}


def fake_similarity(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """Cosine of concept bags, squeezed into e5's range: unrelated ~0.72, same meaning -> 1.0."""
    out = np.zeros((len(a), len(b)))
    for i, left in enumerate(a):
        for j, right in enumerate(b):
            x, y = concepts(left), concepts(right)
            cos = len(x & y) / np.sqrt(len(x) * len(y)) if x and y else 0.0
            out[i, j] = 0.72 + 0.28 * cos
    return out


# --- fixtures ------------------------------------------------------------------------------------


def document(doc_id: str) -> str:
    return (CORPUS / doc_id).read_text(encoding="utf-8")


def paragraph_hit(doc_id: str, needle: str, rank: int = 1, language: str = "it") -> Hit:
    """The paragraph of a corpus document that contains ``needle``, as a retrieved passage."""
    text = document(doc_id)
    at = text.index(needle)
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    end = len(text) if end == -1 else end
    return slice_hit(doc_id, start, end, rank=rank, language=language)


def slice_hit(doc_id: str, start: int, end: int, rank: int = 1, language: str = "it") -> Hit:
    text = document(doc_id)
    return Hit(
        rank=rank,
        chunk_id=f"{doc_id}:{start}",
        doc_id=doc_id,
        title=text.splitlines()[0][:40],
        text=text[start:end],
        start=start,
        end=end,
        language=language,
        date="2024-03",
        score=1.0,
    )


def assert_quotes_verbatim(result: VerifiedAnswer) -> None:
    for source in result.sources:
        doc = document(source.doc_id)
        assert doc[source.start : source.end] == source.quote
        assert doc[source.passage_start : source.passage_start + len(source.passage)] == source.passage
        assert source.quote in source.passage
