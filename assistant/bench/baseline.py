"""The baseline the assistant's ingest is compared with: a plain llama-index ``VectorStoreIndex``.

It embeds with the same engine as the assistant, through a llama-index ``BaseEmbedding`` adapter,
and splits with llama-index's own ``SentenceSplitter`` at about the same chunk size.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import Settings

if TYPE_CHECKING:
    from assistant.index.embedding import Embedder


def llama_index_embedding(embedder: Embedder, batch_size: int) -> Any:
    """A llama-index ``BaseEmbedding`` around one of :mod:`assistant.index.embedding`'s embedders.

    Its ``texts`` list records every passage it embedded, to count their tokens afterwards.
    """
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class AssistantEmbedding(BaseEmbedding):  # type: ignore[misc]
        _embedder: Any = PrivateAttr()
        _texts: list[str] = PrivateAttr(default_factory=list)

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=inner.name, embed_batch_size=batch_size)
            self._embedder = inner

        @property
        def texts(self) -> list[str]:
            return self._texts

        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in self._embedder.embed_query(query)]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            self._texts.extend(texts)
            return [[float(x) for x in row] for row in self._embedder.embed_passages(texts)]

    return AssistantEmbedding(embedder)



def index_with_llama_index(corpus: Path, embedder: Embedder, settings: Settings) -> tuple[list[str], float]:
    """Index the ``.txt`` files of ``corpus`` in a new in-memory ``VectorStoreIndex``.

    Returns the passages it embedded and the seconds it took (reading, splitting, embedding, storing).
    """
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    embed_model = llama_index_embedding(embedder, settings.embedding.batch_size)
    # The same chunk size in tiktoken tokens (about 4 characters each) as the assistant's in characters.
    splitter = SentenceSplitter(
        chunk_size=settings.chunking.chunk_size // 4, chunk_overlap=settings.chunking.chunk_overlap // 4
    )
    started = time.perf_counter()
    reader = SimpleDirectoryReader(str(corpus), required_exts=[".txt"], exclude_hidden=False)  # under .data/
    documents = reader.load_data()
    VectorStoreIndex.from_documents(documents, embed_model=embed_model, transformations=[splitter])
    return list(embed_model.texts), time.perf_counter() - started
