"""The ``assistant`` command: a thin shell over :mod:`assistant.services`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.cli.common import ConfigOption, Exit, fail, friendly_errors, run, services_for, settings_or_exit
from assistant.errors import ConfigError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Ask questions about your documents, with citations."
)

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
    from assistant.cli.terminal import ingest_progress, print_ingest_report

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
    from assistant.cli.terminal import print_search_result

    if mode not in (None, "hybrid", "dense", "bm25"):
        fail(f"unknown mode {mode!r} (use hybrid, dense or bm25)", Exit.USAGE)
    result = run(config, lambda services: services.search(query, k=k, mode=mode))  # type: ignore[arg-type]
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
    from assistant.cli.terminal import AnswerPrinter

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
    from assistant.answer.generate import OllamaServer
    from assistant.cli.terminal import pull_progress

    settings = services.settings
    server = OllamaServer(settings.ollama)
    wanted = model or settings.ollama.model
    if not server.has_model(wanted):
        with pull_progress(wanted) as progress:
            server.pull(wanted, progress)


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check Ollama, the embedded model, the index and the settings in use."""
    from assistant.cli.terminal import print_checks
    from assistant.doctor import run_checks

    settings = settings_or_exit(config)
    checks = run_checks(services_for(settings))
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
    from assistant.web.app import launch

    settings = settings_or_exit(config)
    try:
        with friendly_errors():
            launch(services_for(settings), host=host, port=port, share=share or None)
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)


def _register_commands() -> None:
    from assistant.bench.core import register as register_bench
    from assistant.cli.evaluate import register as register_eval

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
