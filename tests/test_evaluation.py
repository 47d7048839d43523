"""The evaluation: metric functions on hand-made rankings and answers, the question-set checks,
the gates, a whole run over fake services, and (slow) the real `eval --retrieval-only` command."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.answer.compose import AnswerEvent
from assistant.answer.generate import ModelTimeoutError
from assistant.config import EvalSettings
from assistant.evaluation import core as ev
from assistant.models import Answer, AnswerSentence, DocumentInfo, Hit, SearchResult, Source, Timings
from tests.conftest import CORPUS

SHIPPED = CORPUS / "questions.jsonl"
GOOD = {
    "id": "q1",
    "question": "Who is OpenAI's COO?",
    "lang": "en",
    "answerable": True,
    "answer": "Brad Lightcap.",
    "facts": [["Lightcap"]],
    "sources": ["a.txt"],
}


def question(**changes: Any) -> ev.Question:
    return ev.Question.model_validate({**GOOD, **changes})


def record(first_rank: int | None, answerable: bool = True, lang: str = "en", **answer: Any) -> ev.QuestionRecord:
    """A graded question whose hybrid ranking has its first gold document at ``first_rank``."""
    ranking = ["x.txt", "y.txt", "z.txt", "w.txt", "v.txt", "u.txt"]
    if first_rank is not None:
        ranking[first_rank - 1] = "a.txt"
    sources = ["a.txt"] if answerable else []
    ranked = ev.retrieval_record(question(answerable=answerable, sources=sources, lang=lang), ranking, 10.0)
    return ev.QuestionRecord(
        id=f"q{first_rank}",
        question="?",
        lang=lang,
        answerable=answerable,
        expected="",
        facts=[["Lightcap"]] if answerable else [],
        sources=sources,
        retrieval={mode: ranked for mode in ev.RETRIEVAL_MODES},
        answer=ev.AnswerRecord(**answer) if answer else None,
    )


def result_of(records: list[ev.QuestionRecord], retrieval_only: bool = False) -> ev.EvalResult:
    return ev.EvalResult(
        created_at="now",
        retrieval_only=retrieval_only,
        k=None,
        retrieval_depth=10,
        retrieval_mode="hybrid",
        mode=None,
        backend=None,
        overall=ev.figures(records),
        by_language={"en": ev.figures(records)},
        records=records,
    )


# --- retrieval metrics --------------------------------------------------------------------------


def test_documents_are_ranked_by_their_first_passage() -> None:
    assert ev.rank_documents(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_first_relevant_rank_hits_and_reciprocal_rank() -> None:
    ranking = ["x", "y", "gold", "other-gold"]
    rank = ev.first_relevant_rank(ranking, {"gold", "other-gold"})
    assert rank == 3
    assert [ev.hit_at(rank, n) for n in (1, 3, 5)] == [False, True, True]
    assert ev.reciprocal_rank(rank) == pytest.approx(1 / 3)
    assert ev.reciprocal_rank(rank, cutoff=2) == 0.0
    assert ev.first_relevant_rank(ranking, {"missing"}) is None
    assert not ev.hit_at(None, 10) and ev.reciprocal_rank(None) == 0.0


def test_ndcg_rewards_gold_documents_near_the_top() -> None:
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ev.ndcg_at(["x", "g1", "g2"], {"g1", "g2"}) == pytest.approx(expected)
    assert ev.ndcg_at(["g1", "g2", "x"], {"g1", "g2"}) == pytest.approx(1.0)
    assert ev.ndcg_at(["x", "y"], {"g1"}) == 0.0
    assert ev.ndcg_at(["x", "g1"], {"g1"}, cutoff=1) == 0.0


def test_retrieval_figures_over_answerable_questions_only() -> None:
    records = [record(1), record(3), record(None), record(None, answerable=False)]
    figures = ev.retrieval_figures(records, "hybrid")
    assert figures.questions == 3
    assert figures.hit_at_1 == pytest.approx(1 / 3)
    assert figures.hit_at_3 == pytest.approx(2 / 3)
    assert figures.hit_at_10 == pytest.approx(2 / 3)
    assert figures.mrr_at_10 == pytest.approx((1 + 1 / 3) / 3)
    assert figures.latency_p50_ms == pytest.approx(10.0)


# --- answer metrics -----------------------------------------------------------------------------


def test_facts_ignore_case_accents_and_markers() -> None:
    facts = [["Lightcap"], ["20 fevrier", "february 20"], ["1"]]
    assert ev.facts_stated("Brad LIGHTCAP l'a dit le 20 Février [1].", facts) == [True, True, False]
    assert ev.facts_stated("Sam Altman said so.", [["Lightcap"], ["sindacat"]]) == [False, False]
    assert ev.facts_stated("I sindacati\nhanno protestato", [["sindacati hanno"]]) == [True]


def test_answer_language_leaves_out_quoted_sources() -> None:
    italian_lead = "Secondo i documenti:\n“Brad Lightcap, OpenAI's COO, said that they launched it too early.” [1]"
    assert ev.answer_language(italian_lead) == "it"
    french = "D'après les documents :\n«Il modello è stato presentato da OpenAI il 15 febbraio 2024.» [1]"
    assert ev.answer_language(french) == "fr"
    assert ev.answer_language("The documents do not contain the answer to this question.") == "en"
    nested = (
        "According to the documents:\n“Brad Lightcap, COO di OpenAI, ha dichiarato che “abbiamo lanciato ‘Sora’"
        " troppo presto”, riconoscendo che il modello non era pronto.” [1]"
    )
    assert ev.remove_quotes(nested) == "According to the documents:\n [1]"
    assert ev.answer_language(nested) == "en"
    assert ev.remove_quotes("Il a dit «non» et “oui\nsuite") == "Il a dit  et \nsuite"


def test_markers_are_counted_in_the_raw_answer() -> None:
    raw = "Lightcap is the COO [1]. He spoke in Los Angeles [2][7]. Sora was shown in February [1-3]."
    assert ev.count_markers(raw, passages=3) == (6, 5)
    assert ev.count_markers("No markers here.", passages=3) == (0, 0)
    assert ev.count_markers("Wrong [4].", passages=0) == (1, 0)


DOC = "Brad Lightcap is OpenAI's COO. He said Sora was launched too early."


def _source(number: int, doc_id: str, quote: str, start: int) -> Source:
    return Source(number=number, doc_id=doc_id, title="t", quote=quote, start=start, end=start + len(quote))


def test_grade_answer_checks_citations_against_the_document() -> None:
    answer = Answer(
        question="Who is OpenAI's COO?",
        text="According to the documents:\nLightcap is the COO [1]. Sora came early [2]. Lightcap again [3].",
        language="en",
        sentences=[
            AnswerSentence(text="According to the documents:"),
            AnswerSentence(text="Lightcap is the COO.", citations=[1]),
            AnswerSentence(text="Sora came early.", citations=[2], supported=False),
            AnswerSentence(text="Lightcap again.", citations=[3]),
            AnswerSentence(text="An unmarked claim about Sora."),
        ],
        sources=[
            _source(1, "a.txt", "Brad Lightcap is OpenAI's COO.", 0),
            _source(2, "a.txt", "He said Sora was launched too early.", 31),
            _source(3, "b.txt", "Brad Lightcap", 5),  # wrong offsets: not verbatim there
        ],
        passages_used=3,
        timings=Timings(retrieval_ms=5, first_token_ms=7, total_ms=9),
    )
    graded = ev.grade_answer(question(), answer, "raw [1] [2] [9]", {"a.txt": DOC, "b.txt": DOC}.get)
    assert (graded.citations, graded.supported_citations) == (3, 1)  # [2] unsupported, [3] not verbatim
    assert (graded.claims, graded.cited_claims) == (4, 3)  # the lead-in is not a claim
    assert (graded.markers, graded.valid_markers) == (3, 2)
    assert graded.facts_stated == [True] and graded.language_match
    assert graded.cited_sources == ["a.txt", "b.txt"]
    assert graded.source_precision == pytest.approx(0.5) and graded.source_recall == pytest.approx(1.0)
    assert ev.find_problems(record_with(graded), "hybrid") == [
        "1 marker(s) pointing to no passage",
        "2 unsupported citation(s)",
    ]


def record_with(answer: ev.AnswerRecord, answerable: bool = True) -> ev.QuestionRecord:
    graded = record(1, answerable=answerable)
    graded.answer = answer
    return graded


def test_a_refusal_states_no_fact_and_its_language_counts() -> None:
    refusal = Answer(question="?", text="I documenti non contengono la risposta.", language="it", refused=True)
    graded = ev.grade_answer(question(lang="it"), refusal, "", {}.get)
    assert graded.refused and graded.facts_stated == [False]
    assert graded.language_match and graded.source_recall == 0.0 and graded.source_precision is None
    assert ev.find_problems(record_with(graded), "hybrid") == ["refused an answerable question"]


def test_refusal_rates_and_errors_count_as_wrong() -> None:
    records = [
        record(None, answerable=False, refused=True, language_match=True),
        record(None, answerable=False, refused=False, language_match=True),
        record(None, answerable=False, error="timed out"),
        record(1, refused=True, facts_stated=[False], language_match=True),
        record(1, facts_stated=[True], language_match=True, markers=2, valid_markers=2, total_ms=50.0),
        record(1, facts_stated=[False], error="timed out"),
    ]
    figures = ev.answer_figures(records)
    assert figures is not None
    assert figures.correct_refusals == pytest.approx(1 / 3)
    assert figures.false_refusals == pytest.approx(1 / 3)
    assert figures.fact_recall == pytest.approx(1 / 3) and figures.exact_correct == pytest.approx(1 / 3)
    assert figures.language_match == pytest.approx(4 / 6)
    assert figures.errors == 2 and figures.marker_validity == 1.0 and figures.total_p50_ms == 50.0
    assert ev.answer_figures([record(1)]) is None


def test_percentiles() -> None:
    assert ev.percentile([1.0, 2.0, 3.0, 4.0, 100.0], 50) == 3.0
    assert ev.percentile([10.0] * 19 + [1000.0], 95) == pytest.approx(59.5)
    assert ev.percentile([], 95) is None


# --- the question set ---------------------------------------------------------------------------


def write_set(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def line(**changes: Any) -> str:
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...})


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"id": "q2", "question": ', "invalid JSON"),
        ('["not", "an", "object"]', "expected a JSON object"),
        (line(id="q2", facts=...), "missing field 'facts'"),
        (line(id="q2", difficulty="easy"), "unknown field 'difficulty'"),
        (line(id="q2", answerable="yes"), "field 'answerable'"),
        (line(id="q2", facts=[["ok"], [3]]), "field 'facts[1][0]'"),
        (line(), "duplicate id 'q1' (first on line 1)"),
        (line(id="q2", facts=[]), "answerable question needs at least one facts group"),
        (line(id="q2", sources=[]), "answerable question needs at least one source"),
        (line(id="q2", answerable=False, facts=[]), "unanswerable question cannot have sources"),
        (line(id="q2", facts=[[""]]), "alternative is empty"),
    ],
)
def test_a_bad_line_is_reported_with_its_number_and_reason(tmp_path: Path, bad: str, reason: str) -> None:
    path = write_set(tmp_path, line(), "", bad)
    with pytest.raises(ev.QuestionSetError) as raised:
        ev.load_questions(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:3: "), message
    assert reason in message and "\n" not in message


def test_missing_and_empty_sets(tmp_path: Path) -> None:
    with pytest.raises(ev.QuestionSetError, match="cannot read"):
        ev.load_questions(tmp_path / "nope.jsonl")
    with pytest.raises(ev.QuestionSetError, match="no questions"):
        ev.load_questions(write_set(tmp_path, "", "  "))


def test_the_shipped_set_meets_the_issue() -> None:
    questions = ev.load_questions(SHIPPED)
    assert len(questions) >= 60
    assert {q.lang for q in questions} == {"en", "it", "fr"}
    assert sum(not q.answerable for q in questions) >= 0.2 * len(questions)
    assert any(len(q.sources) > 1 for q in questions)
    assert all((CORPUS / source).is_file() for q in questions for source in q.sources)


# --- gates --------------------------------------------------------------------------------------


def test_thresholds_name_the_metric_value_and_limit() -> None:
    records = [record(1), record(6), record(None, answerable=False)]
    failures = ev.check_thresholds(result_of(records, retrieval_only=True), EvalSettings(min_hit5=0.9, min_mrr=0.8))
    assert failures == ["hit@5 (hybrid) 0.500 is below the minimum 0.900 (--min-hit5)",
                        "MRR@10 (hybrid) 0.583 is below the minimum 0.800 (--min-mrr)"]  # fmt: skip
    assert ev.check_thresholds(result_of(records), EvalSettings(min_hit5=0.5, min_mrr=0.5)) == []


def test_false_refusals_are_an_upper_bound() -> None:
    records = [record(1, refused=True, facts_stated=[False], language_match=True), record(1, facts_stated=[True])]
    failures = ev.check_thresholds(result_of(records), EvalSettings(min_fact_recall=0.0, max_false_refusals=0.2))
    assert failures == ["false refusals 0.500 is above the maximum 0.200 (--max-false-refusals)"]
    assert ev.check_thresholds(result_of(records), EvalSettings(min_fact_recall=0.0, max_false_refusals=0.5)) == []


def test_compare_reports_regressions_beyond_tolerance(tmp_path: Path) -> None:
    before = result_of([record(1), record(1), record(1), record(1)])
    baseline = ev.write_reports(before, tmp_path / "before").json
    same, none = ev.compare(before, baseline, 0.02)
    assert same == [] and none == []
    after = result_of([record(1), record(1), record(1), record(None)])
    differences, regressions = ev.compare(after, baseline, 0.02)
    assert "hybrid hit_at_5: 1.000 -> 0.750 (-0.250)" in differences
    assert any(r.startswith("hybrid hit_at_5 0.750 is worse than the baseline 1.000") for r in regressions)
    assert not ev.compare(after, baseline, 0.5)[1]
    with pytest.raises(ev.BaselineError):
        ev.compare(after, write_set(tmp_path, "not json"), 0.02)


# --- a whole run over fake services -------------------------------------------------------------


class FakeCatalog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def document(self, doc_id: str) -> DocumentInfo | None:
        path = self.folder / doc_id
        if not path.is_file():
            return None
        return DocumentInfo(
            doc_id=doc_id, path=str(path), title="t", language="en", sha256="0", encoding="utf-8", format="txt",
            n_chars=len(DOC),
        )  # fmt: skip

    def documents(self) -> list[DocumentInfo]:
        return [info for path in sorted(self.folder.iterdir()) if (info := self.document(path.name))]


class FakeAnswerer:
    """Answers "COO" questions with a cited quote, refuses "capital", times out on "slow"."""

    def stream(self, question: str, **options: Any) -> Iterator[AnswerEvent]:
        if "slow" in question:
            yield AnswerEvent("token", "Lightcap")
            raise ModelTimeoutError("the model did not answer within 120 s")
        if "capital" in question:
            yield AnswerEvent("answer", answer=Answer(question=question, text="No.", language="en", refused=True))
            return
        yield AnswerEvent("token", "garbage [5]")
        yield AnswerEvent("reset")
        yield AnswerEvent("token", "Brad Lightcap is OpenAI's COO [1].")
        quote = "Brad Lightcap is OpenAI's COO."
        yield AnswerEvent(
            "answer",
            answer=Answer(
                question=question,
                text="Brad Lightcap is OpenAI's COO [1].",
                language="en",
                sentences=[AnswerSentence(text=quote, citations=[1])],
                sources=[_source(1, "a.txt", quote, 0)],
                passages_used=1,
                backend="fake",
                model="m",
                timings=Timings(retrieval_ms=3, first_token_ms=4, total_ms=5),
            ),
        )


class FakeServices:
    def __init__(self, folder: Path) -> None:
        from assistant.config import Settings

        self.settings = Settings()
        self.index = type("FakeIndex", (), {"catalog": FakeCatalog(folder)})()
        self.answerer = FakeAnswerer()

    def search(self, query: str, k: int | None = None, mode: str | None = None) -> SearchResult:
        doc_ids = ["b.txt", "a.txt"] if mode == "bm25" else ["a.txt", "b.txt", "a.txt"]
        hits = [
            Hit(rank=i, chunk_id=f"c{i}", doc_id=d, title="t", text=DOC, start=0, end=len(DOC), language="en", score=1)
            for i, d in enumerate(doc_ids[:k], start=1)
        ]
        return SearchResult(query=query, query_language="en", mode=mode or "hybrid", hits=hits, retrieval_ms=2.0)


def test_run_eval_grades_every_question_and_writes_the_reports(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(DOC, encoding="utf-8")
    questions = [
        question(id="q1"),
        question(id="q2", question="What is the capital of Australia?", answerable=False, sources=[]),
        question(id="q3", question="A slow question about the COO?", lang="it"),
    ]
    steps: list[tuple[int, int, str]] = []
    result = ev.run_eval(FakeServices(docs), questions, progress=lambda *step: steps.append(step))  # type: ignore[arg-type]
    assert steps[-1] == (6, 6, "answer q3")
    assert result.overall.retrieval["hybrid"].hit_at_1 == 1.0
    assert result.overall.retrieval["bm25"].mrr_at_10 == pytest.approx(0.5)
    first = result.records[0].answer
    assert first is not None and first.raw_text == "Brad Lightcap is OpenAI's COO [1]."  # reset dropped garbage
    assert (first.markers, first.valid_markers, first.supported_citations) == (1, 1, 1)
    answers = result.overall.answers
    assert answers is not None
    assert answers.errors == 1 and answers.correct_refusals == 1.0 and answers.marker_validity == 1.0
    assert result.records[2].problems == ["model error: the model did not answer within 120 s"]
    assert list(result.by_language) == ["en", "it"]
    assert result.answered_by == ["fake/m/extractive"]
    paths = ev.write_reports(result, tmp_path / "out")
    report = paths.markdown.read_text(encoding="utf-8")
    assert "| hit@5 | 1.000 | 1.000 | 1.000 |" in report
    assert "### q3 (it, answerable)" in report and "(model error) Lightcap" in report
    assert json.loads(paths.json.read_text())["records"][1]["answer"]["refused"] is True
    assert paths.chart.read_bytes().startswith(b"\x89PNG")


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli_app() -> Any:
    from assistant.cli.app import app
    from assistant.cli.evaluate import register

    if not any(command.name == "eval" for command in app.registered_commands):
        register(app)
    return app


def test_eval_rejects_a_broken_question_set_with_its_line(cli_app: Any, tmp_path: Path) -> None:
    broken = write_set(tmp_path, line(), line(id="q2", answerable="yes"))
    result = CliRunner().invoke(cli_app, ["eval", "--questions", str(broken), "--retrieval-only"])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {broken}:2: field 'answerable'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_eval_rejects_an_unknown_mode(cli_app: Any) -> None:
    result = CliRunner().invoke(cli_app, ["eval", "--questions", str(SHIPPED), "--mode", "poetic"])
    assert result.exit_code == 2 and "unknown mode 'poetic'" in result.stderr


@pytest.mark.slow
def test_retrieval_only_eval_writes_reports_and_gates(cli_app: Any, corpus: Path, tmp_path: Path) -> None:
    from assistant.config import load_settings
    from assistant.services import build_services

    build_services(load_settings()).ingest([corpus])
    shutil.copy(SHIPPED, tmp_path / "questions.jsonl")
    runner = CliRunner()
    out = tmp_path / "reports"
    args = ["eval", "--retrieval-only", "--questions", str(tmp_path / "questions.jsonl"), "--out", str(out)]
    passed = runner.invoke(cli_app, args)
    assert passed.exit_code == 0, passed.output + passed.stderr
    assert "| hit@5 |" in passed.stdout and "## Per language" in passed.stdout
    assert {p.name for p in out.iterdir()} == {"report.md", "results.json", "chart.png"}
    figures = json.loads((out / "results.json").read_text())["overall"]["retrieval"]
    assert figures["hybrid"]["hit_at_5"] >= 0.9 and figures["hybrid"]["mrr_at_10"] >= 0.8

    worse = runner.invoke(cli_app, [*args, "-k", "1", "--baseline", str(out / "results.json")])
    assert worse.exit_code == 9
    assert re.search(r"threshold: hit@5 \(hybrid\) 0\.\d+ is below the minimum 0\.900", worse.stderr)
    assert "regression: hybrid hit_at_5" in worse.stderr
