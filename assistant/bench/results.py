"""What a benchmark run measures: the figures of every phase, as pydantic models (the JSON report's shape)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from assistant import reports


class BenchError(RuntimeError):
    """A benchmark phase failed."""


class Latency(BaseModel):
    """Percentiles of a list of timings, in milliseconds."""

    p50_ms: float
    p95_ms: float
    mean_ms: float
    n: int

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> Latency:
        """p50, p95 and mean of timings in milliseconds (zeros for none)."""
        figures = reports.latency(values_ms)
        return cls(p50_ms=figures.p50, p95_ms=figures.p95, mean_ms=figures.mean, n=figures.n)


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


class StartupRun(BaseModel):
    """Whole-process wall time of one command line: a new process per run, after one unmeasured warm-up run."""

    name: str = Field(
        description="`help`, `search`, `ask`, `doctor`, or `search_chroma`/`ask_chroma` (without the vectors' copy)."
    )
    command: str = Field(description="The command line as run (the launcher, then the arguments).")
    run_seconds: list[float] = Field(description="Each measured run, in order.")
    median_s: float
    exit_code: int = Field(description="Exit code of the last run.")


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
    bm25_build_ms: float = Field(description="The first BM25 search: loading (or building) the BM25 index.")
    first_search_ms: float = Field(description="First hybrid search after the BM25 load (loads the vector index).")
    query_embedding: Latency
    dense: Latency
    bm25: Latency
    hybrid: Latency
    hybrid_with_embedding: Latency = Field(description="Hybrid search plus embedding the question.")
    query_peak_rss_mb: float
    ask: list[AskRun] = Field(default_factory=list)
    startup: list[StartupRun] = Field(default_factory=list, description="Whole-process start-up timings.")


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
    startup_launcher: str | None = Field(None, description="How the start-up timings ran the assistant.")
    notes: list[str] = Field(default_factory=list)


class TargetCheck(BaseModel):
    """One of the issue's targets against this run's figure."""

    target: str
    figure: float | None = Field(description="None: not measured in this run (size not benchmarked).")
    met: bool | None
