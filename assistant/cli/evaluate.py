"""The ``assistant eval`` command: a thin shell over :mod:`assistant.evaluation.core`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant.cli.common import ConfigOption

if TYPE_CHECKING:
    from assistant.evaluation.core import EvalResult, Progress

BACKENDS = ("auto", "ollama", "embedded")
ANSWER_MODES = ("auto", "generative", "extractive")


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to ``app``."""
    app.command("eval")(eval_command)


def _threshold(flag: str, what: str) -> Any:
    return typer.Option(flag, help=f"{what} (default: from the settings).", show_default=False)


def eval_command(
    questions: Annotated[
        Path | None, typer.Option("--questions", help="JSON Lines question set (default: settings eval.questions).")
    ] = None,
    retrieval_only: Annotated[
        bool, typer.Option("--retrieval-only", help="Grade retrieval only: no model, takes seconds.")
    ] = False,
    backend: Annotated[str | None, typer.Option("--backend", help="auto, ollama or embedded.")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="auto, generative or extractive.")] = None,
    k: Annotated[int | None, typer.Option("-k", min=1, help="Passages retrieved per question.")] = None,
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
    config: ConfigOption = None,
) -> None:
    """Grade retrieval, answers, citations and refusals on a question set; exit 9 when a gate is crossed."""
    from assistant.cli.common import Exit, fail, friendly_errors, services_for, settings_or_exit
    from assistant.evaluation import core as evaluation

    settings = settings_or_exit(config)
    _check_choice("backend", backend, BACKENDS)
    _check_choice("mode", mode, ANSWER_MODES)
    overrides = {
        "min_hit5": min_hit5, "min_mrr": min_mrr, "min_marker_validity": min_marker_validity,
        "min_citation_support": min_citation_support, "min_correct_refusals": min_correct_refusals,
        "max_false_refusals": max_false_refusals, "min_fact_recall": min_fact_recall,
    }  # fmt: skip
    thresholds = settings.eval.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    try:
        items = evaluation.load_questions(questions or settings.eval.questions)
        if baseline is not None:
            evaluation.load_baseline(baseline)
    except (evaluation.QuestionSetError, evaluation.BaselineError) as exc:
        fail(str(exc), Exit.USAGE)
    with friendly_errors():
        services = services_for(settings)
        _check_index(services)
        with eval_progress(enabled=sys.stderr.isatty()) as progress:
            result = evaluation.run_eval(
                services, items, retrieval_only=retrieval_only, k=k, mode=mode, backend=backend, progress=progress
            )
    result.questions_file = str(questions or settings.eval.questions)
    _report(result, out or settings.eval.output_dir, baseline, thresholds)


def _check_choice(option: str, value: str | None, choices: tuple[str, ...]) -> None:
    from assistant.cli.common import Exit, fail

    if value is not None and value not in choices:
        fail(f"unknown {option} {value!r} (use {', '.join(choices)})", Exit.USAGE)


def _check_index(services: Any) -> None:
    from assistant.cli.common import Exit, fail

    documents, _ = services.index.counts()
    if documents == 0:
        fail(f"the index in {services.settings.data_dir} is empty: run `assistant ingest` first", Exit.INDEX)


def _report(result: EvalResult, out_dir: Path, baseline: Path | None, thresholds: Any) -> None:
    """Write the files, print the summary and the differences, and exit 9 naming each crossed gate."""
    from assistant.cli.common import Exit
    from assistant.evaluation import core as evaluation

    if result.missing_sources:
        typer.echo(f"warning: gold sources not in the index: {', '.join(result.missing_sources)}", err=True)
    answers = result.overall.answers
    if answers is not None and answers.errors:
        typer.echo(f"warning: {answers.errors} answer(s) failed with a model error (see the report)", err=True)
    failures = [f"threshold: {failure}" for failure in evaluation.check_thresholds(result, thresholds)]
    differences: list[str] = []
    if baseline is not None:  # read before the reports are written: the baseline may be the same file
        differences, regressions = evaluation.compare(result, baseline, thresholds.tolerance)
        failures += [f"regression: {regression}" for regression in regressions]
    paths = evaluation.write_reports(result, out_dir)
    typer.echo(evaluation.render_summary(result))
    typer.echo(f"wrote {paths.markdown}, {paths.json}, {paths.chart}")
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
