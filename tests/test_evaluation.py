"""The evaluation's pure parts: metric functions on hand-made rankings and answers, the question-set
checks, the figures, the gates and the baseline comparison."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from assistant.config import EvalSettings
from assistant.errors import BaselineError, QuestionSetError
from assistant.evaluation import figures as fig
from assistant.evaluation import metrics as m
from assistant.evaluation.gates import check_thresholds, compare
from assistant.evaluation.grading import AnswerRecord, QuestionRecord, find_problems, grade_answer, retrieval_record
from assistant.evaluation.questions import Question, load_questions
from assistant.evaluation.report import write_reports
from assistant.evaluation.result import EvalResult
from assistant.models import Answer, AnswerSentence, Source, Timings
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


def question(**changes: Any) -> Question:
    return Question.model_validate({**GOOD, **changes})


def record(first_rank: int | None, answerable: bool = True, lang: str = "en", **answer: Any) -> QuestionRecord:
    """A graded question whose hybrid ranking has its first gold document at ``first_rank``."""
    ranking = ["x.txt", "y.txt", "z.txt", "w.txt", "v.txt", "u.txt"]
    if first_rank is not None:
        ranking[first_rank - 1] = "a.txt"
    sources = ["a.txt"] if answerable else []
    ranked = retrieval_record(question(answerable=answerable, sources=sources, lang=lang), ranking, 10.0)
    return QuestionRecord(
        id=f"q{first_rank}",
        question="?",
        lang=lang,
        doc_lang="it" if answerable else "none",
        answerable=answerable,
        facts=[["Lightcap"]] if answerable else [],
        sources=sources,
        retrieval={mode: ranked for mode in fig.RETRIEVAL_MODES},
        answer=AnswerRecord(**answer) if answer else None,
    )


def result_of(records: list[QuestionRecord], retrieval_only: bool = False, half: str = "all") -> EvalResult:
    return EvalResult(
        created_at="now",
        half=half,
        retrieval_only=retrieval_only,
        k=None,
        retrieval_depth=10,
        retrieval_mode="hybrid",
        mode=None,
        backend=None,
        overall=fig.figures(records),
        by_language=fig.by_language(records),
        by_pair=fig.by_pair(records),
        records=records,
    )


# --- retrieval metrics --------------------------------------------------------------------------


def test_documents_are_ranked_by_their_first_passage() -> None:
    assert m.rank_documents(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_first_relevant_rank_hits_and_reciprocal_rank() -> None:
    ranking = ["x", "y", "gold", "other-gold"]
    rank = m.first_relevant_rank(ranking, {"gold", "other-gold"})
    assert rank == 3
    assert [m.hit_at(rank, n) for n in (1, 3, 5)] == [False, True, True]
    assert m.reciprocal_rank(rank) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(rank, cutoff=2) == 0.0
    assert m.first_relevant_rank(ranking, {"missing"}) is None
    assert not m.hit_at(None, 10) and m.reciprocal_rank(None) == 0.0


def test_ndcg_rewards_gold_documents_near_the_top() -> None:
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert m.ndcg_at(["x", "g1", "g2"], {"g1", "g2"}) == pytest.approx(expected)
    assert m.ndcg_at(["g1", "g2", "x"], {"g1", "g2"}) == pytest.approx(1.0)
    assert m.ndcg_at(["x", "y"], {"g1"}) == 0.0
    assert m.ndcg_at(["x", "g1"], {"g1"}, cutoff=1) == 0.0


def test_a_passage_hits_when_it_is_gold_and_states_a_fact() -> None:
    facts = [["Lightcap"], ["20 fevrier"]]
    passages = [
        ("other.txt", "Brad Lightcap is the COO."),  # states the fact, wrong document
        ("gold.txt", "OpenAI presented Sora."),  # gold document, no fact
        ("gold.txt", "Le modèle a été présenté le 20 Février."),  # both, accents and case folded
    ]
    assert m.first_passage_rank(passages, {"gold.txt"}, facts) == 3
    assert m.first_passage_rank(passages[:2], {"gold.txt"}, facts) is None
    graded = retrieval_record(
        question(sources=["gold.txt"], facts=facts), [d for d, _ in passages], 1.0, [t for _, t in passages]
    )
    assert graded.first_rank == 2 and graded.first_passage_rank == 3
    assert retrieval_record(question(), ["a.txt"], 1.0).first_passage_rank is None  # no texts: not measured


def test_retrieval_figures_over_answerable_questions_only() -> None:
    records = [record(1), record(3), record(None), record(None, answerable=False)]
    for mode, ranked in records[0].retrieval.items():
        records[0].retrieval[mode] = ranked.model_copy(update={"first_passage_rank": 4})
    figures = fig.retrieval_figures(records, "hybrid")
    assert figures.questions == 3
    assert figures.hit_at_1 == pytest.approx(1 / 3)
    assert figures.hit_at_3 == pytest.approx(2 / 3)
    assert figures.hit_at_10 == pytest.approx(2 / 3)
    assert figures.mrr_at_10 == pytest.approx((1 + 1 / 3) / 3)
    assert figures.passage_hit_at_1 == 0.0 and figures.passage_hit_at_5 == pytest.approx(1 / 3)
    assert figures.latency_p50_ms == pytest.approx(10.0)


# --- answer metrics -----------------------------------------------------------------------------


def test_facts_ignore_case_accents_and_markers() -> None:
    facts = [["Lightcap"], ["20 fevrier", "february 20"], ["1"]]
    assert m.facts_stated("Brad LIGHTCAP l'a dit le 20 Février [1].", facts) == [True, True, False]
    assert m.facts_stated("Sam Altman said so.", [["Lightcap"], ["sindacat"]]) == [False, False]
    assert m.facts_stated("I sindacati\nhanno protestato", [["sindacati hanno"]]) == [True]


def test_answer_language_leaves_out_quoted_sources() -> None:
    italian_lead = "Secondo i documenti:\n“Brad Lightcap, OpenAI's COO, said that they launched it too early.” [1]"
    assert m.answer_language(italian_lead) == "it"
    french = "D'après les documents :\n«Il modello è stato presentato da OpenAI il 15 febbraio 2024.» [1]"
    assert m.answer_language(french) == "fr"
    assert m.answer_language("The documents do not contain the answer to this question.") == "en"
    nested = (
        "According to the documents:\n“Brad Lightcap, COO di OpenAI, ha dichiarato che “abbiamo lanciato ‘Sora’"
        " troppo presto”, riconoscendo che il modello non era pronto.” [1]"
    )
    assert m.remove_quotes(nested) == "According to the documents:\n [1]"
    assert m.answer_language(nested) == "en"
    assert m.remove_quotes("Il a dit «non» et “oui\nsuite") == "Il a dit  et \nsuite"


def test_markers_are_counted_in_the_raw_answer() -> None:
    raw = "Lightcap is the COO [1]. He spoke in Los Angeles [2][7]. Sora was shown in February [1-3]."
    assert m.count_markers(raw, passages=3) == (6, 5)
    assert m.count_markers("No markers here.", passages=3) == (0, 0)
    assert m.count_markers("Wrong [4].", passages=0) == (1, 0)


DOC = "Brad Lightcap is OpenAI's COO. He said Sora was launched too early."


def source(number: int, doc_id: str, quote: str, start: int) -> Source:
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
            source(1, "a.txt", "Brad Lightcap is OpenAI's COO.", 0),
            source(2, "a.txt", "He said Sora was launched too early.", 31),
            source(3, "b.txt", "Brad Lightcap", 5),  # wrong offsets: not verbatim there
        ],
        passages_used=3,
        confidence=0.84,
        timings=Timings(retrieval_ms=5, first_token_ms=7, total_ms=9),
    )
    graded = grade_answer(question(), answer, "raw [1] [2] [9]", {"a.txt": DOC, "b.txt": DOC}.get)
    assert (graded.citations, graded.supported_citations) == (3, 1)  # [2] unsupported, [3] not verbatim
    assert (graded.claims, graded.cited_claims) == (4, 3)  # the lead-in is not a claim
    assert (graded.markers, graded.valid_markers) == (3, 2)
    assert graded.facts_stated == [True] and graded.language_match and graded.confidence == 0.84
    assert graded.cited_sources == ["a.txt", "b.txt"]
    assert graded.source_precision == pytest.approx(0.5) and graded.source_recall == pytest.approx(1.0)
    assert find_problems(record_with(graded), "hybrid") == [
        "1 marker(s) pointing to no passage",
        "2 unsupported citation(s)",
    ]


def record_with(answer: AnswerRecord, answerable: bool = True) -> QuestionRecord:
    graded = record(1, answerable=answerable)
    graded.answer = answer
    return graded


def test_a_refusal_states_no_fact_and_its_language_counts() -> None:
    refusal = Answer(question="?", text="I documenti non contengono la risposta.", language="it", refused=True)
    graded = grade_answer(question(lang="it"), refusal, "", {}.get)
    assert graded.refused and graded.facts_stated == [False] and graded.confidence is None
    assert graded.language_match and graded.source_recall == 0.0 and graded.source_precision is None
    assert find_problems(record_with(graded), "hybrid") == ["refused an answerable question"]


def test_refusal_precision_recall_and_false_refusal_rate() -> None:
    # 4 unanswerable (3 refused), 5 answerable (1 refused): precision 3/4, recall 3/4, false 1/5
    outcomes = [(False, True)] * 3 + [(False, False)] + [(True, True)] + [(True, False)] * 4
    assert m.refusal_rates(outcomes) == (pytest.approx(0.75), pytest.approx(0.75), pytest.approx(0.2))
    assert m.refusal_rates([(True, False)]) == (None, None, 0.0)
    assert m.refusal_rates([]) == (None, None, None)


def test_refusal_rates_and_errors_count_as_wrong() -> None:
    records = [
        record(None, answerable=False, refused=True, language_match=True),
        record(None, answerable=False, refused=False, language_match=True),
        record(None, answerable=False, error="timed out"),
        record(1, refused=True, facts_stated=[False], language_match=True),
        record(1, facts_stated=[True], language_match=True, markers=2, valid_markers=2, total_ms=50.0),
        record(1, facts_stated=[False], error="timed out"),
    ]
    figures = fig.answer_figures(records)
    assert figures is not None
    assert figures.correct_refusals == pytest.approx(1 / 3) == figures.refusal_recall
    assert figures.refusals == 2 and figures.refusal_precision == pytest.approx(0.5)
    assert figures.false_refusals == pytest.approx(1 / 3)
    assert figures.fact_recall == pytest.approx(1 / 3) and figures.exact_correct == pytest.approx(1 / 3)
    assert figures.language_match == pytest.approx(4 / 6)
    assert figures.errors == 2 and figures.marker_validity == 1.0 and figures.total_p50_ms == 50.0
    assert fig.answer_figures([record(1)]) is None


def test_figures_per_language_and_per_language_pair() -> None:
    records = [record(1, lang="en"), record(2, lang="en"), record(1, lang="it"), record(None, False, lang="it")]
    records[1].doc_lang = "fr"
    assert list(fig.by_language(records)) == ["en", "it"]
    pairs = fig.by_pair(records)
    assert list(pairs) == ["en/fr", "en/it", "it/it", "it/none"]  # by question language, then size and name
    assert pairs["en/fr"].retrieval["hybrid"].hit_at_1 == 0.0 and pairs["en/it"].retrieval["hybrid"].hit_at_1 == 1.0
    assert pairs["it/none"].answerable == 0 and pairs["it/none"].retrieval["hybrid"].hit_at_5 is None


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
        (line(id="q2", answer=3), "field 'answer'"),
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
    with pytest.raises(QuestionSetError) as raised:
        load_questions(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:3: "), message
    assert reason in message and "\n" not in message


def test_the_reference_answer_is_optional(tmp_path: Path) -> None:
    questions = load_questions(write_set(tmp_path, line(answer=...), line(id="q2", answer=None)))
    assert [q.answer for q in questions] == [None, None]


def test_missing_and_empty_sets(tmp_path: Path) -> None:
    with pytest.raises(QuestionSetError, match="cannot read"):
        load_questions(tmp_path / "nope.jsonl")
    with pytest.raises(QuestionSetError, match="no questions"):
        load_questions(write_set(tmp_path, "", "  "))


def test_the_shipped_set_meets_the_issue() -> None:
    questions = load_questions(SHIPPED)
    assert len(questions) >= 60
    assert {q.lang for q in questions} == {"en", "it", "fr"}
    assert sum(not q.answerable for q in questions) >= 0.2 * len(questions)
    assert any(len(q.sources) > 1 for q in questions)
    assert all((CORPUS / source).is_file() for q in questions for source in q.sources)


# --- gates --------------------------------------------------------------------------------------


def test_thresholds_name_the_metric_value_and_limit() -> None:
    records = [record(1), record(6), record(None, answerable=False)]
    failures = check_thresholds(result_of(records, retrieval_only=True), EvalSettings(min_hit5=0.9, min_mrr=0.8))
    assert failures == ["hit@5 (hybrid) 0.500 is below the minimum 0.900 (--min-hit5)",
                        "MRR@10 (hybrid) 0.583 is below the minimum 0.800 (--min-mrr)"]  # fmt: skip
    assert check_thresholds(result_of(records), EvalSettings(min_hit5=0.5, min_mrr=0.5)) == []


def test_false_refusals_are_an_upper_bound() -> None:
    records = [record(1, refused=True, facts_stated=[False], language_match=True), record(1, facts_stated=[True])]
    failures = check_thresholds(result_of(records), EvalSettings(min_fact_recall=0.0, max_false_refusals=0.2))
    assert failures == ["false refusals 0.500 is above the maximum 0.200 (--max-false-refusals)"]
    assert check_thresholds(result_of(records), EvalSettings(min_fact_recall=0.0, max_false_refusals=0.5)) == []


def test_thresholds_can_also_bound_each_language() -> None:
    records = [record(1, lang="en"), record(1, lang="en"), record(1, lang="en"), record(6, lang="fr")]
    limits = EvalSettings(min_hit5=0.7, min_mrr=0.0)
    assert check_thresholds(result_of(records, retrieval_only=True), limits) == []  # overall 0.75
    failures = check_thresholds(result_of(records, retrieval_only=True), limits, ["en", "fr", "de"])
    assert failures == ["hit@5 (hybrid) [fr] 0.000 is below the minimum 0.700 (--min-hit5)",
                        "no question in 'de' to gate (--gate-language de)"]  # fmt: skip


def test_compare_reports_regressions_beyond_tolerance(tmp_path: Path) -> None:
    before = result_of([record(1), record(1), record(1), record(1)])
    baseline = write_reports(before, tmp_path / "before").paths.json
    same, none = compare(before, baseline, 0.02)
    assert same == [] and none == []
    after = result_of([record(1), record(1), record(1), record(None)])
    differences, regressions = compare(after, baseline, 0.02)
    assert "hybrid hit_at_5: 1.000 -> 0.750 (-0.250)" in differences
    assert any(r.startswith("hybrid hit_at_5 0.750 is worse than the baseline 1.000") for r in regressions)
    assert not compare(after, baseline, 0.5)[1]
    other_half = compare(result_of([record(1)] * 4, half="report"), baseline, 0.02)
    assert other_half[0] == ["half: 'all' in the baseline, 'report' now (figures may not compare)"]
    with pytest.raises(BaselineError):
        compare(after, write_set(tmp_path, "not json"), 0.02)
