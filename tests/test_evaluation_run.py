"""A whole evaluation run over a small double of the services' facade (answers made to order, with
confidences), the strictness curve, and the reports: Markdown, JSON and the two charts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.answer.compose import AnswerEvent
from assistant.config import load_settings
from assistant.errors import ModelTimeoutError
from assistant.evaluation.curve import CurveSample, curve_of, strictness_curve
from assistant.evaluation.questions import Question
from assistant.evaluation.report import render_report, shown_points, write_reports
from assistant.evaluation.run import run_eval, select, streamed_text
from assistant.evaluation.split import half_of
from assistant.models import Answer, AnswerSentence, DocumentInfo, Hit, SearchResult, Source, Timings

DOC = "Brad Lightcap is OpenAI's COO. He said Sora was launched too early."
QUOTE = "Brad Lightcap is OpenAI's COO."


def question(**changes: Any) -> Question:
    base = {"id": "q1", "question": "Who is OpenAI's COO?", "lang": "en", "answerable": True,
            "facts": [["Lightcap"]], "sources": ["a.txt"]}  # fmt: skip
    return Question.model_validate({**base, **changes})


# --- the strictness curve ------------------------------------------------------------------------


def test_the_curve_replays_refusing_below_each_threshold() -> None:
    samples = [
        CurveSample(answerable=True, confidence=0.9, refused=False, fact_recall=1.0),
        CurveSample(answerable=True, confidence=0.7, refused=False, fact_recall=0.0),
        CurveSample(answerable=True, confidence=0.5, refused=True, fact_recall=None),  # refused by the run
        CurveSample(answerable=False, confidence=0.8, refused=False, fact_recall=None),
        CurveSample(answerable=False, confidence=0.4, refused=True, fact_recall=None),
    ]
    points = strictness_curve(samples, operating=0.6)
    assert [p.threshold for p in points[:-1]] == [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert points[-1].threshold > 0.9
    by_threshold = {p.threshold: p for p in points}
    loosest, run, strict = by_threshold[0.4], by_threshold[0.6], points[-1]
    assert (loosest.false_refusal_rate, loosest.correct_refusal_rate, loosest.answered) == (0.0, 0.0, 5)
    assert loosest.fact_recall_answered == 0.5 and loosest.answered_known == 2  # 0.5's answer is unknown
    assert run.false_refusal_rate == pytest.approx(1 / 3) and run.correct_refusal_rate == 0.5  # the run itself
    assert by_threshold[0.8].false_refusal_rate == pytest.approx(2 / 3)
    assert by_threshold[0.8].fact_recall_answered == 1.0
    assert (strict.false_refusal_rate, strict.correct_refusal_rate, strict.answered) == (1.0, 1.0, 0)
    assert strict.fact_recall_answered is None
    refused = [p.false_refusal_rate or 0.0 for p in points]
    assert refused == sorted(refused)  # stricter never refuses less
    assert strictness_curve([], 0.6) == []


def test_a_refusal_for_another_reason_stays_refused_at_looser_thresholds() -> None:
    samples = [CurveSample(answerable=False, confidence=0.95, refused=True, fact_recall=None)]
    assert {p.correct_refusal_rate for p in strictness_curve(samples, operating=0.6)} == {1.0}
    assert {p.correct_refusal_rate for p in strictness_curve(samples, operating=None)} == {1.0}


def test_answers_without_a_confidence_are_skipped() -> None:
    from tests.test_evaluation import record

    records = [
        record(1, facts_stated=[True], confidence=0.8),
        record(1, facts_stated=[True]),  # unknown
        record(1, error="timed out", confidence=0.3),  # a failed answer has no decision to replay
        record(None, answerable=False, refused=True, confidence=float("nan")),
        record(1),  # not answered (retrieval only)
    ]
    curve = curve_of(records, operating=0.5)
    assert (curve.samples, curve.skipped, curve.operating_threshold) == (1, 3, 0.5)
    assert [p.threshold for p in curve.points][:2] == [0.5, 0.8]
    assert curve_of(records[1:2], operating=0.5).points == []


def test_the_report_shows_a_few_points_and_always_the_run() -> None:
    from assistant.evaluation.curve import CurvePoint

    points = [CurvePoint(threshold=t / 100, false_refusal_rate=0, correct_refusal_rate=0, fact_recall_answered=None,
                         answered=1, answered_known=0) for t in range(50)]  # fmt: skip
    shown = shown_points(points, operating=0.07, rows=5)
    assert [p.threshold for p in shown] == [0.0, 0.07, 0.12, 0.24, 0.37, 0.49]
    assert shown_points(points[:3], operating=None, rows=5) == points[:3]


# --- a whole run ---------------------------------------------------------------------------------


def source(number: int, doc_id: str, quote: str, start: int) -> Source:
    return Source(number=number, doc_id=doc_id, title="t", quote=quote, start=start, end=start + len(quote))


class FacadeDouble:
    """The services' facade over one folder: search returns fixed rankings; stream answers "COO"
    questions with a cited quote (confidence 0.9), refuses "capital" (0.2), answers "moon" wrongly
    (0.7), refuses "early" although it is answerable (0.6), and times out on "slow"."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.settings = load_settings(answer={"strictness": 0.65})

    def document(self, doc_id: str) -> DocumentInfo | None:
        path = self.folder / doc_id
        if not path.is_file():
            return None
        return DocumentInfo(doc_id=doc_id, path=str(path), title="t", language="it", sha256="0", encoding="utf-8",
                            format="txt", n_chars=len(DOC))  # fmt: skip

    def documents(self) -> list[DocumentInfo]:
        return [info for path in sorted(self.folder.iterdir()) if (info := self.document(path.name))]

    def search(self, query: str, k: int | None = None, mode: str | None = None) -> SearchResult:
        doc_ids = ["b.txt", "a.txt"] if mode == "bm25" else ["a.txt", "b.txt", "a.txt"]
        texts = {"a.txt": DOC, "b.txt": "Nothing relevant."}
        hits = [
            Hit(rank=i, chunk_id=f"c{i}", doc_id=d, title="t", text=texts[d], start=0, end=len(texts[d]), language="en",
                score=1)
            for i, d in enumerate(doc_ids[:k], start=1)
        ]  # fmt: skip
        return SearchResult(query=query, query_language="en", mode=mode or "hybrid", hits=hits, retrieval_ms=2.0)

    def stream(self, question: str, **options: Any) -> Iterator[AnswerEvent]:
        if "slow" in question:
            yield AnswerEvent("token", "Lightcap")
            raise ModelTimeoutError("the model did not answer within 120 s")
        for word, confidence in (("capital", 0.2), ("early", 0.6)):
            if word in question:
                text = "The documents do not contain the answer to this question."
                final = Answer(question=question, text=text, language="en", refused=True, confidence=confidence)
                yield AnswerEvent("answer", answer=final)
                return
        text = "Brad Lightcap is OpenAI's COO [1]." if "COO" in question else "The moon is cheese [1]."
        yield AnswerEvent("token", "garbage [5]")
        yield AnswerEvent("reset")
        yield AnswerEvent("token", text)
        yield AnswerEvent("answer", answer=Answer(
            question=question, text=text, language="en", confidence=0.9 if "COO" in question else 0.7,
            sentences=[AnswerSentence(text=QUOTE, citations=[1])], sources=[source(1, "a.txt", QUOTE, 0)],
            passages_used=1, backend="fake", model="m", timings=Timings(retrieval_ms=3, first_token_ms=4, total_ms=5),
        ))  # fmt: skip


