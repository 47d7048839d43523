"""The strictness trade-off: what refusing below each evidence threshold would have done.

Every answer records ``confidence``, the evidence score its refusal decision compared with the
threshold (``answer.strictness``), refused answers included. Sweeping the threshold over the
recorded scores replays the decision without asking again: at threshold ``t`` an answer is refused
when its score is below ``t``, or when it was refused for another reason in the run (its score
reached the run's threshold and it still refused). Fact recall among the answered is known only for
answers that were actually given; answers the run refused but a looser threshold would give are
counted as answered and left out of that figure. Answers without a score are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from pydantic import BaseModel, Field

from assistant.evaluation.grading import QuestionRecord
from assistant.reports import mean


class CurveSample(NamedTuple):
    """What the curve reads of one answer."""

    answerable: bool
    confidence: float
    refused: bool
    fact_recall: float | None  # share of facts groups stated; None when the answer was not given


class CurvePoint(BaseModel):
    """The outcome of refusing below one threshold."""

    threshold: float
    false_refusal_rate: float | None = Field(description="Refused answerables / answerables.")
    correct_refusal_rate: float | None = Field(description="Refused unanswerables / unanswerables.")
    fact_recall_answered: float | None = Field(
        description="Mean fact recall of the answerables answered at this threshold whose answer is known."
    )
    answered: int = Field(description="Answers given at this threshold.")
    answered_known: int = Field(description="Answerables given at this threshold that the run answered too.")


class StrictnessCurve(BaseModel):
    """The points of the sweep, best-backed last, and how many answers it could read."""

    operating_threshold: float | None = Field(description="The threshold the run answered with.")
    samples: int = Field(description="Answers with a recorded confidence.")
    skipped: int = Field(description="Answers without one (unknown: skipped), model errors included.")
    points: list[CurvePoint]


def samples_of(records: Sequence[QuestionRecord]) -> tuple[list[CurveSample], int]:
    """The curve's samples from graded records, and how many answered records had no confidence."""
    found: list[CurveSample] = []
    skipped = 0
    for record in records:
        answer = record.answer
        if answer is None:
            continue
        if answer.confidence is None or answer.error is not None or not math.isfinite(answer.confidence):
            skipped += 1
            continue
        given = record.answerable and not answer.refused
        recall = (mean(answer.facts_stated) or 0.0) if given else None
        found.append(CurveSample(record.answerable, answer.confidence, answer.refused, recall))
    return found, skipped


def strictness_curve(samples: Sequence[CurveSample], operating: float | None) -> list[CurvePoint]:
    """One point per distinct threshold: each recorded score, the run's threshold, and one above all.

    Points are in increasing threshold order, so refusals only grow along the list. Empty without samples.
    """
    if not samples:
        return []
    scores = sorted({s.confidence for s in samples} | ({operating} if operating is not None else set()))
    thresholds = [*scores, math.nextafter(scores[-1], math.inf)]
    return [_point(samples, t, operating) for t in thresholds]


def _point(samples: Sequence[CurveSample], threshold: float, operating: float | None) -> CurvePoint:
    refused = [_refused_at(s, threshold, operating) for s in samples]
    answerable = [r for s, r in zip(samples, refused, strict=True) if s.answerable]
    unanswerable = [r for s, r in zip(samples, refused, strict=True) if not s.answerable]
    known = [s.fact_recall for s, r in zip(samples, refused, strict=True) if not r and s.fact_recall is not None]
    return CurvePoint(
        threshold=threshold,
        false_refusal_rate=mean(answerable),
        correct_refusal_rate=mean(unanswerable),
        fact_recall_answered=mean(known),
        answered=sum(not r for r in refused),
        answered_known=len(known),
    )


def _refused_at(sample: CurveSample, threshold: float, operating: float | None) -> bool:
    """Refused at ``threshold``: too weak, or refused in the run for a reason other than the evidence."""
    other_reason = sample.refused and (operating is None or sample.confidence >= operating)
    return sample.confidence < threshold or other_reason


def curve_of(records: Sequence[QuestionRecord], operating: float | None) -> StrictnessCurve:
    """The strictness curve of a run's records (no points when no answer recorded a confidence)."""
    samples, skipped = samples_of(records)
    return StrictnessCurve(
        operating_threshold=operating,
        samples=len(samples),
        skipped=skipped,
        points=strictness_curve(samples, operating),
    )
