"""Whole-process start-up timings (issue 12): how long ``assistant ...`` takes from exec to exit.

Each command runs as a new process of the installed ``assistant`` console script (or
``python -m assistant`` when there is none) on a benchmark index, once unmeasured to warm the page
cache, then ``runs`` times, the commands interleaved so that a change of load on the machine weighs
on each alike. The figure is the median wall time seen by the parent, interpreter start included.
The children may write bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped from their environment):
without it every process compiles the assistant's own modules again, which an installed assistant
never does. ``search`` and ``ask`` are timed twice: as configured, and (``search_chroma``,
``ask_chroma``) with the vectors' exact-search copy turned off, so that every search asks Chroma as
before the copy existed.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from assistant import reports
from assistant.bench.defaults import STARTUP_RUNS
from assistant.bench.results import BenchError, StartupRun
from assistant.config import Settings


def launcher() -> list[str]:
    """The ``assistant`` console script installed beside this Python, else ``python -m assistant``."""
    script = Path(sys.executable).with_name("assistant")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "assistant"]


def settings_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with ``settings`` in ``ASSISTANT_*`` variables, so a child loads exactly them.

    Every top-level setting is set (tables as JSON), so neither the parent's ``ASSISTANT_*``
    variables nor a config file can change what the child uses.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("ASSISTANT_")}
    for name, value in settings.model_dump(mode="json", exclude={"config_file"}).items():
        env[f"ASSISTANT_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    env.update(ANONYMIZED_TELEMETRY="False", GRADIO_ANALYTICS_ENABLED="False")
    return env


WITHOUT_COPY = ("search_chroma", "ask_chroma")
"""The commands timed with ``ASSISTANT_CHROMA__LOCAL_COPY=false`` (every search asks Chroma)."""


def startup_commands(question: str) -> dict[str, list[str]]:
    """The command lines timed, by name (``question`` for ``search`` and ``ask``)."""
    search = ["search", question]
    ask = ["ask", "--mode", "extractive", "--backend", "embedded", question]
    return {
        "help": ["--help"],
        "search": search,
        "ask": ask,
        "doctor": ["doctor"],
        "search_chroma": search,
        "ask_chroma": ask,
    }


def _timed_environment(settings: Settings) -> dict[str, str]:
    """The timed children's environment: exactly ``settings``, and bytecode may be written (see the module doc)."""
    env = settings_environment(settings)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run_once(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def measure_startup(
    settings: Settings, question: str, runs: int = STARTUP_RUNS, log: Callable[[str], None] | None = None
) -> list[StartupRun]:
    """Median whole-process wall time of ``assistant --help``, ``search``, ``ask`` (extractive) and ``doctor``.

    ``search`` and ``ask`` are timed with and without the vectors' exact-search copy (see the module doc).

    The commands use the index of ``settings``. Raises :class:`BenchError` when ``--help``, ``search``
    or ``ask`` exits with an error (``doctor`` may warn: its exit code is recorded).
    """
    base, env = launcher(), _timed_environment(settings)
    chroma_only = settings.chroma.model_copy(update={"local_copy": False})
    without_copy = _timed_environment(settings.model_copy(update={"chroma": chroma_only}))
    commands = startup_commands(question)
    times: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, int] = {}
    for measured in [False, *[True] * runs]:  # one warm-up round, then the measured ones
        for name, args in commands.items():
            seconds, done = _run_once([*base, *args], without_copy if name in WITHOUT_COPY else env)
            codes[name] = done.returncode
            if done.returncode != 0 and name != "doctor":
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise BenchError(f"`assistant {shlex.join(args)}` failed (exit {done.returncode}): {last}")
            if measured:
                times[name].append(seconds)
        if log and measured:
            log(f"  start-up run {len(times['help'])}/{runs}")
    return [
        StartupRun(
            name=name,
            command=("ASSISTANT_CHROMA__LOCAL_COPY=false " if name in WITHOUT_COPY else "")
            + shlex.join(["assistant", *args]),
            run_seconds=times[name],
            median_s=reports.percentile(times[name], 50) or 0.0,
            exit_code=codes[name],
        )
        for name, args in commands.items()
    ]
