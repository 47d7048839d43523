"""Terminal rendering for the CLI: progress bars, search results, answers and sources."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assistant.ingest import IngestReport, ProgressCallback
from assistant.models import SearchResult


@contextmanager
def ingest_progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A progress bar of files, chunks and rate on stderr (or nothing when disabled)."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks · {task.fields[rate]:.1f} chunks/s · {task.fields[name]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("ingest", total=None, chunks=0, rate=0.0, name="")

        def update(name: str, done: int, total: int, chunks: int) -> None:
            elapsed = bar.tasks[task].elapsed or 1e-9
            bar.update(task, completed=done, total=total, chunks=chunks, rate=chunks / elapsed, name=name[-40:])

        yield update


def print_ingest_report(report: IngestReport, quiet: bool = False) -> None:
    """A summary of the sync on stdout, failures on stderr."""
    err = Console(stderr=True, highlight=False)
    for failed in report.failed:
        err.print(f"skipped {failed.path}: {failed.reason}", markup=False)
    if quiet:
        return
    out = Console(highlight=False)
    out.print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"removed {len(report.removed)}, failed {len(report.failed)}; "
        f"{report.chunks_written} chunks written, {report.chunks_embedded} embedded in {report.seconds:.1f} s",
        markup=False,
    )
    if report.recovered:
        out.print(f"resolved an interrupted ingest of: {', '.join(report.recovered)}", markup=False)


def print_search_result(result: SearchResult) -> None:
    """Ranked passages for people."""
    out = Console(highlight=False)
    out.print(f"[bold]{len(result.hits)} passages[/] for “{result.query}” ({result.mode}, {result.retrieval_ms:.0f} ms)")
    for hit in result.hits:
        scores = [f"score {hit.score:.4f}"]
        if hit.dense_rank is not None:
            scores.append(f"dense #{hit.dense_rank} {hit.dense_score:.3f}")
        if hit.bm25_rank is not None:
            scores.append(f"bm25 #{hit.bm25_rank} {hit.bm25_score:.2f}")
        out.print(f"\n[bold][{hit.rank}] {hit.title[:80]}[/]", markup=True)
        out.print(f"    {hit.doc_id} chars {hit.start}-{hit.end} · {hit.language} · {' · '.join(scores)}", markup=False)
        snippet = " ".join(hit.text.split())
        out.print(f"    {snippet[:400]}{'…' if len(snippet) > 400 else ''}", markup=False)
