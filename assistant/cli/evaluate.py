"""The ``assistant eval`` command: a thin shell over :mod:`assistant.evaluation` and the services."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from assistant.cli.common import ConfigOption

if TYPE_CHECKING:
    from assistant.evaluation.result import EvalResult
    from assistant.evaluation.run import Progress
    from assistant.services import Services

HALVES = ("all", "tune", "report")


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to ``app``."""
    app.command("eval")(eval_command)


def _threshold(flag: str, what: str) -> Any:
    return typer.Option(flag, help=f"{what} (default: from the settings).", show_default=False)


def eval_command(
    questions: Annotated[
        Path | None, typer.Option("--questions", help="JSON Lines question set (default: settings eval.questions).")
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            help="Grade on this folder: it is indexed (synced) in <data_dir>/eval/<hash> of its own "
            "(default: the configured index).",
        ),
    ] = None,
    half: Annotated[str, typer.Option("--half", help="tune, report or all: the questions of one half.")] = "all",
    retrieval_only: Annotated[
        bool, typer.Option("--retrieval-only", help="Grade retrieval only: no model, takes seconds.")
    ] = False,
    backend: Annotated[str | None, typer.Option("--backend", help="auto, ollama or embedded.")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="auto, generative or extractive.")] = None,
    k: Annotated[int | None, typer.Option("-k", help="Passages retrieved per question.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default: settings eval.output_dir).")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="An earlier results.json to compare with.")
    ] = None,
    min_hit5: Annotated[float | None, _threshold("--min-hit5", "Minimum hit@5")] = None,
    min_mrr: Annotated[float | None, _threshold("--min-mrr", "Minimum MRR@10")] = None,
    min_marker_validity: Annotated[float | None, _threshold("--min-marker-validity", "Minimum marker validity")] = None,
    min_citation_support: Annotated[
        float | None, _threshold("--min-citation-support", "Minimum citation support")
    ] = None,
    min_correct_refusals: Annotated[
        float | None, _threshold("--min-correct-refusals", "Minimum share of correct refusals")
    ] = None,
    max_false_refusals: Annotated[
        float | None, _threshold("--max-false-refusals", "Maximum share of false refusals")
    ] = None,
    min_fact_recall: Annotated[float | None, _threshold("--min-fact-recall", "Minimum fact recall")] = None,
    gate_language: Annotated[
        list[str] | None,
        typer.Option("--gate-language", help="Also gate this question language's own figures (repeatable)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Grade retrieval, answers, citations and refusals on a question set; exit 9 when a gate is crossed."""
    from assistant.cli.common import (
        Exit,
        check_choice,
        check_k,
        fail,
        friendly_errors,
        require_documents,
        services_for,
        setting_choices,
        settings_or_exit,
    )
    from assistant.errors import BaselineError, QuestionSetError
    from assistant.evaluation.corpus import corpus_settings
    from assistant.evaluation.gates import load_baseline
    from assistant.evaluation.questions import load_questions
    from assistant.evaluation.run import HalfChoice, run_eval, select

    settings = settings_or_exit(config)
    check_choice("--backend", backend, setting_choices("llm", "backend"))
    check_choice("--mode", mode, setting_choices("answer", "mode"))
    check_choice("--half", half, HALVES)
    check_k(k)
    if corpus is not None and not corpus.is_dir():
        fail(f"--corpus: not a folder: {corpus}", Exit.USAGE)
    overrides = {
        "min_hit5": min_hit5, "min_mrr": min_mrr, "min_marker_validity": min_marker_validity,
        "min_citation_support": min_citation_support, "min_correct_refusals": min_correct_refusals,
        "max_false_refusals": max_false_refusals, "min_fact_recall": min_fact_recall,
    }  # fmt: skip
    thresholds = settings.eval.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    questions_file = questions or settings.eval.questions
    try:
        items = load_questions(questions_file)
        if baseline is not None:
            load_baseline(baseline)
    except (QuestionSetError, BaselineError) as exc:
        fail(str(exc), Exit.USAGE)
    if not select(items, cast(HalfChoice, half)):
        fail(f"no question of {questions_file} is in the {half} half", Exit.USAGE)
    with friendly_errors():
        if corpus is None:
            services = services_for(settings)
        else:
            services = services_for(corpus_settings(settings, corpus), need_index=False)
            _index_corpus(services, corpus)
        require_documents(services)
        with eval_progress(enabled=sys.stderr.isatty()) as progress:
            result = run_eval(
                services, items, half=cast(HalfChoice, half), corpus=corpus.resolve() if corpus else None,
                retrieval_only=retrieval_only, k=k, mode=mode, backend=backend, progress=progress,
            )  # fmt: skip
    result.questions_file = str(questions_file)
    _report(result, out or settings.eval.output_dir, baseline, thresholds, gate_language or [])


def _index_corpus(services: Services, corpus: Path) -> None:
    """Sync the eval index with ``corpus`` (only changes are embedded) and say what it did, on stderr."""
    from assistant.cli.terminal import ingest_progress

    with ingest_progress(enabled=sys.stderr.isatty()) as progress:
        report = services.ingest([corpus], progress=progress)
    for failed in report.failed:
        typer.echo(f"warning: skipped {failed.path}: {failed.reason}", err=True)
    typer.echo(
        f"eval index of {corpus} in {services.settings.data_dir}: added {len(report.added)}, "
        f"updated {len(report.updated)}, unchanged {len(report.unchanged)}, removed {len(report.removed)}; "
        f"{report.chunks_embedded} passages embedded",
        err=True,
    )


def _report(result: EvalResult, out_dir: Path, baseline: Path | None, thresholds: Any, languages: list[str]) -> None:
    """Write the files, print the summary and the differences, and exit 9 naming each crossed gate."""
    from assistant.cli.common import Exit
    from assistant.evaluation.gates import check_thresholds, compare
    from assistant.evaluation.report import render_summary, write_reports

    if result.missing_sources:
        typer.echo(f"warning: gold sources not in the index: {', '.join(result.missing_sources)}", err=True)
    answers = result.overall.answers
    if answers is not None and answers.errors:
        typer.echo(f"warning: {answers.errors} answer(s) failed with a model error (see the report)", err=True)
    failures = [f"threshold: {failure}" for failure in check_thresholds(result, thresholds, languages)]
    differences: list[str] = []
    if baseline is not None:  # read before the reports are written: the baseline may be the same file
        differences, regressions = compare(result, baseline, thresholds.tolerance)
        failures += [f"regression: {regression}" for regression in regressions]
    files = write_reports(result, out_dir)
    typer.echo(render_summary(result))
    written = [*files.paths, *([files.curve] if files.curve else [])]
    typer.echo("wrote " + ", ".join(str(path) for path in written))
    if baseline is not None:
        typer.echo(f"\nAgainst {baseline}:")
        typer.echo("\n".join(f"  {line}" for line in differences) or "  no differences")
    for failure in failures:
        typer.echo(failure, err=True)
    if failures:
        raise typer.Exit(Exit.THRESHOLD)


@contextmanager
def eval_progress(enabled: bool) -> Iterator[Progress | None]:
    """A progress bar of the questions graded, on stderr (or nothing when disabled)."""
    if not enabled:
        yield None
        return
    from rich import progress as rich
    from rich.console import Console

    columns = (
        rich.TextColumn("[bold]evaluating"),
        rich.BarColumn(),
        rich.MofNCompleteColumn(),
        rich.TextColumn("{task.fields[label]}"),
        rich.TimeElapsedColumn(),
    )
    with rich.Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("eval", total=None, label="")

        def update(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, label=label)

        yield update
