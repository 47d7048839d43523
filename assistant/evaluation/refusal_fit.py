"""Fitting the refusal model of :mod:`assistant.answer.evidence` on one half of a question set.

The positives are the answerable questions; the negatives are the unanswerable ones and, so that
the model sees passages that do not answer in every language pair, each answerable question asked
again over every document but its gold ones (a :class:`~assistant.models.Scope` of the others).
The signals are the ones :func:`~assistant.answer.evidence.gather` computes over the passages the
retriever returns, so a fit reads exactly what an answer reads. The model is a logistic regression
(Newton's method, an L2 penalty on standardised signals, folded back to raw units; the penalty is
the one of :data:`PENALTIES` with the lowest log-loss in a cross-validation by document,
:func:`cross_validate`), and the strictness is the highest step that refuses at most a given share
of the answerable questions. With it the model was refitted on qa-dev's tune half (2026-12-02,
with a ``margin`` signal and the relation read in the question's language only): it did better
there but refused answerable Sora questions the shipped model answers, so ``INTERCEPT`` and
``WEIGHTS`` are still those of 2026-12-01 (README, "Quality figures").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from assistant.answer.evidence import WEIGHTS, Evidence, gather
from assistant.answer.rank import rank
from assistant.models import Scope
from assistant.text.language import detect_language

if TYPE_CHECKING:
    from assistant.evaluation.questions import Question
    from assistant.services import Services

SIGNALS = tuple(WEIGHTS)
"""The weighted signals, in the order of the shipped model's :data:`~assistant.answer.evidence.WEIGHTS`
(``states_kind`` is a veto, not fitted)."""
PENALTIES = (0.001, 0.1, 1.0, 3.0, 10.0, 30.0)
"""L2 penalties tried by :func:`cross_validate`. On qa-dev's tune half (5 folds by document, with
the margin signal) the log-loss was 0.366, 0.360, 0.334, 0.318, 0.318, 0.352: 3 is the default of
:func:`fit_refusal`."""


@dataclass(frozen=True)
class Sample:
    """One question as the refusal model sees it: its signals, and whether the passages answer it."""

    question_id: str
    evidence: Evidence
    answered: bool
    left_out: bool = False  # an answerable question asked without its gold documents
    group: str = ""  # what keeps related samples in one fold: the question's first gold document


@dataclass(frozen=True)
class RefusalFit:
    """A fitted model: ``confidence = 1 / (1 + exp(-(intercept + sum(weights[s] * signal s))))``."""

    intercept: float
    weights: dict[str, float]
    strictness: float
    auc: float


def samples(services: Services, questions: Sequence[Question], k: int | None = None) -> list[Sample]:
    """The signals of every question, and of every answerable one again without its gold documents."""
    others = [info.doc_id for info in services.documents()]
    found: list[Sample] = []
    for question in questions:
        group = sorted(question.sources)[0] if question.sources else question.id
        asked = _evidence(services, question.question, k, None)
        found.append(Sample(question.id, asked, question.answerable, group=group))
        if question.answerable:
            scope = Scope(doc_ids=[doc for doc in others if doc not in question.sources])
            if scope.doc_ids:
                left = _evidence(services, question.question, k, scope)
                found.append(Sample(question.id, left, False, True, group))
    return found


def _evidence(services: Services, question: str, k: int | None, scope: Scope | None) -> Evidence:
    language = detect_language(question)
    hits = services.search(question, k=k, scope=scope).hits
    return gather(question, language, hits, rank(question, language, hits, services.embedder))


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 0.001, iterations: int = 50) -> np.ndarray:
    """Intercept then weights, in the features' own units, of an L2-penalised logistic regression.

    The features are standardised for Newton's method (the penalty weighs every feature alike) and
    the weights folded back, so that ``intercept + features @ weights`` is the fitted log-odds.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    design = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    penalty = l2 * np.diag(np.r_[0.0, np.ones(x.shape[1])])
    w = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        gradient = design.T @ (p - y) + penalty @ w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    weights = w[1:] / scale
    return np.r_[w[0] - float(weights @ mean), weights]


def highest_strictness(answerable: Sequence[float], max_refused: float = 0.05, step: float = 0.05) -> float:
    """The highest multiple of ``step`` below 1 that refuses at most ``max_refused`` of these confidences."""
    values = np.asarray(answerable, dtype=np.float64)
    best = 0.0
    for i in range(1, round(1 / step)):
        if values.size and float(np.mean(values < i * step)) <= max_refused + 1e-12:
            best = i * step
    return round(best, 6)


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The chance that a positive scores above a negative (ties count half); 0.5 without both."""
    pos = np.asarray([s for s, y in zip(scores, labels, strict=True) if y])
    neg = np.asarray([s for s, y in zip(scores, labels, strict=True) if not y])
    if not pos.size or not neg.size:
        return 0.5
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (pos.size * neg.size))


def _matrix(found: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
    features = np.array([[asdict(s.evidence)[name] for name in SIGNALS] for s in found], dtype=np.float64)
    return features, np.array([s.answered for s in found], dtype=np.float64)


def cross_validate(found: Sequence[Sample], l2: float, folds: int = 5) -> float:
    """Mean log-loss of the fit with penalty ``l2`` on held-out folds; samples of one group (gold
    document) share a fold, so no fold is scored on a document it was fitted on."""
    features, labels = _matrix(found)
    fold = np.array([hashlib.sha256(s.group.encode()).digest()[0] % folds for s in found])
    loss = 0.0
    for held in range(folds):
        train, test = fold != held, fold == held
        if not test.any() or len(set(labels[train])) < 2:
            continue
        coefficients = fit_logistic(features[train], labels[train], l2)
        p = 1.0 / (1.0 + np.exp(-np.clip(coefficients[0] + features[test] @ coefficients[1:], -30, 30)))
        loss -= float(np.sum(labels[test] * np.log(p) + (1 - labels[test]) * np.log(1 - p)))
    return loss / len(found)


def fit_refusal(found: Sequence[Sample], max_refused: float = 0.05, l2: float = 3.0) -> RefusalFit:
    """Fit the model on these samples and choose the strictness (see :func:`highest_strictness`)."""
    features, labels = _matrix(found)
    coefficients = fit_logistic(features, labels, l2)
    z = np.clip(coefficients[0] + features @ coefficients[1:], -700, 700)
    confidence = 1.0 / (1.0 + np.exp(-z))
    return RefusalFit(
        intercept=float(coefficients[0]),
        weights={name: float(w) for name, w in zip(SIGNALS, coefficients[1:], strict=True)},
        strictness=highest_strictness([c for c, y in zip(confidence, labels, strict=True) if y], max_refused),
        auc=auc(list(confidence), list(labels)),
    )
