"""``assistant ingest --watch``: a real process watches a folder; files are added, edited, deleted, broken."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CORPUS
from typer.testing import CliRunner

from assistant.cli.app import Exit, app
from assistant.config import load_settings
from assistant.ingest.watch import ChangeFilter, FileChange
from assistant.services import build_services

ASSISTANT = Path(sys.executable).parent / "assistant"
FIRST, SECOND = "000_9054f5f7106c5075.txt", "002_21cd4d0107916324.txt"
NEW_TEXT = "Il faro di Capo Zefiro fu acceso per la prima volta nel 1887 dal guardiano Ettore Vannucci.\n"
LEDGER = "Il registro {i} del porto di Zefiro annota la nave numero {i}7 con {i}3 casse di sale e spezie.\n"
EDIT_TEXT = "\nLa nuova sede della redazione si trova in via dei Gelsomini 42, a Trieste.\n"


class Lines:
    """The lines a process writes on one stream, read in a thread, waited for by content."""

    def __init__(self, stream: object) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, *parts: str, timeout: float = 120) -> str:
        """The first new line holding every one of ``parts`` (fails after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if all(part in line for part in parts):
                return line
        raise AssertionError(f"no line with {parts} in:\n" + "\n".join(self.seen))


@pytest.mark.slow
@pytest.mark.server
def test_watch_picks_up_added_edited_deleted_and_broken_files_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    """Every change is printed and synced; a broken file, a folder gone and back, Ctrl-C mid-sync."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in (FIRST, SECOND):
        shutil.copy(CORPUS / name, folder / name)
    process = subprocess.Popen(
        [str(ASSISTANT), "ingest", "--watch", "--debounce", "0.3", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
    )
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        out.wait_for("added 2", timeout=300)  # the first sync, as a plain ingest reports it
        out.wait_for("watching", "Ctrl-C")

        (folder / "faro.txt").write_text(NEW_TEXT * 3, encoding="utf-8")
        out.wait_for("added: docs/faro.txt")
        assert "added 1" in out.wait_for("synced:") and "faro.txt" in out.seen[-1]

        with (folder / FIRST).open("a", encoding="utf-8") as handle:
            handle.write(EDIT_TEXT)
        out.wait_for(f"changed: docs/{FIRST}")
        assert "updated 1" in out.wait_for("synced:")

        (folder / SECOND).unlink()
        out.wait_for(f"deleted: docs/{SECOND}")
        assert "removed 1" in out.wait_for("synced:")

        (folder / "broken.pdf").write_bytes(b"%PDF-1.7 this is not a pdf")
        out.wait_for("added: docs/broken.pdf")
        assert "failed 1" in out.wait_for("synced:")
        err.wait_for("skipped", "broken.pdf")  # one line, and the watch goes on:
        (folder / "nested").mkdir()
        (folder / "nested" / "note.md").write_text("# Nota\n\nIl gatto Pippo dorme in biblioteca.\n", encoding="utf-8")
        out.wait_for("added: docs/nested")  # the folder, or the file too when it was watched in time
        assert "nested/note.md" in out.wait_for("synced:", "added 1")

        # the watched folder goes away: its documents stay; back, it is watched (and synced) again
        folder.rename(tmp_path / "away")
        err.wait_for("not watching", "the folder is gone")
        (tmp_path / "away").rename(folder)
        out.wait_for("watching", "again")
        assert "added 0, updated 0, removed 0" in out.wait_for("synced:")

        # Ctrl-C while a sync runs: it is finished first, then the watch stops with exit code 0
        (folder / "registro.txt").write_text("".join(LEDGER.format(i=i) for i in range(300)), encoding="utf-8")
        out.wait_for("added: docs/registro.txt")
        process.send_signal(signal.SIGINT)
        assert "registro.txt" in out.wait_for("synced:", "added 1")
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0, "\n".join(err.seen)
    out.wait_for("stopped watching", timeout=5)
    assert not [line for line in err.seen if "Traceback" in line]

    services = build_services(load_settings())
    documents = {d.doc_id for d in services.documents()}
    assert documents == {FIRST, "faro.txt", "nested/note.md", "registro.txt"}
    ledger = services.document("registro.txt")
    assert ledger is not None and ledger.n_chunks > 10
    new = services.search("Quando fu acceso il faro di Capo Zefiro?", k=1).hits[0]
    assert new.doc_id == "faro.txt" and "Ettore Vannucci" in new.text
    edited = services.search("Dove si trova la nuova sede della redazione?", k=3).hits
    assert any(hit.doc_id == FIRST and "via dei Gelsomini" in hit.text for hit in edited)
    assert services.audit().problems() == []  # nothing half-written


def test_the_watch_counts_indexed_types_and_folders_but_not_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "docs" / ".assistant"
    data.mkdir(parents=True)
    (tmp_path / "docs" / "sub").mkdir()
    wanted = ChangeFilter([".txt", "md"], ignore=[data])
    assert wanted("added", tmp_path / "docs" / "a.txt") and wanted("changed", tmp_path / "docs" / "B.MD")
    assert not wanted("added", tmp_path / "docs" / "a.tmp")
    assert not wanted("added", tmp_path / "docs" / ".a.txt.swp") and not wanted("added", tmp_path / "docs" / ".x.txt")
    assert not wanted("changed", data / "catalog.sqlite") and not wanted("added", data / "uploads" / "a.txt")
    assert wanted("deleted", tmp_path / "docs" / "gone-folder")  # it may have held documents
    assert wanted("added", tmp_path / "docs" / "sub") and not wanted("changed", tmp_path / "docs" / "sub")
    (tmp_path / "link").symlink_to(tmp_path / "docs")  # the data directory named through a link
    linked = ChangeFilter([".txt"], ignore=[tmp_path / "link" / ".assistant"])
    assert not linked("deleted", data / "gone.txt") and not linked("deleted", data / "chroma")
    assert linked("added", tmp_path / "docs" / "a.txt")
    line = FileChange("deleted", tmp_path / "docs" / "x\ny.txt").line([tmp_path / "docs"])
    assert line == "deleted: docs/x\\ny.txt"  # a name cannot break the line


def test_bad_watch_options_give_one_line_and_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["ingest", "--watch", str(tmp_path / "missing")])
    assert missing.exit_code == Exit.USAGE and "no such file or folder" in missing.stderr
    (tmp_path / "docs").mkdir()
    zero = runner.invoke(app, ["ingest", "--watch", "--debounce", "0", str(tmp_path / "docs")])
    assert zero.exit_code == Exit.USAGE and zero.stderr.count("\n") == 1 and "--debounce" in zero.stderr
