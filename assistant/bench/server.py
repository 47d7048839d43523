"""`assistant bench --server-catalog URL`: the server mode's two catalogs side by side, in one run.

The same generated corpus is ingested twice on the configured Chroma server (each in a collection
of its own): once with the SQLite catalog in a data directory, once with the PostgreSQL catalog at
``URL``. The passages' embeddings are computed once before (a shared cache), so the ingest figures
measure what differs: the writes to Chroma and to the catalog. Then the same questions are searched
(hybrid, query embedding included) against both: one untimed pass each (loads, caches), then timed
rounds, interleaved so a change of load on the machine weighs on both alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from assistant import reports
from assistant.bench.corpora import bench_queries, build_corpora
from assistant.bench.results import BenchError
from assistant.config import Settings
from assistant.services import Services, build_services


class CatalogFigures(BaseModel):
    """One catalog's figures."""

    catalog: str
    chunks: int
    ingest_s: float = Field(description="Wall time of the ingest (embeddings cached).")
    chunks_per_s: float
    search_p50_ms: float
    search_p95_ms: float
    searches: int


class ServerBench(BaseModel):
    """The server-mode comparison."""

    chroma: str
    postgres: str
    corpus_chunks: int
    rounds: int
    catalogs: list[CatalogFigures]


def variant(settings: Settings, data_dir: Path, url: str | None, collection: str, cache: Path) -> Settings:
    """``settings`` with their own data directory, catalog, Chroma collection, and the shared embedding cache."""
    return settings.model_copy(
        update={
            "data_dir": data_dir,
            "chroma": settings.chroma.model_copy(update={"collection": collection}),
            "catalog": settings.catalog.model_copy(update={"url": url}),
            "embedding": settings.embedding.model_copy(update={"cache_dir": cache}),
        }
    )


def run_server_bench(
    settings: Settings,
    catalog_url: str,
    corpus_dir: Path,
    work_dir: Path,
    chunks: int,
    rounds: int,
    seed: int,
    log: Callable[[str], None],
) -> ServerBench:
    """Ingest the same corpus with both catalogs on the Chroma server, then time the same searches on both."""
    from assistant.index.pg_catalog import address

    if settings.chroma.mode != "http":
        raise BenchError("the server mode needs a Chroma server: set ASSISTANT_CHROMA__MODE=http (and its host/port)")
    folder = build_corpora([chunks], work_dir / "corpora", settings, corpus_dir, seed, log)[chunks]
    root, cache = work_dir / "server", work_dir / "server" / "cache"
    warm = build_services(variant(settings, root / "warm", None, "bench-server-warm", cache))
    log("embedding the corpus once (shared cache)")
    warm.ingest([folder], rebuild=True)
    services: dict[str, Services] = {}
    ingest_s: dict[str, float] = {}
    for name, url in (("SQLite", None), ("PostgreSQL", catalog_url)):
        own = variant(settings, root / name.lower(), url, f"bench-server-{name.lower()}", cache)
        services[name] = build_services(own, embedder=warm.embedder)
        log(f"ingesting {folder.name} with the {name} catalog")
        started = time.perf_counter()
        report = services[name].ingest([folder], rebuild=True)
        ingest_s[name] = time.perf_counter() - started
        if report.failed:
            raise BenchError(f"the {name} ingest failed for {len(report.failed)} file(s)")
    queries = bench_queries(corpus_dir / "questions.jsonl")
    times: dict[str, list[float]] = {name: [] for name in services}
    for service in services.values():  # untimed: loads BM25 and the collection, caches the questions' embeddings
        for query in queries:
            service.search(query, mode="hybrid")
    for number in range(rounds):
        log(f"search round {number + 1} of {rounds}")
        for name, service in services.items():
            for query in queries:
                started = time.perf_counter()
                service.search(query, mode="hybrid")
                times[name].append((time.perf_counter() - started) * 1000)
    figures = []
    for name, service in services.items():
        count = service.counts()[1]
        figures.append(
            CatalogFigures(
                catalog=name,
                chunks=count,
                ingest_s=round(ingest_s[name], 2),
                chunks_per_s=round(count / ingest_s[name], 1),
                search_p50_ms=round(reports.percentile(times[name], 50) or 0.0, 2),
                search_p95_ms=round(reports.percentile(times[name], 95) or 0.0, 2),
                searches=len(times[name]),
            )
        )
    chroma = f"{settings.chroma.host}:{settings.chroma.port}"
    return ServerBench(
        chroma=chroma, postgres=address(catalog_url), corpus_chunks=chunks, rounds=rounds, catalogs=figures
    )


def render_server_markdown(result: ServerBench) -> str:
    """The comparison as a Markdown table."""
    lines = [
        f"Server mode: Chroma server {result.chroma}, PostgreSQL {result.postgres}; corpus of {result.corpus_chunks} "
        f"chunks (target), {result.rounds} rounds of hybrid searches (query embedding included).",
        "",
        "| catalog | chunks | ingest (s) | ingest (chunks/s) | search p50 (ms) | search p95 (ms) | searches |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in result.catalogs:
        lines.append(
            f"| {f.catalog} | {f.chunks} | {f.ingest_s:.2f} | {f.chunks_per_s:.0f} | {f.search_p50_ms:.1f} | "
            f"{f.search_p95_ms:.1f} | {f.searches} |"
        )
    return "\n".join(lines) + "\n"


def write_server_reports(result: ServerBench, out: Path) -> tuple[Path, Path]:
    """Write ``bench-server.md`` and ``bench-server.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    markdown, data = out / "bench-server.md", out / "bench-server.json"
    markdown.write_text(render_server_markdown(result), encoding="utf-8")
    data.write_text(json.dumps(result.model_dump(), indent=2) + "\n", encoding="utf-8")
    return markdown, data
