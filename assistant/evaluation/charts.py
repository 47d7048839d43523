"""The charts of a run, drawn with matplotlib's Agg canvas (no display, no global pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from assistant.evaluation.curve import StrictnessCurve
from assistant.evaluation.result import EvalResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def chart_series(result: EvalResult) -> dict[str, list[float | None]]:
    """The main metrics per group (each language, then "all"), as the bar chart draws them."""
    mode = result.retrieval_mode
    groups = [*result.by_language.values(), result.overall]
    series: dict[str, list[float | None]] = {
        f"hit@5 ({mode})": [g.retrieval[mode].hit_at_5 for g in groups],
        f"passage hit@5 ({mode})": [g.retrieval[mode].passage_hit_at_5 for g in groups],
    }
    if not result.retrieval_only:
        answers = [g.answers for g in groups]
        series["fact recall"] = [a.fact_recall if a else None for a in answers]
        series["language match"] = [a.language_match if a else None for a in answers]
        series["citation support"] = [a.citation_support if a else None for a in answers]
        series["refusal recall"] = [a.refusal_recall if a else None for a in answers]
        series["refusal precision"] = [a.refusal_precision if a else None for a in answers]
    else:
        series[f"MRR@10 ({mode})"] = [g.retrieval[mode].mrr_at_10 for g in groups]
        series["hit@5 (dense)"] = [g.retrieval["dense"].hit_at_5 for g in groups]
        series["hit@5 (bm25)"] = [g.retrieval["bm25"].hit_at_5 for g in groups]
    return series


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def write_chart(result: EvalResult, path: Path) -> None:
    """A grouped bar chart of the main metrics per question language, as a PNG."""
    labels = [*result.by_language, "all"]
    series = chart_series(result)
    figure = _figure(max(6.0, 1.8 * len(labels) + 2), 4.2)
    axes = figure.add_subplot()
    width = 0.8 / len(series)
    for offset, (name, values) in enumerate(series.items()):
        heights = [value if value is not None else 0.0 for value in values]
        positions = [i + (offset - (len(series) - 1) / 2) * width for i in range(len(labels))]
        axes.bar(positions, heights, width, label=name)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_ylim(0, 1.3)  # room above the bars for the legend
    axes.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.set_ylabel("share")
    axes.set_title(f"Evaluation by question language ({result.half} questions)")
    axes.legend(fontsize="small", loc="upper center", ncols=3, frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)


def write_curve(curve: StrictnessCurve, path: Path) -> None:
    """The strictness trade-off as a PNG: correct refusals against false refusals (left), and the
    three rates against the threshold (right), the run's threshold marked on both."""
    points = curve.points
    figure = _figure(10.0, 4.2)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    false_rates = [p.false_refusal_rate for p in points]
    correct_rates = [p.correct_refusal_rate for p in points]
    left.plot(_zeroed(false_rates), _zeroed(correct_rates), marker=".", label="refuse below a threshold")
    run = [p for p in points if p.threshold == curve.operating_threshold]
    if run:
        left.plot([run[0].false_refusal_rate or 0.0], [run[0].correct_refusal_rate or 0.0], "o", color="red",
                  label=f"this run ({run[0].threshold:.3f})")  # fmt: skip
    left.set_xlabel("false-refusal rate (answerable refused)")
    left.set_ylabel("correct-refusal rate (unanswerable refused)")
    left.set_xlim(-0.02, 1.02)
    left.set_ylim(-0.02, 1.02)
    left.grid(alpha=0.3)
    left.legend(fontsize="small", loc="lower right")
    thresholds = [p.threshold for p in points]
    right.step(thresholds, _zeroed(false_rates), where="post", label="false refusals")
    right.step(thresholds, _zeroed(correct_rates), where="post", label="correct refusals")
    known = [(p.threshold, p.fact_recall_answered) for p in points if p.fact_recall_answered is not None]
    if known:
        right.step([t for t, _ in known], [v for _, v in known], where="post", label="fact recall (answered, known)")
    if curve.operating_threshold is not None:
        right.axvline(curve.operating_threshold, color="red", linestyle="--", linewidth=1)
    right.set_xlabel("evidence threshold (refuse below)")
    right.set_ylim(-0.02, 1.02)
    right.grid(alpha=0.3)
    right.legend(fontsize="small", loc="center left")
    figure.suptitle(f"Strictness trade-off ({curve.samples} answers with a confidence)")
    figure.tight_layout()
    figure.savefig(path)


def _zeroed(values: list[float | None]) -> list[float]:
    return [value if value is not None else 0.0 for value in values]
