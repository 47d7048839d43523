"""The ``assistant bench`` command: options, one-line errors, the report on stdout and in ``--out``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assistant.bench.defaults import DEFAULT_REAL_CHUNKS, DEFAULT_SAMPLE_CHUNKS, DEFAULT_SIZES, STARTUP_RUNS
from assistant.cli.common import ConfigOption

if TYPE_CHECKING:
    from assistant.config import Settings


def parse_sizes(text: str) -> list[int]:
    """``"1000,10k,100k"`` -> ``[1000, 10000, 100000]``."""
    sizes = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        scale = 1000 if part.lower().endswith("k") else 1
        number = int(part[:-1] if scale > 1 else part) * scale
        if number < 1:
            raise ValueError(f"a corpus size must be positive, not {part!r}")
        sizes.append(number)
    if not sizes:
        raise ValueError("no corpus size given")
    return sizes


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to ``app``."""
    app.command("bench")(bench_command)


def bench_command(
    sizes: Annotated[
        str, typer.Option("--sizes", help="Corpus sizes in chunks, comma-separated (10k = 10000).")
    ] = ",".join(map(str, DEFAULT_SIZES)),
    out: Annotated[Path, typer.Option("--out", help="Folder for bench.md, bench.json and latency.png.")] = Path(
        "reports/bench"
    ),
    real_chunks: Annotated[
        int, typer.Option("--real-chunks", min=1, help="Chunks embedded for real; beyond them, synthetic vectors.")
    ] = DEFAULT_REAL_CHUNKS,
    sample_chunks: Annotated[
        int, typer.Option("--sample-chunks", min=1, help="Chunks embedded cold to compare throughputs.")
    ] = DEFAULT_SAMPLE_CHUNKS,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Passes over the questions per size.")] = 3,
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Runs of each throughput pipeline (interleaved).")
    ] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the corpus generator.")] = 7,
    ask: Annotated[bool, typer.Option("--ask/--no-ask", help="Time `ask` with the embedded model.")] = True,
    llama_index: Annotated[
        bool, typer.Option("--llama-index/--no-llama-index", help="Compare with a plain llama-index index.")
    ] = True,
    profile: Annotated[bool, typer.Option("--profile", help="cProfile ingest and queries into --out.")] = False,
    work_dir: Annotated[
        Path | None, typer.Option("--work-dir", help="Corpora and indexes (default: <data_dir>/bench).")
    ] = None,
    corpus: Annotated[Path, typer.Option("--corpus", help="The shipped articles the corpora start from.")] = Path(
        "corpus"
    ),
    startup_runs: Annotated[
        int,
        typer.Option(
            "--startup-runs", min=0, help="Runs of each start-up command per size (median; 0: no start-up timings)."
        ),
    ] = STARTUP_RUNS,
    server_catalog: Annotated[
        str | None,
        typer.Option(
            "--server-catalog",
            help="The server mode instead: the SQLite and this PostgreSQL catalog side by side on the configured "
            "Chroma server (corpus: the first of --sizes).",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Measure ingest, re-ingest, retrieval latency, ask, start-up and memory on scaled corpora; write a report."""
    from assistant.bench.report import render_markdown, write_reports
    from assistant.bench.results import BenchError
    from assistant.bench.run import BenchOptions, run_bench
    from assistant.cli.common import Exit, fail, friendly_errors, settings_or_exit

    settings = settings_or_exit(config)
    try:
        size_list = parse_sizes(sizes)
    except ValueError as exc:
        fail(f"--sizes: {exc}", Exit.USAGE)
    if not corpus.is_dir():
        fail(f"no such folder: {corpus} (the shipped articles; pass --corpus)", Exit.USAGE)
    if server_catalog is not None:
        server_bench(settings, server_catalog, corpus, work_dir, size_list[0], rounds, seed, out)
        return
    options = BenchOptions(
        sizes=size_list,
        out_dir=out,
        work_dir=work_dir,
        corpus_dir=corpus,
        real_chunks=real_chunks,
        sample_chunks=sample_chunks,
        seed=seed,
        rounds=rounds,
        repeats=repeats,
        ask_modes=("extractive", "generative") if ask else (),
        llama_index=llama_index,
        profile=profile,
        startup_runs=startup_runs,
    )
    with friendly_errors():
        try:
            result = run_bench(settings, options, log=lambda line: typer.echo(line, err=True))
        except BenchError as exc:
            fail(str(exc), Exit.SOME_FILES_FAILED)
    paths = write_reports(result, out)
    typer.echo(render_markdown(result))
    typer.echo(f"wrote {paths.markdown}, {paths.json}, {paths.chart}")


def server_bench(
    settings: Settings, url: str, corpus: Path, work_dir: Path | None, chunks: int, rounds: int, seed: int, out: Path
) -> None:
    """The server mode's bench (:mod:`assistant.bench.server`): report on stdout and in ``out``."""
    from assistant.bench.results import BenchError
    from assistant.bench.server import render_server_markdown, run_server_bench, write_server_reports
    from assistant.cli.common import Exit, fail, friendly_errors

    if settings.chroma.mode != "http":
        fail(
            "--server-catalog needs a Chroma server: set ASSISTANT_CHROMA__MODE=http (and its host and port)",
            Exit.USAGE,
        )
    with friendly_errors():
        try:
            result = run_server_bench(
                settings,
                url,
                corpus,
                work_dir or settings.data_dir / "bench",
                chunks,
                rounds,
                seed,
                log=lambda line: typer.echo(line, err=True),
            )
        except BenchError as exc:
            fail(str(exc), Exit.SOME_FILES_FAILED)
    paths = write_server_reports(result, out)
    typer.echo(render_server_markdown(result))
    typer.echo(f"wrote {paths[0]}, {paths[1]}")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m assistant.bench.command``: the bench command, or one worker phase (``_worker KIND ARGS OUT``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["_worker"]:
        from assistant.bench.workers import run_worker

        run_worker(args[1], Path(args[2]), Path(args[3]))
        return
    app = typer.Typer(add_completion=False)
    register(app)
    app(args)


if __name__ == "__main__":
    main()