QUESTIONS = [
    question(id="q1"),
    question(id="q2", question="What is the capital of Australia?", answerable=False, sources=[], facts=[]),
    question(id="q3", question="A slow question about the COO?", lang="it"),
    question(id="q4", question="What is the moon made of?", answerable=False, sources=[], facts=[]),
    question(id="q5", question="Was Sora launched early?", facts=[["too early"]]),
]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(DOC, encoding="utf-8")
    return folder


def test_run_eval_grades_every_question_and_writes_the_reports(docs: Path, tmp_path: Path) -> None:
    steps: list[tuple[int, int, str]] = []
    services: Any = FacadeDouble(docs)
    result = run_eval(services, QUESTIONS, progress=lambda *step: steps.append(step))
    assert steps[-1] == (10, 10, "answer q5")
    assert result.overall.retrieval["hybrid"].hit_at_1 == 1.0
    assert result.overall.retrieval["bm25"].mrr_at_10 == pytest.approx(0.5)
    assert result.overall.retrieval["hybrid"].passage_hit_at_1 == 1.0  # DOC states "Lightcap" and "too early"
    assert result.overall.retrieval["bm25"].passage_hit_at_1 == 0.0
    first = result.records[0].answer
    assert first is not None and first.raw_text == "Brad Lightcap is OpenAI's COO [1]."  # reset dropped garbage
    assert (first.markers, first.valid_markers, first.supported_citations) == (1, 1, 1)
    answers = result.overall.answers
    assert answers is not None
    assert answers.errors == 1 and answers.marker_validity == 1.0
    assert (answers.refusals, answers.refusal_precision, answers.refusal_recall) == (2, 0.5, 0.5)
    assert answers.false_refusals == pytest.approx(1 / 3)
    assert result.records[2].problems == ["model error: the model did not answer within 120 s"]
    assert list(result.by_language) == ["en", "it"]
    assert list(result.by_pair) == ["en/it", "en/none", "it/it"]  # 2, 2 (by name), 1
    assert result.records[0].doc_lang == "it" and result.records[1].doc_lang == "none"
    assert result.answered_by == ["fake/m/extractive"]
    assert result.strictness is not None
    assert (result.strictness.samples, result.strictness.skipped, result.strictness.operating_threshold) == (
        4, 1, 0.65)  # fmt: skip
    run_point = next(p for p in result.strictness.points if p.threshold == 0.65)
    assert (run_point.false_refusal_rate, run_point.correct_refusal_rate) == (0.5, 0.5)  # q3 has no confidence

    files = write_reports(result, tmp_path / "out")
    report = files.paths.markdown.read_text(encoding="utf-8")
    assert "| hit@5 | 1.000 | 1.000 | 1.000 |" in report and "| passage hit@1 | 1.000 | 0.000 | 1.000 |" in report
    assert "### q3 (it, answerable)" in report and "(model error) Lightcap" in report
    assert "## False refusals (1 answerable questions refused)\n\n- `q5` (en): Was Sora launched early?" in report
    assert "## Answered unanswerable questions (1)\n\n- `q4` (en): What is the moon made of?" in report
    assert "| en/none | 2 | 0 |" in report and "| 0.650 (run) | 0.500 | 0.500 |" in report
    data = json.loads(files.paths.json.read_text())
    assert data["records"][1]["answer"]["refused"] is True and data["records"][1]["answer"]["confidence"] == 0.2
    assert data["by_pair"]["en/it"]["answers"]["refusal_precision"] == 0.0
    assert len(data["strictness"]["points"]) == len(result.strictness.points) == 6
    assert files.paths.chart.read_bytes().startswith(b"\x89PNG")
    assert files.curve is not None and files.curve.read_bytes().startswith(b"\x89PNG")


