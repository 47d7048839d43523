"""The Markdown report, the JSON results and the charts of a run (nothing here prints)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from assistant.evaluation.charts import write_chart, write_curve
from assistant.evaluation.curve import CurvePoint, StrictnessCurve
from assistant.evaluation.figures import AnswerFigures, Figures
from assistant.evaluation.grading import AnswerRecord, QuestionRecord
from assistant.evaluation.result import EvalResult
from assistant.reports import ReportPaths, markdown_table, number

CURVE_FILE = "strictness.png"
CURVE_ROWS = 9
"""Points of the strictness curve shown in the Markdown report (all of them are in the JSON)."""


class EvalReportFiles(NamedTuple):
    """The files :func:`write_reports` wrote: the report, JSON and chart, and the strictness curve (if any)."""

    paths: ReportPaths
    curve: Path | None


def write_reports(result: EvalResult, out_dir: Path | str) -> EvalReportFiles:
    """Write ``report.md``, ``results.json``, ``chart.png`` and (when confidences were recorded)
    ``strictness.png`` into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out / "report.md", out / "results.json", out / "chart.png")
    paths.markdown.write_text(render_report(result), encoding="utf-8")
    paths.json.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    write_chart(result, paths.chart)
    curve = out / CURVE_FILE
    if result.strictness is not None and result.strictness.points:
        write_curve(result.strictness, curve)
        return EvalReportFiles(paths, curve)
    curve.unlink(missing_ok=True)  # an old curve would not belong to this run
    return EvalReportFiles(paths, None)


def _ms(value: float | None) -> str:
    return number(value, 0)


def render_summary(result: EvalResult) -> str:
    """The Markdown summary: the run, retrieval per mode, answers, per language and per language pair."""
    lines = ["# Evaluation report", "", _run_line(result), ""]
    lines += ["## Retrieval (answerable questions)", "", *_retrieval_table(result), ""]
    if result.overall.answers is not None:
        lines += ["## Answers", "", *_answer_table(result.overall.answers), ""]
    lines += ["## Per question language", "", *_group_table(result, result.by_language, "lang"), ""]
    if result.by_pair:
        lines += ["## Per question language / document language", "", *_group_table(result, result.by_pair, "pair"), ""]
    if result.strictness is not None:
        lines += ["## Strictness trade-off", "", *_curve_lines(result.strictness), ""]
    failed = sum(1 for r in result.records if r.problems)
    lines.append(f"{failed} of {len(result.records)} questions failed.")
    return "\n".join(lines) + "\n"


def render_report(result: EvalResult) -> str:
    """The whole Markdown report: the summary, the refusal mistakes, then each failed question."""
    lines = [render_summary(result)]
    if not result.retrieval_only:
        false_refusals = [r for r in result.records if r.answerable and r.answer and r.answer.refused]
        answered = [r for r in result.records if not r.answerable and r.answer and not r.answer.refused]
        lines += [f"## False refusals ({len(false_refusals)} answerable questions refused)", ""]
        lines += [*_question_list(false_refusals), ""]
        lines += [f"## Answered unanswerable questions ({len(answered)})", ""]
        lines += [*_question_list(answered), ""]
    failed = [r for r in result.records if r.problems]
    if failed:
        lines += ["## Failed questions", ""]
        for record in failed:
            lines += _failed_question(record, result.retrieval_mode)
    return "\n".join(lines)


def _run_line(result: EvalResult) -> str:
    overall = result.overall
    languages = ", ".join(f"{lang} {f.questions}" for lang, f in result.by_language.items())
    chosen = "all questions"
    if result.half != "all":
        chosen = f"{result.half} half: {overall.questions} of {result.set_questions}"
    parts = [
        f"{result.questions_file or 'question set'} ({chosen}): {overall.questions} questions ({languages}), "
        f"{overall.answerable} answerable",
        f"corpus {result.corpus}" if result.corpus else f"index in {result.data_dir or 'the data directory'}",
        f"{result.retrieval_depth} passages per search" + (f" (-k {result.k})" if result.k else ""),
        "retrieval only" if result.retrieval_only else "answers by " + (", ".join(result.answered_by) or "no model"),
        f"{result.seconds:.1f} s, {result.created_at}",
    ]
    return " · ".join(parts)


def _retrieval_table(result: EvalResult) -> list[str]:
    modes = list(result.overall.retrieval)
    ranked = result.overall.retrieval
    rows = [
        [label, *(number(getattr(ranked[m], key)) for m in modes)]
        for label, key in [
            ("hit@1", "hit_at_1"), ("hit@3", "hit_at_3"), ("hit@5", "hit_at_5"), ("hit@10", "hit_at_10"),
            ("MRR@10", "mrr_at_10"), ("nDCG@10", "ndcg_at_10"),
            ("passage hit@1", "passage_hit_at_1"), ("passage hit@5", "passage_hit_at_5"),
        ]
    ]  # fmt: skip
    rows.append(["latency p50 (ms)", *(_ms(ranked[m].latency_p50_ms) for m in modes)])
    rows.append(["latency p95 (ms)", *(_ms(ranked[m].latency_p95_ms) for m in modes)])
    note = (
        "Document level: a gold document among the first n. Passage level: a passage of a gold document "
        "containing a fact span (case and accents folded) among the first n passages."
    )
    return [note, "", *markdown_table(["metric", *modes], rows)]


