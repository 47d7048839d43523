"""Fitting the refusal model: the logistic fit, the strictness rule, and the samples read from a real index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.answer.evidence import Evidence
from assistant.evaluation.questions import load_questions
from assistant.evaluation.refusal_fit import (
    SIGNALS,
    Sample,
    auc,
    cross_validate,
    fit_logistic,
    fit_refusal,
    highest_strictness,
    samples,
)
from tests.conftest import CORPUS


def test_the_fit_finds_the_signal_that_separates_and_speaks_in_raw_units() -> None:
    rng = np.random.default_rng(3)
    cosine = rng.uniform(0.75, 0.95, 400)
    noise = rng.uniform(0.0, 1.0, 400)
    labels = (cosine + rng.normal(0.0, 0.02, 400)) > 0.85
    coefficients = fit_logistic(np.column_stack([cosine, noise]), labels)
    intercept, weights = coefficients[0], coefficients[1:]
    assert weights[0] > 20 and abs(weights[1]) < weights[0] / 10
    assert -intercept / weights[0] == pytest.approx(0.85, abs=0.01), "the boundary sits where the labels change"
    predicted = intercept + np.column_stack([cosine, noise]) @ weights > 0
    assert np.mean(predicted == labels) > 0.9


def test_the_strictness_is_the_highest_step_that_refuses_few_enough() -> None:
    confidences = [0.02, 0.12, *[0.9] * 38]  # 1 of 40 under 0.05, 2 of 40 under 0.15
    assert highest_strictness(confidences, max_refused=0.025) == pytest.approx(0.1)
    assert highest_strictness(confidences, max_refused=0.05) == pytest.approx(0.9)
    assert highest_strictness(confidences, max_refused=0.0) == 0.0
    assert highest_strictness([], max_refused=0.05) == 0.0


def test_auc_counts_ties_half() -> None:
    assert auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auc([0.5, 0.5], [True, False]) == 0.5
    assert auc([0.3, 0.1], [False, True]) == 0.0
    assert auc([0.3], [True]) == 0.5


def test_fit_refusal_names_every_signal_and_prefers_the_answered() -> None:
    found = [
        Sample(str(i), Evidence(cosine, cosine - 0.01, 1.0, 1.0), cosine > 0.84)
        for i, cosine in enumerate(np.linspace(0.78, 0.92, 30))
    ]
    fitted = fit_refusal(found)
    assert set(fitted.weights) == set(SIGNALS) == {"sentence_dense", "passage_dense", "relation", "names"}
    assert fitted.auc == 1.0 and 0.0 < fitted.strictness < 1.0


def test_cross_validation_scores_held_out_documents_and_punishes_a_crushing_penalty() -> None:
    rng = np.random.default_rng(5)
    found = [
        Sample(
            str(i),
            Evidence(cosine, cosine - 0.01, 1.0, 1.0),
            cosine + rng.normal(0, 0.01) > 0.84,
            group=f"d{i % 9}",
        )
        for i, cosine in enumerate(rng.uniform(0.78, 0.92, 120))
    ]
    moderate, crushing = cross_validate(found, 1.0), cross_validate(found, 1e6)
    assert 0.0 < moderate < crushing <= np.log(2) + 0.05, "a crushing penalty predicts the base rate, no better"


@pytest.mark.slow
def test_samples_ask_each_answerable_question_again_without_its_documents(corpus_services: Any, tmp_path: Path) -> None:
    lines = (CORPUS / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [q for q in map(json.loads, lines) if q["id"] in ("q01", "q02")]
    chosen += [next(q for q in map(json.loads, lines) if not q["answerable"])]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in chosen), encoding="utf-8")
    questions = load_questions(path)
    found = samples(corpus_services, questions)
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) == 2
    assert len(found) == len(questions) + len(answerable)
    for question in answerable:
        asked, left_out = (s for s in found if s.question_id == question.id)
        assert asked.answered and not left_out.answered and left_out.left_out
        assert left_out.evidence.sentence_dense < asked.evidence.sentence_dense
    assert not next(s for s in found if s.question_id == chosen[-1]["id"]).answered
