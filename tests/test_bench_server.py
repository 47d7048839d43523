"""`assistant bench --server-catalog`: both catalogs side by side on real servers, same corpus, same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CORPUS, chroma_server_env, collection_for
from pg_server import PostgresServer
from typer.testing import CliRunner

from assistant.cli.app import app

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_server_bench_reports_both_catalogs_from_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, postgres_server: PostgresServer
) -> None:
    name = collection_for(request)
    for key, value in chroma_server_env(request.getfixturevalue("chroma_server"), name).items():
        monkeypatch.setenv(key, value)
    url = postgres_server.create_database("b" + name)
    out = tmp_path / "out"
    args = ["bench", "--server-catalog", url, "--sizes", "40", "--rounds", "2", "--corpus", str(CORPUS)]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--work-dir", str(tmp_path / "work")])
    assert result.exit_code == 0, result.output

    report = json.loads((out / "bench-server.json").read_text(encoding="utf-8"))
    sqlite, postgres = report["catalogs"]
    assert (sqlite["catalog"], postgres["catalog"]) == ("SQLite", "PostgreSQL")
    assert sqlite["chunks"] == postgres["chunks"] >= 40  # the same corpus, wholly ingested by both
    assert sqlite["searches"] == postgres["searches"] > 0 and sqlite["searches"] % 2 == 0  # same questions, 2 rounds
    for figures in (sqlite, postgres):
        assert 0 < figures["search_p50_ms"] <= figures["search_p95_ms"] and figures["chunks_per_s"] > 0
    table = (out / "bench-server.md").read_text(encoding="utf-8")
    assert "| SQLite | " in table and "| PostgreSQL | " in table and table in result.output
    assert not (tmp_path / "work" / "server" / "postgresql" / "index" / "catalog.sqlite").exists()
    assert (tmp_path / "work" / "server" / "sqlite" / "index" / "catalog.sqlite").is_file()


def test_server_bench_needs_a_chroma_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CHROMA__MODE", "embedded")
    args = ["bench", "--server-catalog", "postgresql://x@127.0.0.1:9/x", "--sizes", "40", "--corpus", str(CORPUS)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: --server-catalog needs a Chroma server")
