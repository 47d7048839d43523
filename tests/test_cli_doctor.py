"""`assistant doctor`: interrupted updates, damaged indexes, and bugs that are not disguised as either."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli.app import Exit, app
from assistant.config import load_settings
from assistant.doctor import run_checks
from assistant.services import Services, build_services

runner = CliRunner()


@pytest.mark.slow
def test_doctor_names_interrupted_updates(tmp_path: Path, clean_env: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for name in ("alpha.txt", "beta.txt"):
        (notes / name).write_text(f"{name} says that Brad Lightcap is the COO of OpenAI.\n", encoding="utf-8")
    assert runner.invoke(app, ["ingest", "-q", str(notes)]).exit_code == 0
    healthy = runner.invoke(app, ["doctor"])
    assert healthy.exit_code == 0 and "updates" not in healthy.stdout
    services = build_services(load_settings())
    services.index.catalog.mark_pending("beta.txt")  # what a killed ingest leaves behind
    assert services.audit().pending == ["beta.txt"]

    result = runner.invoke(app, ["doctor"])

    assert result.exit_code == 0, result.output
    assert re.search(r"^ok\s+index\s+2 documents", result.stdout, re.M), result.stdout
    line = re.search(r"^warn updates\s+(.+)$", result.stdout, re.M)
    assert line and line.group(1) == "1 interrupted update(s): beta.txt; run `assistant ingest` to finish them"
    assert runner.invoke(app, ["ingest", "-q", str(notes)]).exit_code == 0
    assert "updates" not in runner.invoke(app, ["doctor"]).stdout


@pytest.mark.embedded_only
def test_a_damaged_index_is_a_failed_check_and_exit_3(clean_env: Path) -> None:
    catalog = clean_env / "index" / "catalog.sqlite"
    catalog.parent.mkdir(parents=True)
    catalog.write_bytes(b"this is not a SQLite database, " * 200)

    result = runner.invoke(app, ["doctor"])

    assert result.exit_code == Exit.INDEX, result.output
    index_line = re.search(r"^FAIL index\s+(.+)$", result.stdout, re.M)
    assert index_line and "damaged" in index_line.group(1) and "--rebuild" in index_line.group(1)


@pytest.mark.sqlite_only  # the SQLite file / file lock; server mode: tests/test_postgres_*.py
def test_a_bug_of_ours_is_raised_not_reported_as_a_damaged_index(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / "index").mkdir(parents=True)
    (clean_env / "index" / "catalog.sqlite").write_bytes(b"")

    def broken(self: Services) -> None:
        raise ZeroDivisionError("a bug in opening the index")

    monkeypatch.setattr(Services, "index", property(broken))
    with pytest.raises(ZeroDivisionError):
        run_checks(build_services(load_settings()))
    result = runner.invoke(app, ["doctor"])
    assert isinstance(result.exception, ZeroDivisionError)
    assert "damaged" not in result.output
