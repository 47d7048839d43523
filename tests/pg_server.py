"""Real servers for the tests: PostgreSQL (``initdb`` in a temp dir, ``pg_ctl`` on a free loopback port)
and a `chroma run` that a test may stop and start again.

PostgreSQL:
Debian's ``postgresql`` package puts its programs in ``/usr/lib/postgresql/<major>/bin`` (``.ci/run``
installs it and puts that folder on ``PATH``). PostgreSQL refuses to run as root: as root the server
runs as ``nobody``, in a temp dir that user owns (outside pytest's root-only temp folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TRUSTED_USER = "assistant"
"""The database role the tests connect as (a superuser made by ``initdb``, trusted on loopback)."""


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on ``PATH``, else Debian's newest, else None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


@dataclass
class PostgresServer:
    """A running server: its loopback port, data folder and the command prefix that runs as its owner."""

    port: int
    root: Path
    bin_dir: Path
    as_owner: list[str]

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL of ``database`` on this server."""
        return f"postgresql://{TRUSTED_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create ``name`` (dropping an older one) and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_owner, str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "db"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._ctl("-w", "-t", "60", "-l", str(self.root / "server.log"), "-o", options, "start")
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}{log}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` stands for a server that goes away)."""
        self._ctl("-w", "-m", mode, "stop")


def start_postgres(port: int) -> PostgresServer:
    """``initdb`` a new cluster in a temp dir and start it on ``port`` (loopback, trust authentication)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")
    root = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
    (root / "sock").mkdir()
    as_owner: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        for path in (root, root / "sock"):
            shutil.chown(path, "nobody", "nogroup")
        as_owner = ["runuser", "-u", "nobody", "--"]
    init = subprocess.run(
        [*as_owner, str(bin_dir / "initdb"), "-D", str(root / "db"), "-U", TRUSTED_USER, "-A", "trust", "-E", "UTF8"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stdout}{init.stderr}")
    server = PostgresServer(port, root, bin_dir, as_owner)
    server.start()
    return server


def remove_postgres(server: PostgresServer) -> None:
    """Stop the server and delete its folder."""
    server.stop("immediate")
    for _ in range(20):
        try:
            shutil.rmtree(server.root)
            return
        except OSError:
            time.sleep(0.2)


@dataclass
class ChromaServer:
    """A `chroma run` of a test's own, which the test may stop and start again (same port, same store)."""

    port: int
    path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        import socket
        import sys

        exe = Path(sys.executable).parent / "chroma"
        log = (self.path / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [str(exe), "run", "--path", str(self.path / "db"), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.path / "server.log").read_text(errors="replace")[-2000:]) from None
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("chroma run did not start within 60 s")

    def stop(self) -> None:
        """Kill the server (a server that goes away)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