def test_a_run_without_confidences_writes_no_curve(docs: Path, tmp_path: Path) -> None:
    services: Any = FacadeDouble(docs)
    result = run_eval(services, QUESTIONS[:2], retrieval_only=True)
    assert result.strictness is None and result.overall.answers is None
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "strictness.png").write_bytes(b"an older run's")
    files = write_reports(result, tmp_path / "out")
    assert files.curve is None and not (tmp_path / "out" / "strictness.png").exists()
    assert "## False refusals" not in render_report(result)


def test_a_half_is_graded_and_named(docs: Path) -> None:
    many = [question(id=f"q{i}", sources=[f"doc{i}.txt"]) for i in range(12)]
    tune = select(many, "tune")
    assert 0 < len(tune) < len(many) and all(half_of(q) == "tune" for q in tune)
    assert {q.id for q in tune} | {q.id for q in select(many, "report")} == {q.id for q in many}
    services: Any = FacadeDouble(docs)
    result = run_eval(services, many, half="tune", retrieval_only=True)
    assert (result.half, result.set_questions) == ("tune", 12)
    assert [r.id for r in result.records] == [q.id for q in tune]
    assert f"(tune half: {len(tune)} of 12)" in render_report(result)
    assert {r.doc_lang for r in result.records} == {"?"}  # gold sources not indexed
    assert result.missing_sources == sorted(s for q in tune for s in q.sources)


def test_streamed_text_keeps_what_came_after_the_last_reset() -> None:
    events = [AnswerEvent("token", "a"), AnswerEvent("reset"), AnswerEvent("status", "x"), AnswerEvent("token", "b"),
              AnswerEvent("token", "c")]  # fmt: skip
    assert streamed_text(events) == "bc"
