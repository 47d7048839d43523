"""``assistant ingest --watch``: sync, then keep the index in step with the folders until Ctrl-C.

Each change and each sync's outcome is printed on one line as it happens (stdout; files that
cannot be read and failed syncs on stderr), flushed at once so that a log or a pipe follows it.
Ctrl-C (SIGINT) or SIGTERM stops the watch after the sync in progress, if any, has finished:
nothing is left half-written and the exit code is 0. A second Ctrl-C stops at once (the next
ingest finishes or undoes what was interrupted, through the journal).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from assistant.cli.common import Exit, fail, friendly_errors, services_for
from assistant.cli.terminal import console, ingest_progress, print_ingest_report, shown_name
from assistant.text.sanitize import terminal_text as safe

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.ingest.sync import IngestReport
    from assistant.ingest.watch import WatchEvent

RETRY_SECONDS = 5.0
"""A sync that failed (the writer lock held elsewhere, a full disk) is tried again after this long."""


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by the first SIGINT or SIGTERM (a second SIGINT interrupts as usual); handlers restored after."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ingest_and_watch(settings: Settings, paths: list[Path], rebuild: bool, quiet: bool, debounce: float) -> None:
    """Sync ``paths`` (default: the configured corpus), print the report, then watch them until stopped."""
    import sys

    folders = [p.absolute() for p in (paths or settings.corpus_paths)]
    if not folders:
        fail("--watch needs a folder: pass one, or set corpus_paths in the settings", Exit.USAGE)
    if debounce <= 0:
        fail(f"--debounce must be more than 0 seconds, not {debounce:g}", Exit.USAGE)
    out = console()
    with stop_on_signals() as stop, friendly_errors():
        services = services_for(settings, need_index=False)

        def first() -> IngestReport:
            with ingest_progress(enabled=not quiet and sys.stderr.isatty()) as progress:
                return services.ingest(folders, progress=progress, rebuild=rebuild)

        from assistant.ingest.watch import watch_and_sync

        events = watch_and_sync(
            folders,
            lambda present: services.ingest(list(present)),
            settings.ingest.extensions,
            stop,
            ignore=[settings.data_dir],
            debounce=debounce,
            retry=RETRY_SECONDS,
            first=first,
        )
        for event in events:
            if event.first and event.report is not None:
                print_ingest_report(event.report, quiet=quiet)
            elif event.kind == "ready":
                names = ", ".join(shown_name(str(f)) for f in folders)
                out.print(f"watching {names} for changes (Ctrl-C to stop)")
            else:
                print_event(event, folders)
    out.print("stopped watching")


def print_event(event: WatchEvent, roots: list[Path]) -> None:
    """One line per change, one line for a sync's outcome, one line per file it could not read or per failure."""
    out, err = console(), console(stderr=True)
    if event.kind == "changes":
        for change in event.changes:
            out.print(shown_name(change.line(roots)))
    elif event.kind == "synced" and event.report is not None:
        for failed in event.report.failed:
            err.print(f"skipped {shown_name(str(failed.path))}: {safe(failed.reason)}")
        out.print(outcome_line(event.report))
    elif event.kind in ("gone", "back"):
        for change in event.changes:
            name = shown_name(str(change.path))
            if event.kind == "gone":
                err.print(f"not watching {name}: the folder is gone (its documents stay in the index until it is back)")
            else:
                out.print(f"watching {name} again")
    elif event.error is not None:
        err.print(f"sync failed: {safe(' '.join(str(event.error).split()))} (trying again in {RETRY_SECONDS:g} s)")


def outcome_line(report: IngestReport) -> str:
    """A sync's outcome on one line: what it added, updated, removed and could not read."""
    parts = [
        f"added {len(report.added)}",
        f"updated {len(report.updated)}",
        f"removed {len(report.removed)}",
        f"failed {len(report.failed)}",
    ]
    named = [*report.added, *report.updated, *report.removed]
    shown = f" ({', '.join(shown_name(n) for n in named[:5])}{', …' if len(named) > 5 else ''})" if named else ""
    return f"synced: {', '.join(parts)}{shown} in {report.seconds:.1f} s"
