"""Hybrid retrieval: dense similarity from Chroma plus BM25, fused by reciprocal rank fusion."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Literal

from assistant.config import RetrievalSettings
from assistant.index.bm25 import query_term_groups
from assistant.index.core import Index
from assistant.index.embedding import CachedEmbedder
from assistant.index.scope import ScopeResolver
from assistant.models import Chunk, Hit, Scope, SearchResult
from assistant.text.language import detect_language

Mode = Literal["hybrid", "dense", "bm25"]

BOILERPLATE_WEIGHT = 0.5
"""Fused scores of chunks tagged as boilerplate (teasers, share buttons) are multiplied by this."""


TERM_SHARE_POWER = 2
"""In the fusion, a passage's BM25 rank counts ``share ** TERM_SHARE_POWER`` times, ``share`` being
the part of the question's weight its terms hold (:meth:`~assistant.index.bm25.BM25Index.term_shares`):
a passage that matches only the name the whole corpus repeats ("Sora") ranks high in BM25 and
weighs little. Chosen among the powers 0 (plain fusion), 1, 2, 3 and 4 replayed over the retrieved
candidates of the tune half and the users' set (2026-12-04); whole `assistant eval` runs, plain
fusion → power 2: users' set passage hit@5 0.817 → 0.867 (Italian questions 15 → 17 of 18, French
9 → 10 of 15), facts stated 0.600 → 0.633; tune half facts stated in Italian 0.821 → 0.836, false
refusals 8 → 7 of 121, Italian passage hit@5 0.970 → 0.955 (a question answered wrongly with
either); Sora set MRR@10 0.850 → 0.894, facts stated 0.726 either way (one answer gained, one lost)."""


class Retriever:
    """Finds the passages that answer a question, in any of the corpus's languages."""

    def __init__(
        self, index: Index, embedder: CachedEmbedder, settings: RetrievalSettings, scopes: ScopeResolver | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.scopes = scopes or ScopeResolver()

    def search(
        self, query: str, k: int | None = None, mode: Mode | None = None, scope: Scope | None = None
    ) -> SearchResult:
        """The ``k`` best passages for ``query`` with fused and per-retriever scores.

        A ``scope`` is applied inside both retrievers (Chroma's filter, the BM25 candidates), so the
        ``k`` passages all come from it; one that names no indexed document raises
        :class:`~assistant.errors.EmptyScopeError`.
        """
        started = time.perf_counter()
        k = k or self.settings.top_k
        mode = mode or self.settings.mode
        pool = max(self.settings.candidates, k)
        allowed = self.scope_documents(scope)
        dense: list[tuple[str, float]] = []
        embedding_ms = 0.0
        if mode in ("hybrid", "dense"):
            t0 = time.perf_counter()
            vector = self.embedder.embed_query(query)
            embedding_ms = (time.perf_counter() - t0) * 1000
            dense = [(m.chunk_id, m.similarity) for m in self.index.vectors.query(vector, pool, allowed)]
        sparse: list[tuple[str, float]] = []
        shares: dict[str, float] = {}
        if mode in ("hybrid", "bm25"):
            bm25 = self.index.bm25()
            rows = None if allowed is None else bm25.document_rows(allowed, self.index.catalog.chunk_owners)
            groups = query_term_groups(query)
            sparse = bm25.search([stem for group in groups for stem in group], pool, rows)
            if mode == "hybrid":  # only the fusion weighs BM25's ranks by them
                shares = bm25.term_shares(groups, [cid for cid, _ in sparse])
        language = detect_language(query)
        hits = self._fuse(dense, sparse, mode, k, language, shares)
        return SearchResult(
            query=query,
            query_language=language,
            mode=mode,
            hits=hits,
            embedding_ms=embedding_ms,
            retrieval_ms=(time.perf_counter() - started) * 1000,
        )

    def scope_documents(self, scope: Scope | None) -> list[str] | None:
        """The ids of the documents in ``scope`` (None: no restriction, the scope lets every document through).

        Raises :class:`~assistant.errors.EmptyScopeError` when it names no indexed document.
        """
        return self.scopes.resolve(scope, self.index.catalog)

    def _fuse(
        self,
        dense: list[tuple[str, float]],
        sparse: list[tuple[str, float]],
        mode: Mode,
        k: int,
        language: str,
        shares: dict[str, float],
    ) -> list[Hit]:
        chunks = self.index.catalog.chunks([cid for cid, _ in dense] + [cid for cid, _ in sparse])
        dense_rank = {cid: (rank, score) for rank, (cid, score) in enumerate(dense, start=1) if cid in chunks}
        sparse_rank = {cid: (rank, score) for rank, (cid, score) in enumerate(sparse, start=1) if cid in chunks}
        weight = bm25_weight(language, [c.language for c in chunks.values()], self.settings.foreign_bm25_weight)
        scored: dict[str, float] = {}
        for cid in dict.fromkeys([*dense_rank, *sparse_rank]):
            share = shares.get(cid, 1.0) ** TERM_SHARE_POWER
            scored[cid] = self._score(cid, dense_rank, sparse_rank, mode, weight * share) * (
                BOILERPLATE_WEIGHT if chunks[cid].boilerplate else 1.0
            )
        order = sorted(scored, key=lambda cid: -scored[cid])[:k]
        return [
            _hit(rank, chunks[cid], scored[cid], dense_rank.get(cid), sparse_rank.get(cid))
            for rank, cid in enumerate(order, start=1)
        ]

    def _score(
        self,
        cid: str,
        dense: dict[str, tuple[int, float]],
        sparse: dict[str, tuple[int, float]],
        mode: Mode,
        bm25_weight: float = 1.0,
    ) -> float:
        if mode == "dense":
            return dense[cid][1]
        if mode == "bm25":
            return sparse[cid][1]
        rrf = self.settings.rrf_k
        fused = 1.0 / (rrf + dense[cid][0]) if cid in dense else 0.0
        return fused + (bm25_weight / (rrf + sparse[cid][0]) if cid in sparse else 0.0)


def bm25_weight(query_language: str, passage_languages: Iterable[str], foreign: float) -> float:
    """The weight of BM25's ranks in the fusion: 1, or ``foreign`` when no candidate passage is in the
    question's language.

    BM25 matches the question's stems; over text in another language it matches only the names and
    numbers the question shares with it, which the dense side already sees, and ranks passages by
    how often they repeat a name. On the tune half of qa-dev (English questions on Italian text)
    dense ranks alone put a passage stating the answer in the top 5 for 0.94 of the questions, the
    fusion for 0.81. When some candidates are in the question's language (a mixed corpus, as the
    Sora set), the fusion is kept: there BM25 is what keeps passages in other languages that share
    the question's names from being outranked by same-language ones.
    """
    return 1.0 if query_language in set(passage_languages) else foreign


def _hit(
    rank: int, chunk: Chunk, score: float, dense: tuple[int, float] | None, sparse: tuple[int, float] | None
) -> Hit:
    return Hit(
        rank=rank,
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        title=chunk.title,
        text=chunk.text,
        start=chunk.start,
        end=chunk.end,
        language=chunk.language,
        score=score,
        dense_score=dense[1] if dense else None,
        dense_rank=dense[0] if dense else None,
        bm25_score=sparse[1] if sparse else None,
        bm25_rank=sparse[0] if sparse else None,
        boilerplate=chunk.boilerplate,
    )
