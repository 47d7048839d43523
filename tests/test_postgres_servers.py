"""Two machines, one index: two assistant processes with separate data directories on the same servers.

Real servers (a `chroma run` and a PostgreSQL, tests/pg_server.py) and real processes: ingests run as
``assistant ingest`` subprocesses (killed with SIGKILL where the test says so), and the question server
of the other "machine" is one long-lived process that is never restarted (:class:`QuestionServer`).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import chroma_server_env, collection_for, free_port
from pg_server import ChromaServer, PostgresServer, remove_postgres, start_postgres
from test_integrity import ASSISTANT, chunk_ids_of, report_text, small_chunks, write_reports

from assistant.index.pg_catalog import INGEST_LOCK

pytestmark = [pytest.mark.server, pytest.mark.slow]

QUESTION_SERVER = textwrap.dedent(
    """
    import json, sys
    from assistant.config import load_settings
    from assistant.errors import error_code, exit_code
    from assistant.services import build_services

    services = build_services(load_settings())
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["do"] == "search":
                found = services.search(request["query"], k=3, mode=request.get("mode"))
                reply = {"docs": [hit.doc_id for hit in found.hits], "texts": [hit.text for hit in found.hits]}
            elif request["do"] == "versions":
                catalog = services.index.catalog
                reply = {"chunks": {i.doc_id: [c.chunk_id for c in catalog.document_chunks(i.doc_id)]
                                    for i in catalog.documents()}}
            else:
                reply = {"problems": services.index.check_consistency(deep=True)}
        except Exception as exc:
            reply = {"error": str(exc), "exit": exit_code(exc), "code": error_code(exc)}
        print(json.dumps(reply), flush=True)
    """
)


class QuestionServer:
    """An assistant process of its own data directory, asked one request at a time over its stdin."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", QUESTION_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "ASSISTANT_DATA_DIR": str(data_dir)},
        )

    def ask(self, do: str, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"do": do, **fields}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the question server died"
        return dict(json.loads(line))

    def search(self, query: str, mode: str = "hybrid") -> dict[str, Any]:
        return self.ask("search", query=query, mode=mode)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def machines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, postgres_server: PostgresServer
) -> tuple[Path, Path]:
    """The data directories of two "machines" that share the test Chroma server and a new catalog database."""
    small_chunks(monkeypatch)
    name = collection_for(request)
    for key, value in chroma_server_env(request.getfixturevalue("chroma_server"), name).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ASSISTANT_CATALOG__URL", postgres_server.create_database("m" + name))
    monkeypatch.delenv("ASSISTANT_DATA_DIR")
    return tmp_path / "machine-a", tmp_path / "machine-b"


def ingest(data_dir: Path, corpus: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ASSISTANT), "ingest", "-q", str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), **env},
    )


def start_ingest(data_dir: Path, corpus: Path, *options: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ASSISTANT), "ingest", *(options or ["-q"]), str(corpus)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), **env},
    )


