"""Bad input files are reported by name and skipped, and lose nothing of the index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.cli.app import Exit
from assistant.services import build_services
from tests.test_integrity import invoke, report_text, services, write_reports

pytestmark = pytest.mark.slow


def test_bad_files_are_reported_by_name_skipped_and_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What tests/test_ingest.py does not cover: whitespace, size limit, undecodable names, symlink loops."""
    corpus = tmp_path / "corpus"
    write_reports(corpus, 2, 1)
    assert invoke("ingest", "-q", str(corpus))[0] == 0
    before = services().index.catalog.all_chunk_ids()

    monkeypatch.setenv("ASSISTANT_INGEST__MAX_FILE_MB", "0.001")  # 1048 bytes
    (corpus / "blank.txt").write_text("  \n\t \r\n   \n")
    (corpus / "huge.txt").write_text("A long report about ferries in Porto. " * 40)
    (corpus / "report_001.txt").write_text(report_text(1, 1) + "More ferries were counted this year. " * 40)
    (corpus / "Résumé des ponts de Zürich — été 2024.md").write_text("# Ponts\n\nZürich compte 1234 ponts selon Ève.\n")
    os.symlink("loop.txt", corpus / "loop.txt")
    (corpus / "sub").mkdir()
    os.symlink("..", corpus / "sub" / "up")
    undecodable = os.fsencode(corpus) + b"/caf\xe9 menu.txt"
    with open(undecodable, "wb") as handle:
        handle.write(b"Espresso costs one euro in the bar near the station.\n")

    code, stderr = invoke("ingest", str(corpus))
    assert code == Exit.SOME_FILES_FAILED
    reasons = {line.split(": ", 1)[0].removeprefix("skipped "): line for line in stderr.splitlines()}
    expected = {
        "blank.txt": "empty file",
        "huge.txt": "too large",
        "report_001.txt": "too large",
        "loop.txt": "broken link or not a regular file",
        "up": "symlink loop",
        "caf\\xe9 menu.txt": "not valid UTF-8",
    }
    for name, reason in expected.items():
        line = next((line for path, line in reasons.items() if path.endswith(name)), "")
        assert reason in line, (name, stderr)
    svc = services()
    assert before <= svc.index.catalog.all_chunk_ids(), "the old version of the file now too large is kept"
    assert svc.index.catalog.document("Résumé des ponts de Zürich — été 2024.md") is not None
    assert "1234" in svc.search("Combien de ponts à Zürich ?", k=1).hits[0].text


def test_size_is_checked_before_reading_and_a_vanished_file_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    write_reports(corpus, 3, 1)
    svc = services()
    svc.ingest([corpus])
    big = corpus / "report_000.txt"  # indexed, then grows past the limit
    big.write_text(report_text(0, 1) + "Ferries. " * 300)
    (corpus / "new_big.txt").write_text("Ferries. " * 300)
    (corpus / "zz_vanishing.txt").write_text("This file is deleted before it is read.")
    limited = svc.settings.model_copy(update={"ingest": svc.settings.ingest.model_copy(update={"max_file_mb": 0.001})})
    svc = build_services(limited)

    opened: list[str] = []
    real_open, real_read = Path.open, Path.read_bytes

    class SpyHandle:
        """A file handle that records the name when its content is read (opening to fstat is not reading)."""

        def __init__(self, name: str, handle: object) -> None:
            self._name, self._handle = name, handle

        def read(self, *args: object) -> object:
            opened.append(self._name)
            return self._handle.read(*args)  # type: ignore[attr-defined]

        def __getattr__(self, attr: str) -> object:
            return getattr(self._handle, attr)

        def __enter__(self) -> SpyHandle:
            self._handle.__enter__()  # type: ignore[attr-defined]
            return self

        def __exit__(self, *exc: object) -> None:
            self._handle.__exit__(*exc)  # type: ignore[attr-defined]

    def spy_open(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        return SpyHandle(self.name, real_open(self, *args, **kwargs))  # type: ignore[arg-type]

    def spy_read(self: Path) -> bytes:
        opened.append(self.name)
        return real_read(self)

    monkeypatch.setattr(Path, "open", spy_open)
    monkeypatch.setattr(Path, "read_bytes", spy_read)

    def vanish(name: str, done: int, total: int, chunks: int) -> None:
        (corpus / "zz_vanishing.txt").unlink(missing_ok=True)

    report = svc.ingest([corpus], progress=vanish)
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert failed == {
        "report_000.txt": failed["report_000.txt"],
        "new_big.txt": failed["new_big.txt"],
        "zz_vanishing.txt": "file disappeared",
    }
    assert "too large" in failed["report_000.txt"] and "too large" in failed["new_big.txt"]
    assert "report_000.txt" not in opened and "new_big.txt" not in opened, "over the limit: never read"
    assert svc.index.catalog.document("report_000.txt") is not None, "its indexed version is kept"
    assert report.unchanged == ["report_001.txt", "report_002.txt"]
