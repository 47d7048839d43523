"""The benchmark's heavy phases, each run in a process of its own so that its peak memory is its own.

``python -m assistant.bench.workers KIND ARGS OUT`` runs one phase: it reads its arguments from the
JSON file ARGS and writes its figures (and peak memory) as JSON to OUT. :func:`spawn` does that from
the driver. The phases use the assistant through :class:`~assistant.services.Services`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.bench.baseline import index_with_llama_index
from assistant.bench.corpora import corpus_info, leading_chunks
from assistant.bench.results import BenchError
from assistant.bench.vectors import ScaledEmbedder
from assistant.config import Settings

if TYPE_CHECKING:
    from assistant.index.embedding import CachedEmbedder
    from assistant.services import Services


def peak_rss_mb() -> float:
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


def token_count(embedder: Any, texts: Sequence[str]) -> int:
    """Tokens the model reads for ``texts`` (about 4 characters a token for engines that cannot count)."""
    count = getattr(embedder, "token_count", None)
    if count is None:
        return sum(len(t) // 4 + 1 for t in texts)
    return sum(int(count(t)) for t in texts)


def services_with(settings: Settings, embedder: CachedEmbedder | None = None) -> Services:
    """The assistant's services over ``settings``; with ``embedder`` in place of the configured model if given."""
    from assistant.services import build_services

    return build_services(settings, embedder=embedder)


def _settings_from(args: dict[str, Any], key: str = "settings") -> Settings:
    return Settings.model_validate_json(args[key])


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


def _worker_raw(args: dict[str, Any]) -> dict[str, Any]:
    settings = _settings_from(args)
    texts: list[str] = args["texts"]
    inner = services_with(settings).embedder.inner  # the engine alone: no cache, no index
    inner.embed_query("load the model")
    batch = settings.embedding.batch_size
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        inner.embed_passages(texts[start : start + batch])
    seconds = time.perf_counter() - started
    return {"chunks": len(texts), "tokens": token_count(inner, texts), "seconds": seconds}


def _worker_ingest_cold(args: dict[str, Any]) -> dict[str, Any]:
    settings = _fresh_index(_settings_from(args))
    _drop_cache(settings)
    corpus = Path(args["corpus"])
    services = services_with(settings)
    services.embedder.embed_query("load the model")
    services.counts()  # opens the index before the clock starts: the constant cost is reported by the query phase
    started = time.perf_counter()
    report = services.ingest([corpus])
    seconds = time.perf_counter() - started
    _, chunks = leading_chunks(corpus, corpus_info(corpus).chunks, settings)  # the reader and chunker of ingest
    texts = list(dict.fromkeys(chunks))  # the cache embeds a text once, however many chunks repeat it
    return {
        "chunks": len(texts),
        "written": report.chunks_written,
        "embedded": report.chunks_embedded,
        "tokens": token_count(services.embedder.inner, texts),
        "seconds": seconds,
    }


def _scaled_services(args: dict[str, Any]) -> tuple[Services, ScaledEmbedder]:
    """Services over a new index of a corpus size, whose passages get real or synthetic vectors."""
    from assistant.index.embedding import CachedEmbedder

    settings = _fresh_index(_settings_from(args))
    real = services_with(_settings_from(args, "real_settings")).embedder
    _, real_texts = leading_chunks(Path(args["corpus"]), args["real_chunks"], settings)
    scaled = ScaledEmbedder(real, real_texts[: args["real_chunks"]], args["noise"])
    cache = _drop_cache(settings)  # every ingest pays for making and caching its vectors alike
    return services_with(settings, CachedEmbedder(scaled, cache)), scaled


