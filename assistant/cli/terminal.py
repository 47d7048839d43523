"""Terminal rendering for the CLI: progress bars, ingest reports, search results, the doctor's checks.

Text from documents, file names and models is printed as plain text: never as rich markup or emoji
codes (``[bold]`` and ``admin:x:1001`` print as they are), without the control characters a
terminal would act on, and names with control or line-break characters escaped onto one line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from assistant.text.sanitize import terminal_text as safe

if TYPE_CHECKING:
    from assistant.doctor import Check
    from assistant.ingest.sync import IngestReport, ProgressCallback
    from assistant.models import SearchResult

_ESCAPED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}  # controls, invisible formatting (bidi, zero-width), line breaks


def console(stderr: bool = False) -> Console:
    """A console that prints text as it is: no markup, no emoji codes, no highlighting, no hard wrapping."""
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, soft_wrap=True)


def shown_name(name: str) -> str:
    """A file name or document id on one line, as it is, with each control, invisible or line-break
    character written as its escape (``\\n``, ``\\x1b``, ``\\u202e``)."""
    return "".join(
        char.encode("unicode_escape").decode("ascii") if unicodedata.category(char) in _ESCAPED_CATEGORIES else char
        for char in name
    )


@contextmanager
def ingest_progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A progress bar of files, chunks and rate on stderr (or nothing when disabled)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("indexing", style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "files · {task.fields[chunks]} chunks · {task.fields[rate]:.1f} chunks/s · {task.fields[name]}",
            markup=False,
        ),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console(stderr=True), transient=False) as bar:
        task = bar.add_task("ingest", total=None, chunks=0, rate=0.0, name="")

        def update(name: str, done: int, total: int, chunks: int) -> None:
            elapsed = bar.tasks[task].elapsed or 1e-9
            name = shown_name(name)[-40:]
            bar.update(task, completed=done, total=total, chunks=chunks, rate=chunks / elapsed, name=name)

        yield update


def print_ingest_report(report: IngestReport, quiet: bool = False) -> None:
    """A summary of the sync on stdout, failures on stderr; every file name escaped onto one line."""
    err = console(stderr=True)
    for failed in report.failed:
        err.print(f"skipped {shown_name(str(failed.path))}: {safe(failed.reason)}")
    if quiet:
        return
    out = console()
    out.print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"removed {len(report.removed)}, failed {len(report.failed)}; "
        f"{report.chunks_written} chunks written, {report.chunks_embedded} embedded in {report.seconds:.1f} s"
    )
    if report.recovered:
        out.print(f"resolved an interrupted ingest of: {', '.join(map(shown_name, report.recovered))}")
    for problem in report.repaired:
        out.print(f"repaired: {shown_name(problem)}")
    for flagged in report.flagged:
        out.print(
            f"left out of {shown_name(flagged.doc_id)} (reads like an instruction to the AI): “{safe(flagged.text)}”"
        )


def print_search_result(result: SearchResult) -> None:
    """Ranked passages for people."""
    out = console()
    heading = Text(f"{len(result.hits)} passages", style="bold")
    heading.append(f" for “{safe(result.query)}” ({result.mode}, {result.retrieval_ms:.0f} ms)", style="")
    out.print(heading)
    for hit in result.hits:
        scores = [f"score {hit.score:.4f}"]
        if hit.dense_rank is not None:
            scores.append(f"dense #{hit.dense_rank} {hit.dense_score:.3f}")
        if hit.bm25_rank is not None:
            scores.append(f"bm25 #{hit.bm25_rank} {hit.bm25_score:.2f}")
        out.print()
        out.print(Text(f"[{hit.rank}] {shown_name(safe(hit.title))[:80]}", style="bold"))
        out.print(f"    {shown_name(hit.doc_id)} chars {hit.start}-{hit.end} · {hit.language} · {' · '.join(scores)}")
        snippet = " ".join(safe(hit.text).split())
        out.print(f"    {snippet[:400]}{'…' if len(snippet) > 400 else ''}")


@contextmanager
def pull_progress(model: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar for `ollama pull`."""
    from rich.progress import BarColumn, Progress, TextColumn

    with Progress(
        TextColumn(f"pulling {shown_name(model)}", markup=False),
        BarColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        console=console(stderr=True),
    ) as bar:
        task = bar.add_task("pull", total=None, status="")

        def update(status: str, completed: int, total: int) -> None:
            bar.update(task, completed=completed, total=total or None, status=safe(status))

        yield update


def print_checks(checks: Sequence[Check]) -> None:
    """The doctor's report, one line a check."""
    out = console()
    marks = {"ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}
    for check in checks:
        mark, style = marks[check.status]
        line = Text(mark, style=style)
        line.append(f" {check.name:<15} {shown_name(safe(check.detail))}", style="")
        out.print(line)
