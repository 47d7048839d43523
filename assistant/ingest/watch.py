"""Keeping the index in step with folders: watch them and sync again when their files change.

:func:`watch_and_sync` watches the folders (``watchfiles``: inotify, or polling where there is
none), waits until they have been quiet for ``debounce`` seconds, then runs the given sync (the
services' ``ingest``: the same writer lock and journal as any ingest). It yields what it saw and
what each sync did, one :class:`WatchEvent` at a time, until ``stop`` is set; it checks ``stop``
between syncs only, so a sync that has started is finished and nothing is left half-written.

Only files of the indexed types count as changes (and deleted paths, which may be folders);
files under ``ignore`` (the data directory, if it lies inside a watched folder) never do. A sync
that fails with one of the assistant's errors (the lock held by another ingest for too long, a
full disk) is reported and tried again after ``retry`` seconds; a file that cannot be read is in
the sync's report, and the watch goes on. A watched folder that disappears is left out of the
syncs (its documents stay in the index) until it is back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from assistant.errors import AssistantError
from assistant.ingest.discovery import escape_name, normalize_extension
from assistant.ingest.sync import IngestReport

ChangeKind = Literal["added", "changed", "deleted"]


@dataclass(frozen=True)
class FileChange:
    """One file (or folder) that appeared, changed or disappeared."""

    kind: ChangeKind
    path: Path

    def line(self, roots: Sequence[Path] = ()) -> str:
        """The change on one printable line, the path relative to its watched folder when under one."""
        return f"{self.kind}: {escape_name(shown_path(self.path, roots))}"


@dataclass
class WatchEvent:
    """The watch is ``ready``; what it saw (``changes``); what a sync did (``report``) or why it failed (``error``)."""

    kind: Literal["ready", "changes", "synced", "failed", "gone", "back"]
    changes: list[FileChange] = field(default_factory=list)
    report: IngestReport | None = None
    error: AssistantError | None = None
    first: bool = False
    """The initial sync (``first=``), run once the folders were watched."""


def shown_path(path: Path, roots: Sequence[Path]) -> str:
    """``path`` relative to the first of ``roots`` it is under (as the root's name/...), else as it is."""
    for root in roots:
        if path == root:
            return root.name or str(root)
        if root in path.parents:
            return f"{root.name}/{path.relative_to(root).as_posix()}" if root.name else str(path)
    return str(path)


class ChangeFilter:
    """Which raw changes matter: files of the indexed types, folders added or deleted, nothing under ``ignore``."""

    def __init__(self, extensions: Sequence[str], ignore: Sequence[Path] = ()) -> None:
        self.extensions = {normalize_extension(e) for e in extensions}
        self.ignore = {q for p in ignore for q in (p.absolute(), p.resolve())}

    def ignored(self, path: Path) -> bool:
        """Whether ``path`` is under one of the ignored folders (as given, or with symbolic links resolved)."""
        seen = {path.absolute(), path.parent.resolve() / path.name}  # the parent resolves even once the file is gone
        return any(p == q or q in p.parents for p in seen for q in self.ignore)

    def __call__(self, kind: ChangeKind, path: Path) -> bool:
        """Whether this change should start a sync."""
        if self.ignored(path):
            return False
        if path.name.startswith("."):
            return False  # hidden files: editors' swap files and partial downloads
        if (kind == "deleted" and not path.suffix) or (kind == "added" and path.is_dir()):
            return True  # a folder (maybe) that came or went with its files: the sync finds out which
        return normalize_extension(path.suffix) in self.extensions


def watch_and_sync(
    paths: Sequence[Path],
    sync: Callable[[Sequence[Path]], IngestReport],
    extensions: Sequence[str],
    stop: threading.Event,
    ignore: Sequence[Path] = (),
    debounce: float = 1.0,
    retry: float = 5.0,
    first: Callable[[], IngestReport] | None = None,
) -> Iterator[WatchEvent]:
    """Watch ``paths`` and run ``sync(folders)`` after each quiet spell of ``debounce`` seconds; see the module doc.

    ``first`` (the initial sync) runs once the folders are watched, so that no change made while it
    runs is missed; its errors are raised. Then a ``ready`` event, then changes and syncs until
    ``stop`` is set (a sync that has started is finished first). A watched folder that disappears
    is reported (``gone``) and left out of the syncs, so its documents stay in the index; when it
    is back (``back``) it is watched and synced again. Errors that are not the assistant's (bugs)
    are raised.
    """
    # the watcher behind watchfiles.watch, used directly so that the first sync starts once it watches
    from watchfiles._rust_notify import RustNotify

    wanted = ChangeFilter(extensions, ignore)
    quiet_ms = max(int(debounce * 1000), 50)
    retry_ms = max(int(retry * 1000), quiet_ms)
    roots = [p.absolute() for p in paths]
    polling = os.environ.get("WATCHFILES_FORCE_POLLING", "").lower() in ("1", "true", "yes")
    watched = [r for r in roots if r.exists()]
    started = pending = False  # pending: a sync failed or a folder came back, so sync at the next wake-up
    while not stop.is_set():
        present = [r for r in roots if r.exists()]
        yield from _moves(watched, present)
        pending, watched = pending or present != watched, present
        if not present:
            if stop.wait(retry):
                return
            continue
        with RustNotify([str(r) for r in present], False, polling, 300, True, True) as watcher:
            if not started:
                if first is not None:
                    yield WatchEvent("synced", report=first(), first=True)
                yield WatchEvent("ready")
                started, pending = True, False
            while True:
                if pending:  # a folder came back, or the last sync failed (tried again after ``retry``)
                    pending = yield from _synced(sync, present)
                if stop.is_set():
                    return
                raw = watcher.watch(max(quiet_ms * 10, 10_000), quiet_ms, retry_ms, stop)
                if raw in ("stop", "signal") or stop.is_set():
                    return
                changes = _changes(raw, wanted)
                if changes:
                    yield WatchEvent("changes", changes=changes)
                if [r for r in roots if r.exists()] != present:
                    break  # a folder went or came back: watch what is there now
                if changes:  # synced at once, even when stopping: every change printed is synced
                    pending = yield from _synced(sync, present)


def _changes(raw: object, wanted: ChangeFilter) -> list[FileChange]:
    """The changes that count in what the watcher returned (a set of (kind, path), or a word on a timeout)."""
    from watchfiles import Change

    kinds: dict[Change, ChangeKind] = {Change.added: "added", Change.modified: "changed", Change.deleted: "deleted"}
    found = [FileChange(kinds.get(Change(kind), "changed"), Path(path)) for kind, path in _pairs(raw)]
    return _merged(sorted((c for c in found if wanted(c.kind, c.path)), key=_order))


def _pairs(raw: object) -> list[tuple[int, str]]:
    return sorted(raw) if isinstance(raw, set) else []


def _moves(before: list[Path], after: list[Path]) -> Iterator[WatchEvent]:
    for root in before:
        if root not in after:
            yield WatchEvent("gone", changes=[FileChange("deleted", root)])
    for root in after:
        if root not in before:
            yield WatchEvent("back", changes=[FileChange("added", root)])


def _synced(sync: Callable[[Sequence[Path]], IngestReport], folders: list[Path]) -> Generator[WatchEvent, None, bool]:
    """Run one sync and report it; True when it failed (it is tried again)."""
    try:
        report = sync(folders)
    except AssistantError as exc:
        yield WatchEvent("failed", error=exc)
        return True
    yield WatchEvent("synced", report=report)
    return False


def _order(change: FileChange) -> tuple[str, str]:
    return (str(change.path), change.kind)


def _merged(changes: list[FileChange]) -> list[FileChange]:
    """One change per path: a file added then edited in one spell is added, one that came and went is left out."""
    by_path: dict[Path, list[ChangeKind]] = {}
    for change in changes:
        by_path.setdefault(change.path, []).append(change.kind)
    merged: list[FileChange] = []
    for path, seen in by_path.items():
        exists = path.exists()
        if "added" in seen and "deleted" in seen and not exists:
            continue
        kind: ChangeKind = "deleted" if not exists else "added" if "added" in seen else "changed"
        merged.append(FileChange(kind, path))
    return merged
