"""Uploads are synced in a worker process, so that the UI's process keeps answering questions meanwhile.

A sync holds the GIL in Python code (reading, chunking, stemming) and the embedder's lock for long
stretches; run in the process that serves the page, it would stall every question for as long as
a large file takes to index. The worker is ``python -m assistant.web.worker``: it reads the
settings and the file names on stdin, runs :meth:`Services.add_files` (the same locked sync as
``assistant ingest``) and writes its progress and its outcome to stdout, one JSON message a line.
Its errors come back as the same error types (the one table of :mod:`assistant.errors`).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import Settings
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.ingest.uploads import UploadOutcome

log = logging.getLogger("assistant.web")

PREFIX = "@assistant-upload "
"""Marks the worker's own lines on stdout (a library may print there too)."""
WORKER = [sys.executable, "-m", "assistant.web.worker"]
Progress = Callable[[str, int, int | None], None]
"""Called with (what the worker does now, files done, files in all or None while it starts)."""
PRIVATE_SETTINGS: dict[str, Any] = {"ui": {"username", "password"}}
"""Settings the worker does not need and is not given."""


def add_files_in_worker(settings: Settings, files: Sequence[str], progress: Progress | None = None) -> UploadOutcome:
    """``Services.add_files(files)`` run in a new process over ``settings``, its progress reported here.

    Raises the worker's error as the same :class:`AssistantError` type, and :class:`RuntimeError`
    when the worker crashed (its traceback is in the server log: the worker writes to our stderr).
    """
    from pydantic import TypeAdapter

    from assistant.ingest.uploads import UploadOutcome

    request = {"settings": settings.model_dump(mode="json", exclude=PRIVATE_SETTINGS), "files": list(files)}
    outcome: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    with subprocess.Popen(WORKER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8") as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(json.dumps(request))
            child.stdin.close()
            for line in child.stdout:
                if not line.startswith(PREFIX):
                    log.info("upload worker: %s", line.rstrip())
                    continue
                message = json.loads(line.removeprefix(PREFIX))
                if "progress" in message and progress is not None:
                    progress(*message["progress"])
                outcome = message.get("outcome", outcome)
                error = message.get("error", error)
        except BaseException:
            child.kill()  # an interrupted sync is undone by the next one (the journal)
            raise
    if error is not None:
        raise worker_error(error["type"], error["message"])
    if outcome is None:
        raise RuntimeError(f"the upload worker stopped (exit status {child.returncode}); see the server log")
    return TypeAdapter(UploadOutcome).validate_python(outcome)


def worker_error(type_name: str, message: str) -> BaseException:
    """The error the worker reported, as the same type from the error table (RuntimeError if unknown)."""
    found: list[type[AssistantError]] = [AssistantError]
    for cls in found:
        if cls.__name__ == type_name:
            return cls(message)
        found.extend(cls.__subclasses__())
    return RuntimeError(message)


def emit(message: dict[str, Any]) -> None:
    """Write one message of the worker to stdout."""
    sys.stdout.write(PREFIX + json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    """The worker: read the request on stdin, add the files, write progress and outcome; the exit code of the table."""
    from pydantic import TypeAdapter

    from assistant.errors import exit_code
    from assistant.ingest.uploads import UploadOutcome
    from assistant.services import build_services

    request = json.loads(sys.stdin.read())
    services = build_services(Settings.model_validate(request["settings"]))
    names = ", ".join(Path(f).name for f in request["files"])

    def progress(name: str, done: int, total: int, chunks: int) -> None:
        emit({"progress": [f"Indexed {name} ({chunks:,} passages so far)", done, total]})

    try:
        emit({"progress": ["Opening the index", 0, None]})
        services.counts()
        emit({"progress": [f"Indexing {names}", 0, None]})
        outcome = services.add_files(request["files"], progress=progress)
    except AssistantError as exc:
        emit({"error": {"type": type(exc).__name__, "message": str(exc)}})
        return exit_code(exc) or 1
    emit({"outcome": TypeAdapter(UploadOutcome).dump_python(outcome, mode="json")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