def _worker_ingest_scaled(args: dict[str, Any]) -> dict[str, Any]:
    services, scaled = _scaled_services(args)
    services.counts()  # opens the index before the clock starts
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
    started = time.perf_counter()
    services = services_with(_settings_from(args))  # an unchanged corpus: nothing may need embedding
    report = services.ingest([Path(args["corpus"])])
    return {
        "seconds": report.seconds,
        "process_seconds": time.perf_counter() - started,
        "embedded": report.chunks_embedded,
        "written": report.chunks_written,
    }


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _worker_query(args: dict[str, Any]) -> dict[str, Any]:
    services = services_with(_settings_from(args))
    queries: list[str] = args["queries"]
    top_k = services.settings.retrieval.top_k
    t0 = time.perf_counter()
    services.counts()  # opens the index
    open_ms = _elapsed_ms(t0)
    services.embedder.embed_query("load the model")
    embedding: list[float] = []
    for query in queries:  # the first call embeds; later searches find the vector in the query cache
        t0 = time.perf_counter()
        services.embedder.embed_query(query)
        embedding.append(_elapsed_ms(t0))
    t0 = time.perf_counter()
    services.search(queries[0], k=top_k, mode="bm25")  # loads (or builds) the BM25 index
    bm25_ms = _elapsed_ms(t0)
    t0 = time.perf_counter()
    services.search(queries[0], k=top_k, mode="hybrid")
    first_ms = _elapsed_ms(t0)
    timings: dict[str, list[float]] = {"dense": [], "bm25": [], "hybrid": [], "hybrid_with_embedding": []}
    for _ in range(args["rounds"]):
        for query, embed_ms in zip(queries, embedding, strict=True):
            for mode in ("dense", "bm25", "hybrid"):  # interleaved, so that load on the machine hits all alike
                t0 = time.perf_counter()
                services.search(query, k=top_k, mode=mode)
                timings[mode].append(_elapsed_ms(t0))
            timings["hybrid_with_embedding"].append(timings["hybrid"][-1] + embed_ms)
    return {
        "index_open_ms": open_ms,
        "bm25_build_ms": bm25_ms,
        "first_search_ms": first_ms,
        "query_embedding": embedding,
        **timings,
    }


def _worker_ask(args: dict[str, Any]) -> dict[str, Any]:
    services = services_with(_settings_from(args))
    runs = []
    for state, question in zip(("cold", "warm"), args["questions"], strict=False):
        started = time.perf_counter()
        first: float | None = None
        answer = None
        for event in services.stream(question, mode=args["mode"], backend="embedded"):
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
    settings = _settings_from(args)
    inner = services_with(settings).embedder.inner  # the same engine as the assistant's, without its cache
    inner.embed_query("load the model")
    texts, seconds = index_with_llama_index(Path(args["corpus"]), inner, settings)
    return {"chunks": len(texts), "tokens": token_count(inner, texts), "seconds": seconds}


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "raw": _worker_raw,
    "ingest-cold": _worker_ingest_cold,
    "ingest-scaled": _worker_ingest_scaled,
    "reingest": _worker_reingest,
    "query": _worker_query,
    "ask": _worker_ask,
    "llama-index": _worker_llama_index,
}
"""The phases by name."""


def run_worker(kind: str, args_path: Path, out_path: Path) -> None:
    """Run one phase in this process and write its figures (and peak memory) as JSON."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    args = json.loads(args_path.read_text(encoding="utf-8"))
    work = WORKERS[kind]
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
    result["peak_rss_mb"] = peak_rss_mb()
    out_path.write_text(json.dumps(result), encoding="utf-8")


def spawn(kind: str, args: dict[str, Any], scratch: Path, tag: str = "") -> dict[str, Any]:
    """Run a phase in a new Python process and return its figures; raises :class:`BenchError` if it fails."""
    scratch.mkdir(parents=True, exist_ok=True)
    name = f"{kind}-{tag}" if tag else kind
    args_path, out_path = scratch / f"{name}.args.json", scratch / f"{name}.out.json"
    args_path.write_text(json.dumps(args), encoding="utf-8")
    out_path.unlink(missing_ok=True)
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    command = [sys.executable, "-m", "assistant.bench.workers", kind, str(args_path), str(out_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out_path.is_file():
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise BenchError(f"the {kind} phase failed (exit {done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
    return result


if __name__ == "__main__":
    run_worker(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
