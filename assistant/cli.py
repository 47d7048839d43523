"""The ``assistant`` command: a thin shell over :mod:`assistant.services`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from assistant.cli_options import ConfigOption
from assistant.config import ConfigError, Settings, load_settings

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Ask questions about your documents, with citations."
)

T = TypeVar("T")


class Exit:
    """Exit codes, one per kind of failure."""

    OK = 0
    SOME_FILES_FAILED = 1
    USAGE = 2
    INDEX = 3
    BUSY = 4
    MODEL_UNREACHABLE = 5
    MODEL_MISSING = 6
    MODEL_TIMEOUT = 7
    MODEL_FAILED = 8
    THRESHOLD = 9


def fail(message: str, code: int) -> NoReturn:
    """Print a one-line error and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)


def _error_code(exc: BaseException) -> int | None:
    from assistant.catalog import CatalogError
    from assistant.ingest import IngestBusyError
    from assistant.store import IndexMismatchError, StoreUnavailableError

    if isinstance(exc, IngestBusyError):
        return Exit.BUSY
    if isinstance(exc, CatalogError | IndexMismatchError | StoreUnavailableError):
        return Exit.INDEX
    return _model_error_code(exc)


def _model_error_code(exc: BaseException) -> int | None:
    try:
        from assistant.llm import (
            ModelBusyError,
            ModelError,
            ModelMissingError,
            ModelTimeoutError,
            ModelUnreachableError,
        )
    except ImportError:
        return None
    table: list[tuple[type[BaseException], int]] = [
        (ModelUnreachableError, Exit.MODEL_UNREACHABLE),
        (ModelMissingError, Exit.MODEL_MISSING),
        (ModelTimeoutError, Exit.MODEL_TIMEOUT),
        (ModelBusyError, Exit.BUSY),
        (ModelError, Exit.MODEL_FAILED),
    ]
    return next((code for kind, code in table if isinstance(exc, kind)), None)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn the assistant's known errors into one line on stderr and a distinct exit code."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        code = _error_code(exc)
        if code is None:
            raise
        fail(str(exc), code)


def _services(settings: Settings) -> Any:
    from assistant.services import build_services

    return build_services(settings)


def run(config: Path | None, action: Callable[[Any], T]) -> T:
    """Build the services and run ``action`` with friendly errors."""
    settings = _settings(config)
    with friendly_errors():
        return action(_services(settings))


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Folders or files (default: the configured corpus).")
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and build it again.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    config: ConfigOption = None,
) -> None:
    """Index (sync) documents: new and changed files are indexed, deleted ones removed."""
    from assistant.ui_text import ingest_progress, print_ingest_report

    for path in paths or []:
        if not path.exists():
            fail(f"no such file or folder: {path}", Exit.USAGE)

    def action(services: Any) -> Any:
        with ingest_progress(enabled=not quiet and sys.stderr.isatty()) as progress:
            return services.ingest(paths or None, progress=progress, rebuild=rebuild)

    report = run(config, action)
    print_ingest_report(report, quiet=quiet)
    if report.failed:
        raise typer.Exit(Exit.SOME_FILES_FAILED)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question.")],
    k: Annotated[int | None, typer.Option("-k", help="Number of passages.")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="hybrid, dense or bm25.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show the passages that best match a question."""
    from assistant.ui_text import print_search_result

    if mode not in (None, "hybrid", "dense", "bm25"):
        fail(f"unknown mode {mode!r} (use hybrid, dense or bm25)", Exit.USAGE)
    result = run(config, lambda services: services.search(query, k=k, mode=mode))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        print_search_result(result)


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question ('-' or nothing: read it from stdin).")] = None,
    k: Annotated[int | None, typer.Option("-k", help="Number of passages to retrieve.")] = None,
    backend: Annotated[str | None, typer.Option("--backend", help="auto, ollama or embedded.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Ollama model name, or a GGUF path.")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="auto, generative or extractive.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Remove sentences no passage supports.")] = False,
    pull: Annotated[bool, typer.Option("--pull", help="Pull the Ollama model first if it is missing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON (no streaming).")] = False,
    config: ConfigOption = None,
) -> None:
    """Answer a question from the documents, with verified citations."""
    from assistant.ui_text import AnswerPrinter

    text = question if question not in (None, "-") else sys.stdin.read()
    if not text or not text.strip():
        fail("no question given (pass it as an argument or on stdin)", Exit.USAGE)
    printer = AnswerPrinter(stream=not as_json)

    def action(services: Any) -> Any:
        if pull:
            _pull_model(services, model)
        events = services.answerer.stream(text, k=k, mode=mode, backend=backend, model=model, strict=strict or None)
        return printer.consume(events)

    answer = run(config, action)
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))


def _pull_model(services: Any, model: str | None) -> None:
    from assistant.llm import OllamaServer
    from assistant.ui_text import pull_progress

    settings = services.settings
    server = OllamaServer(settings.ollama)
    wanted = model or settings.ollama.model
    if not server.has_model(wanted):
        with pull_progress(wanted) as progress:
            server.pull(wanted, progress)


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check Ollama, the embedded model, the index and the settings in use."""
    from assistant.doctor import run_checks
    from assistant.ui_text import print_checks

    settings = _settings(config)
    checks = run_checks(_services(settings))
    print_checks(checks)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(Exit.INDEX)


@app.command()
def ui(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 7860).")] = None,
    share: Annotated[bool, typer.Option("--share", help="Public Gradio link (needs a login).")] = False,
    config: ConfigOption = None,
) -> None:
    """Serve the web UI (http://127.0.0.1:7860 by default)."""
    from assistant.ui import launch

    settings = _settings(config)
    try:
        with friendly_errors():
            launch(_services(settings), host=host, port=port, share=share or None)
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)


def _register_commands() -> None:
    from assistant.bench import register as register_bench
    from assistant.cli_eval import register as register_eval

    register_eval(app)
    register_bench(app)


_register_commands()


def main() -> None:
    """Entry point of the ``assistant`` console script."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    app()