def _answer_table(answers: AnswerFigures) -> list[str]:
    rows = [
        ["fact recall", number(answers.fact_recall)],
        ["exact correctness", number(answers.exact_correct)],
        ["answer language match", number(answers.language_match)],
        [f"marker validity ({answers.markers} markers)", number(answers.marker_validity)],
        ["sentences with a citation", number(answers.cited_sentence_share)],
        [f"citation support ({answers.citations} citations)", number(answers.citation_support)],
        ["cited-source precision", number(answers.source_precision)],
        ["cited-source recall", number(answers.source_recall)],
        [f"refusal precision ({answers.refusals} refusals)", number(answers.refusal_precision)],
        [f"refusal recall = correct refusals ({answers.unanswerable} unanswerable)", number(answers.refusal_recall)],
        [f"false refusals ({answers.answerable} answerable)", number(answers.false_refusals)],
        ["model errors", str(answers.errors)],
        ["retrieval p50 / p95 (ms)", f"{_ms(answers.retrieval_p50_ms)} / {_ms(answers.retrieval_p95_ms)}"],
        [
            "first token p50 / p95 (ms, answers with text)",
            f"{_ms(answers.first_token_p50_ms)} / {_ms(answers.first_token_p95_ms)}",
        ],
        ["total p50 / p95 (ms)", f"{_ms(answers.total_p50_ms)} / {_ms(answers.total_p95_ms)}"],
    ]
    return markdown_table(["metric", "value"], rows)


def _group_table(result: EvalResult, groups: dict[str, Figures], name: str) -> list[str]:
    mode = result.retrieval_mode
    header = [name, "questions", "answerable", f"hit@5 ({mode})", f"MRR@10 ({mode})", "passage hit@5"]
    if not result.retrieval_only:
        header += ["fact recall", "correct", "language", "citation support",
                   "refusal precision", "refusal recall", "false refusals"]  # fmt: skip
    rows = []
    for label, group in [*groups.items(), ("all", result.overall)]:
        ranked = group.retrieval[mode]
        row = [label, str(group.questions), str(group.answerable), number(ranked.hit_at_5),
               number(ranked.mrr_at_10), number(ranked.passage_hit_at_5)]  # fmt: skip
        if group.answers is not None:
            a = group.answers
            row += [number(value) for value in (a.fact_recall, a.exact_correct, a.language_match, a.citation_support,
                                                a.refusal_precision, a.refusal_recall, a.false_refusals)]  # fmt: skip
        rows.append(row)
    return markdown_table(header, rows)


def _curve_lines(curve: StrictnessCurve) -> list[str]:
    if not curve.points:
        return [f"No answer recorded a confidence ({curve.skipped} skipped): no curve."]
    intro = (
        f"Refusing below each threshold, replayed from the confidences of {curve.samples} answers "
        f"({curve.skipped} without one, skipped); the run's threshold is marked. All points are in "
        f"results.json and drawn in {CURVE_FILE}."
    )
    rows = [
        [number(p.threshold) + (" (run)" if p.threshold == curve.operating_threshold else ""),
         number(p.false_refusal_rate), number(p.correct_refusal_rate), number(p.fact_recall_answered),
         str(p.answered), str(p.answered_known)]
        for p in shown_points(curve.points, curve.operating_threshold)
    ]  # fmt: skip
    header = ["threshold", "false refusals", "correct refusals", "fact recall (answered, known)", "answered", "known"]
    return [intro, "", *markdown_table(header, rows)]


def shown_points(points: Sequence[CurvePoint], operating: float | None, rows: int = CURVE_ROWS) -> list[CurvePoint]:
    """About ``rows`` points spread evenly along the curve, the run's own point always among them."""
    if len(points) <= rows:
        return list(points)
    step = (len(points) - 1) / (rows - 1)
    chosen = {round(i * step) for i in range(rows)}
    chosen |= {i for i, p in enumerate(points) if p.threshold == operating}
    return [points[i] for i in sorted(chosen)]


def _question_list(records: Sequence[QuestionRecord]) -> list[str]:
    return [f"- `{r.id}` ({r.lang}): {_inline(r.question)}" for r in records] or ["None."]


def _failed_question(record: QuestionRecord, retrieval_mode: str) -> list[str]:
    kind = "answerable" if record.answerable else "unanswerable"
    lines = [f"### {record.id} ({record.lang}, {kind})", "", f"- **Question:** {_inline(record.question)}"]
    expected = _inline(record.expected) or ("—" if record.answerable else "a refusal")
    if record.answerable:
        facts = "; ".join(" / ".join(group) for group in record.facts)
        expected += f" — facts: {facts} — sources: {', '.join(record.sources)} ({record.doc_lang})"
    lines.append(f"- **Expected:** {expected}")
    ranked = record.retrieval.get(retrieval_mode)
    if ranked is not None:
        lines.append(f"- **Retrieved ({retrieval_mode}):** {', '.join(ranked.documents) or 'nothing'}")
    if record.answer is not None:
        lines.append(f"- **Got:** {_got(record.answer)}")
    lines += [f"- **Problems:** {'; '.join(record.problems)}", ""]
    return lines


def _got(answer: AnswerRecord) -> str:
    if answer.error:
        return f"(model error) {_inline(answer.raw_text) or '—'}"
    got = ("(refused) " if answer.refused else "") + _inline(answer.text)
    if answer.cited_sources:
        got += f" — cited: {', '.join(answer.cited_sources)}"
    if answer.confidence is not None:
        got += f" — confidence {answer.confidence:.3f}"
    return got


def _inline(text: str, limit: int = 600) -> str:
    """One Markdown-safe line."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