def lock_held(url: str) -> bool:
    """Whether some process holds the catalog's ingest lock (an advisory lock on a bigint key: two halves)."""
    import psycopg

    high, low = INGEST_LOCK >> 32, INGEST_LOCK & 0xFFFFFFFF
    sql = (
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' "
        "AND d.datname = current_database() AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        return bool(conn.execute(sql, (high, low)).fetchone()[0])


def wait_for(condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def question_server(machines: tuple[Path, Path]) -> Iterator[QuestionServer]:
    server = QuestionServer(machines[1])
    yield server
    server.close()


def test_an_ingest_on_one_machine_is_seen_by_the_other_without_a_restart(
    tmp_path: Path, machines: tuple[Path, Path], question_server: QuestionServer
) -> None:
    a, b = machines
    corpus = tmp_path / "corpus"
    write_reports(corpus, 3, 1)
    assert ingest(a, corpus).returncode == 0
    assert question_server.search("inspector Quill1", mode="bm25")["docs"][0] == "report_001.txt"
    assert "zorblax.txt" not in question_server.search("Zorblax", mode="bm25").get("docs", [])

    (corpus / "zorblax.txt").write_text("The Zorblax footbridge opened in Tartu last spring.\n", encoding="utf-8")
    assert ingest(a, corpus).returncode == 0
    for mode in ("bm25", "dense", "hybrid"):  # the catalog, its BM25 tokens and the vectors all arrived
        assert question_server.search("Zorblax footbridge Tartu", mode=mode)["docs"][0] == "zorblax.txt", mode

    (corpus / "zorblax.txt").unlink()
    assert ingest(a, corpus).returncode == 0
    assert "zorblax.txt" not in question_server.search("Zorblax footbridge Tartu", mode="hybrid")["docs"]
    assert question_server.ask("audit") == {"problems": []}
    # neither data directory holds a catalog: only each one's own BM25 copy and embedding cache
    for data_dir in (a, b):
        assert not (data_dir / "index" / "catalog.sqlite").exists()
        assert not (data_dir / "index" / "ingest.lock").exists()
    assert (b / "index" / "bm25.npz").is_file()

    # doctor on either machine checks both servers: reachable, versions, schema version, revision
    doctor = subprocess.run(
        [str(ASSISTANT), "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ASSISTANT_DATA_DIR": str(b)},
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    lines = {line.split()[1]: line for line in doctor.stdout.splitlines() if line.startswith(("ok", "warn", "FAIL"))}
    assert lines["chroma"].startswith("ok") and "API version" in lines["chroma"]
    postgres = lines["postgresql"]
    assert postgres.startswith("ok") and "PostgreSQL 1" in postgres and "schema version 1 of 1" in postgres
    assert "at revision 3" in postgres  # three ingests wrote chunk rows
    assert lines["index"].startswith("ok") and "3 documents" in lines["index"]


def test_two_ingests_on_two_machines_are_serialised(
    tmp_path: Path, machines: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = machines
    url = os.environ["ASSISTANT_CATALOG__URL"]
    corpus = tmp_path / "corpus"
    write_reports(corpus, 120, 1)
    cold = {"ASSISTANT_EMBEDDING__CACHE_DIR": str(tmp_path / "cold"), "ASSISTANT_INGEST__WRITE_BATCH": "4"}
    first = start_ingest(a, corpus, **cold)
    try:
        wait_for(lambda: lock_held(url) or first.poll() is not None)
        started = time.monotonic()
        refused = ingest(b, corpus, ASSISTANT_INGEST__LOCK_TIMEOUT="1")
        assert first.poll() is None, "the first ingest ended before the second one was refused"
        assert refused.returncode == 4, refused.stderr
        assert time.monotonic() - started >= 1.0
        line = refused.stderr.strip()
        assert "\n" not in line and "another ingest is running on the catalog" in line and "waited 1 s" in line

        waiting = start_ingest(b, corpus, "--verbose", ASSISTANT_INGEST__LOCK_TIMEOUT="300")
        assert first.wait(timeout=300) == 0
        first_done = time.monotonic()
        out, err = waiting.communicate(timeout=300)
        assert waiting.returncode == 0, err
        assert time.monotonic() >= first_done
        assert "added 0, updated 0, unchanged 120" in out, out  # it waited, then found everything indexed
    finally:
        first.kill()


def test_kill_9_of_an_ingest_leaves_both_machines_consistent(
    tmp_path: Path, machines: tuple[Path, Path], question_server: QuestionServer
) -> None:
    a, b = machines
    url = os.environ["ASSISTANT_CATALOG__URL"]
    corpus, scratch = tmp_path / "corpus", tmp_path / "scratch"
    count = 40
    texts = write_reports(corpus, count, 1)
    assert ingest(a, corpus).returncode == 0
    rng = random.Random(16)
    killed_mid_way = 0
    for version in (2, 3, 4):
        old_ids = {name: chunk_ids_of(scratch, name, text) for name, text in texts.items()}
        texts = {name: report_text(number, version) for number, name in enumerate(texts)}
        new_ids = {name: chunk_ids_of(scratch, name, text) for name, text in texts.items()}
        for name, text in texts.items():
            (corpus / name).write_text(text, encoding="utf-8")
        run = start_ingest(a, corpus, ASSISTANT_INGEST__WRITE_BATCH="3", ASSISTANT_EMBEDDING__CACHE_DIR=str(scratch))
        wait_for(lambda run=run: lock_held(url) or run.poll() is not None)
        time.sleep(rng.uniform(0.2, 3.0))  # a random point of the run
        killed_mid_way += run.poll() is None
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
        wait_for(lambda: not lock_held(url), timeout=10)  # the server released the dead ingest's lock

        # the other machine answers at once, and every document it sees is one version, whole
        versions = question_server.ask("versions")["chunks"]
        assert sorted(versions) == sorted(texts)
        for name, ids in versions.items():
            assert ids in (old_ids[name], new_ids[name]), name
        hit = question_server.search("inspector Quill7", mode="bm25")
        assert "Quill7 " in hit["texts"][0]

        # the next ingest, on the other machine, finishes the interrupted one
        done = ingest(b, corpus)
        assert done.returncode == 0, done.stderr
        versions = question_server.ask("versions")["chunks"]
        assert versions == new_ids
        assert question_server.ask("audit") == {"problems": []}
    assert killed_mid_way >= 1, "every ingest ended before its kill: nothing was tested"
    # a fresh process of the first machine answers as the second does
    fresh = QuestionServer(a)
    try:
        assert fresh.search("Revision 4 of report 7") == question_server.search("Revision 4 of report 7")
        assert fresh.ask("audit") == {"problems": []}
    finally:
        fresh.close()


def search_cli(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ASSISTANT), "search", "inspector Quill1"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ASSISTANT_DATA_DIR": str(data_dir)},
    )


def test_servers_going_away_give_one_line_and_the_next_question_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_chunks(monkeypatch)
    postgres = start_postgres(free_port())
    chroma = ChromaServer(free_port(), tmp_path / "chroma")
    chroma.path.mkdir()
    chroma.start()
    server: QuestionServer | None = None
    try:
        for key, value in chroma_server_env(("127.0.0.1", chroma.port), "outage").items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("ASSISTANT_CATALOG__URL", postgres.create_database("outage"))
        monkeypatch.setenv("ASSISTANT_CATALOG__CONNECT_TIMEOUT", "2")
        corpus, data_dir = tmp_path / "corpus", tmp_path / "machine"
        write_reports(corpus, 3, 1)
        assert ingest(data_dir, corpus).returncode == 0
        server = QuestionServer(data_dir)
        assert server.search("inspector Quill1")["docs"][0] == "report_001.txt"

        for name, stop, start in (
            ("PostgreSQL", lambda: postgres.stop("immediate"), postgres.start),
            ("Chroma", chroma.stop, chroma.start),
        ):
            stop()
            failed = server.search("inspector Quill1")
            assert failed.get("exit") == 3 and failed["code"] == "store_unavailable", (name, failed)
            assert "\n" not in failed["error"]
            cli = search_cli(data_dir)
            assert cli.returncode == 3, (name, cli.stderr)
            assert len(cli.stderr.strip().splitlines()) == 1 and "Traceback" not in cli.stderr, cli.stderr
            doctor = subprocess.run(
                [str(ASSISTANT), "doctor"],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "ASSISTANT_DATA_DIR": str(data_dir)},
            )
            failed_lines = [line for line in doctor.stdout.splitlines() if line.startswith("FAIL")]
            server_line = "FAIL postgresql" if name == "PostgreSQL" else "FAIL chroma server"
            assert doctor.returncode != 0 and any(line.startswith(server_line) for line in failed_lines), doctor.stdout
            start()
            assert server.search("inspector Quill1")["docs"][0] == "report_001.txt", name  # no restart
            assert search_cli(data_dir).returncode == 0
    finally:
        if server is not None:
            server.close()
        chroma.stop()
        remove_postgres(postgres)
