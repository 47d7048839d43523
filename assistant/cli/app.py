"""The ``assistant`` command: a thin shell over :mod:`assistant.services`.

Importing this module is cheap (typer and :mod:`assistant.cli.common`): each command imports what
it uses when it runs, and the tools' commands (``eval``, ``bench``) are imported only when called
(:mod:`assistant.cli.group`). Every command also takes ``--data-dir`` and ``--verbose``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.cli.common import (
    ConfigOption,
    Exit,
    check_choice,
    check_k,
    fail,
    friendly_errors,
    require_documents,
    run,
    services_for,
    setting_choices,
    settings_or_exit,
)
from assistant.cli.group import AssistantGroup
from assistant.cli.scoping import DocOption, InOption, LangOption, scope_of

app = typer.Typer(
    cls=AssistantGroup,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
    help="Ask questions about your documents, with citations.",
)

KOption = Annotated[
    int | None,
    typer.Option("-k", help="Number of passages, 1 to 100 (default: retrieval.top_k).", show_default=False),
]


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Folders or files (default: the configured corpus).")
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and build it again.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Then watch the folders and sync again when files change (Ctrl-C stops).")
    ] = False,
    debounce: Annotated[
        float, typer.Option("--debounce", help="With --watch: seconds of quiet before a sync.", show_default=True)
    ] = 1.0,
    config: ConfigOption = None,
) -> None:
    """Index (sync) documents: new and changed files are indexed, deleted ones removed (--watch: and keep doing it)."""
    from assistant.cli.terminal import ingest_progress, print_ingest_report, shown_name

    for path in paths or []:
        if not path.exists():
            fail(f"no such file or folder: {shown_name(str(path))}", Exit.USAGE)

    settings = settings_or_exit(config)
    if watch:
        from assistant.cli.watching import ingest_and_watch

        ingest_and_watch(settings, list(paths or []), rebuild, quiet, debounce)
        return
    with friendly_errors():
        services = services_for(settings, need_index=False)
        with ingest_progress(enabled=not quiet and sys.stderr.isatty()) as progress:
            report = services.ingest(paths or None, progress=progress, rebuild=rebuild)
    print_ingest_report(report, quiet=quiet)
    if not quiet:
        typer.echo(f"index: {shown_name(str(settings.data_dir))} ({settings.data_location.reason})")
    if report.failed:
        raise typer.Exit(Exit.SOME_FILES_FAILED)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question.")],
    k: KOption = None,
    mode: Annotated[str | None, typer.Option("--mode", help="hybrid, dense or bm25.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    within: InOption = None,
    doc: DocOption = None,
    lang: LangOption = None,
    config: ConfigOption = None,
) -> None:
    """Show the passages that best match a question (only from the --in/--doc/--lang scope when given)."""
    from assistant.cli.terminal import print_search_result

    check_k(k)
    check_choice("--mode", mode, setting_choices("retrieval", "mode"))
    if not query.strip():
        fail("the query is empty", Exit.USAGE)
    scope = scope_of(within, doc, lang)
    result = run(config, lambda services: services.search(query, k=k, mode=mode, scope=scope))  # type: ignore[arg-type]
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        print_search_result(result)


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question ('-' or nothing: read it from stdin).")] = None,
    k: KOption = None,
    backend: Annotated[
        str | None, typer.Option("--backend", help="auto, ollama or embedded.", show_default=False)
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Ollama model name, or a GGUF path.")] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="auto, generative or extractive.", show_default=False)
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Remove sentences no passage supports.")] = False,
    pull: Annotated[bool, typer.Option("--pull", help="Pull the Ollama model first if it is missing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON (no streaming).")] = False,
    within: InOption = None,
    doc: DocOption = None,
    lang: LangOption = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Also write the answer to FILE: Markdown with footnotes (.md) or a JSON evidence bundle (.json).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Answer a question from the documents, with verified citations."""
    from assistant.cli.answering import AnswerPrinter

    check_k(k)
    check_choice("--backend", backend, setting_choices("llm", "backend"))
    check_choice("--mode", mode, setting_choices("answer", "mode"))
    text = question if question not in (None, "-") else sys.stdin.read().strip()
    if not text or not text.strip():
        fail("no question given (pass it as an argument or on stdin)", Exit.USAGE)
    scope = scope_of(within, doc, lang)
    if export is not None:
        _check_export(export)

    def action(services: Any) -> Any:
        events = services.stream(
            text, k=k, mode=mode, backend=backend, model=model, strict=strict or None, scope=scope
        )
        if pull:
            _pull_model(services, model)
        answer = AnswerPrinter(stream=not as_json).consume(events)
        if export is not None:
            asked = {"k": k, "mode": mode, "backend": backend, "model": model, "strict": strict or None}
            _export(services, export, text, answer, {**asked, "scope": scope.model_dump() if scope else None})
        return answer

    answer = run(config, action)
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))


def _check_export(path: Path) -> None:
    """Exit 2 with one line unless ``path`` names an export format and its folder exists."""
    from assistant.conversations.export import export_format
    from assistant.errors import UsageError

    try:
        export_format(path)
    except UsageError as exc:
        fail(str(exc), Exit.USAGE)
    if not path.absolute().parent.is_dir():
        fail(f"cannot export to {path}: no such folder {path.absolute().parent}", Exit.USAGE)


def _export(services: Any, path: Path, question: str, answer: Any, options: dict[str, Any]) -> None:
    from assistant.conversations.store import StoredTurn, now

    asked = {key: value for key, value in options.items() if value is not None}
    turn = StoredTurn(number=1, question=question, answer=answer, options=asked, created=now())
    services.export(path, [turn])
    typer.echo(f"exported to {path}", err=True)


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
    """Check the data directory, Ollama, the embedded model, the index and the settings in use."""
    from assistant.cli.terminal import print_checks
    from assistant.doctor import run_checks

    settings = settings_or_exit(config)
    with friendly_errors():
        checks = run_checks(services_for(settings, need_index=False))
    print_checks(checks)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(Exit.INDEX)


@app.command()
def ui(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port, 1 to 65535 (default 7860).")] = None,
    share: Annotated[bool, typer.Option("--share", help="Public Gradio link (needs a login).")] = False,
    config: ConfigOption = None,
) -> None:
    """Serve the web UI (http://127.0.0.1:7860 by default)."""
    settings = settings_or_exit(config)
    _check_port(host or settings.ui.host, settings.ui.port if port is None else port)
    with friendly_errors():
        services = services_for(settings)
        require_documents(services)
        from assistant.web.app import launch

        launch(services, host=host, port=port, share=share or None)


def _check_port(host: str, port: int) -> None:
    """Exit 2 with one line unless ``port`` is valid and free on ``host`` (as the server would bind it)."""
    import socket

    if not 1 <= port <= 65535:
        fail(f"--port must be between 1 and 65535, not {port}", Exit.USAGE)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", Exit.USAGE)


def main() -> None:
    """Entry point of the ``assistant`` console script."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    app()
