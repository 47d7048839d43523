"""Vectors for scaled corpora: real ones for the chunks embedded for real, deterministic perturbations for the rest.

Embedding is the slow part (about two chunks a second on two cores), so only the first chunks of a
corpus are embedded by the model (and cached by content hash); the others get a real vector plus
noise, chosen by the text's hash, so that an index of 100k chunks can be built in minutes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from assistant.bench.results import BenchError

if TYPE_CHECKING:
    from assistant.index.embedding import CachedEmbedder

SYNTHETIC_NOISE = 0.5
"""Norm of the noise added to a real vector to make a synthetic one (cosine to its base about 0.9)."""


def synthetic_vector(text: str, pool: np.ndarray, noise: float = SYNTHETIC_NOISE) -> np.ndarray:
    """A unit vector near one of the real vectors in ``pool``, both chosen by the text's hash."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    dim = pool.shape[1]
    vector = pool[seed % len(pool)] + rng.standard_normal(dim, dtype=np.float32) * (noise / math.sqrt(dim))
    return np.asarray(vector / np.linalg.norm(vector), dtype=np.float32)


class ScaledEmbedder:
    """Real vectors for the texts embedded for real; synthetic ones (see :func:`synthetic_vector`) for the rest."""

    def __init__(self, real: CachedEmbedder, real_texts: Sequence[str], noise: float = SYNTHETIC_NOISE) -> None:
        if not real_texts:
            raise BenchError("synthetic vectors need at least one real chunk")
        self.real = real
        self.name = real.name
        self.noise = noise
        self._real_texts = set(real_texts)
        self._pool = real.embed_passages(list(dict.fromkeys(real_texts)))
        self.synthetic_count = 0

    @property
    def dim(self) -> int:
        """Dimension of the real embedder."""
        return self.real.dim

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Real vectors (from the cache, or the model) for real texts, synthetic ones for the others."""
        out = np.empty((len(texts), self._pool.shape[1]), dtype=np.float32)
        real = [i for i, text in enumerate(texts) if text in self._real_texts]
        if real:
            out[real] = self.real.embed_passages([texts[i] for i in real])
        for i in sorted(set(range(len(texts))) - set(real)):
            out[i] = synthetic_vector(texts[i], self._pool, self.noise)
            self.synthetic_count += 1
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Questions are always embedded by the real model."""
        return self.real.embed_query(text)
