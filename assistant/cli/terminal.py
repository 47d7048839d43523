"""Terminal rendering for the CLI: progress bars, search results, answers and sources."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assistant.ingest.sync import IngestReport, ProgressCallback
from assistant.models import Answer, SearchResult
from assistant.text.sanitize import terminal_text as safe

if TYPE_CHECKING:
    from assistant.answer.compose import AnswerEvent
    from assistant.doctor import Check


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
            name = escape(safe(name)[-40:])
            bar.update(task, completed=done, total=total, chunks=chunks, rate=chunks / elapsed, name=name)

        yield update


def print_ingest_report(report: IngestReport, quiet: bool = False) -> None:
    """A summary of the sync on stdout, failures on stderr."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for failed in report.failed:
        err.print(safe(f"skipped {failed.path}: {failed.reason}"), markup=False)
    if quiet:
        return
    out = Console(highlight=False, soft_wrap=True)
    out.print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"removed {len(report.removed)}, failed {len(report.failed)}; "
        f"{report.chunks_written} chunks written, {report.chunks_embedded} embedded in {report.seconds:.1f} s",
        markup=False,
    )
    if report.recovered:
        out.print(safe(f"resolved an interrupted ingest of: {', '.join(report.recovered)}"), markup=False)
    for problem in report.repaired:
        out.print(safe(f"repaired: {problem}"), markup=False)
    for flagged in report.flagged:
        out.print(
            safe(f"left out of {flagged.doc_id} (reads like an instruction to the AI): “{flagged.text}”"), markup=False
        )


def print_search_result(result: SearchResult) -> None:
    """Ranked passages for people."""
    out = Console(highlight=False, soft_wrap=True)
    out.print(
        f"[bold]{len(result.hits)} passages[/] for “{escape(safe(result.query))}” "
        f"({result.mode}, {result.retrieval_ms:.0f} ms)"
    )
    for hit in result.hits:
        scores = [f"score {hit.score:.4f}"]
        if hit.dense_rank is not None:
            scores.append(f"dense #{hit.dense_rank} {hit.dense_score:.3f}")
        if hit.bm25_rank is not None:
            scores.append(f"bm25 #{hit.bm25_rank} {hit.bm25_score:.2f}")
        out.print(f"\n[bold]\\[{hit.rank}] {escape(safe(hit.title)[:80])}[/]", markup=True)
        out.print(
            safe(f"    {hit.doc_id} chars {hit.start}-{hit.end} · {hit.language} · {' · '.join(scores)}"), markup=False
        )
        snippet = " ".join(safe(hit.text).split())
        out.print(f"    {snippet[:400]}{'…' if len(snippet) > 400 else ''}", markup=False)


class AnswerPrinter:
    """Streams an answer to the terminal, then prints its sources with their quotes."""

    def __init__(self, stream: bool = True) -> None:
        self.stream = stream
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self._streamed = ""
        self._shown = False  # some text reached the terminal (a reset does not undo that)

    def consume(self, events: Iterator[AnswerEvent]) -> Answer:
        """Print the events as they come; return the final answer. A failure mid-stream is flagged."""
        answer: Answer | None = None
        try:
            for event in events:
                answer = self._handle(event) or answer
        except Exception:
            if self._shown and self.stream:
                self.out.print("\n[answer incomplete: the model failed]", style="bold red", markup=False)
            raise
        assert answer is not None
        if self.stream:
            self._print_final(answer)
        return answer

    def _handle(self, event: AnswerEvent) -> Answer | None:
        if event.kind == "status" and self.stream:
            self.err.print(f"[{event.text}]", style="dim", markup=False)
        elif event.kind == "token" and self.stream:
            self._streamed += event.text
            self._shown = True
            self.out.print(safe(event.text), end="", markup=False)
        elif event.kind == "reset" and self.stream:
            self.out.print("\n[rewriting the answer in the question's language…]", style="dim", markup=False)
            self._streamed = ""
        elif event.kind == "answer":
            return event.answer
        return None

    def _print_final(self, answer: Answer) -> None:
        if self._streamed:
            self.out.print()
            if self._streamed.strip() != answer.text.strip():
                self.out.rule("checked answer", style="dim")
                self.out.print(safe(answer.text), markup=False)
        else:
            self.out.print(safe(answer.text), markup=False)
        for note in answer.notes:
            self.err.print(safe(f"note: {note}"), style="yellow", markup=False)
        if answer.sources:
            self.out.print("\nSources:", style="bold")
        for source in answer.sources:
            self.out.print(
                safe(f"[{source.number}] {source.title[:90]} — {source.doc_id}, chars {source.start}-{source.end}"),
                markup=False,
            )
            self.out.print(safe(f"    “{source.quote}”"), style="italic", markup=False)
        self.err.print(
            f"[{answer.backend} · {answer.mode} · retrieval {answer.timings.retrieval_ms:.0f} ms · "
            f"total {answer.timings.total_ms:.0f} ms]",
            style="dim",
            markup=False,
        )


@contextmanager
def pull_progress(model: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar for `ollama pull`."""
    with Progress(
        TextColumn(f"pulling {model}"), BarColumn(), TextColumn("{task.fields[status]}"), console=Console(stderr=True)
    ) as bar:
        task = bar.add_task("pull", total=None, status="")

        def update(status: str, completed: int, total: int) -> None:
            bar.update(task, completed=completed, total=total or None, status=status)

        yield update


def print_checks(checks: Sequence[Check]) -> None:
    """The doctor's report, one line a check."""
    out = Console(highlight=False, soft_wrap=True)
    marks = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
    for check in checks:
        out.print(f"{marks[check.status]} {check.name:<15} ", end="")
        out.print(safe(check.detail), markup=False)
