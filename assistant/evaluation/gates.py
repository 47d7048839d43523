"""Gates: the thresholds of :class:`EvalSettings` (overall, and per question language if asked),
and the comparison with an earlier run's results.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from assistant.config import EvalSettings
from assistant.errors import BaselineError
from assistant.evaluation.figures import AnswerFigures, Figures
from assistant.reports import number

if TYPE_CHECKING:
    from assistant.evaluation.run import EvalResult

_EPSILON = 1e-9


class Gate(NamedTuple):
    """A threshold of :class:`EvalSettings` and the figure it bounds."""

    setting: str
    label: str
    value: float | None
    upper: bool  # True: the figure must not exceed the threshold


def figure_gates(group: Figures, retrieval_mode: str) -> list[Gate]:
    """The gated figures of one group of questions; answer gates are None in a retrieval-only run."""
    ranked = group.retrieval[retrieval_mode]
    answers = group.answers or AnswerFigures(questions=0, answerable=0, unanswerable=0, errors=0)
    mode = retrieval_mode
    return [
        Gate("min_hit5", f"hit@5 ({mode})", ranked.hit_at_5, False),
        Gate("min_mrr", f"MRR@10 ({mode})", ranked.mrr_at_10, False),
        Gate("min_marker_validity", "marker validity", answers.marker_validity, False),
        Gate("min_citation_support", "citation support", answers.citation_support, False),
        Gate("min_correct_refusals", "correct refusals", answers.correct_refusals, False),
        Gate("max_false_refusals", "false refusals", answers.false_refusals, True),
        Gate("min_fact_recall", "fact recall", answers.fact_recall, False),
    ]


def gates(result: EvalResult) -> list[Gate]:
    """The gated figures of a run, overall."""
    return figure_gates(result.overall, result.retrieval_mode)


def check_thresholds(result: EvalResult, thresholds: EvalSettings, languages: Sequence[str] = ()) -> list[str]:
    """The thresholds the run crosses, each naming the metric, its value and the threshold.

    Every threshold bounds the overall figures, and also the figures of each question language in
    ``languages`` (a language the run has no question in is a failure). Figures that were not
    measured (answers in a retrieval-only run, markers when no answer cites) are not gated.
    """
    failures = _crossed(gates(result), thresholds, "")
    for lang in languages:
        group = result.by_language.get(lang)
        if group is None:
            failures.append(f"no question in {lang!r} to gate (--gate-language {lang})")
            continue
        failures += _crossed(figure_gates(group, result.retrieval_mode), thresholds, f" [{lang}]")
    return failures


def _crossed(found: list[Gate], thresholds: EvalSettings, scope: str) -> list[str]:
    failures = []
    for gate in found:
        limit = float(getattr(thresholds, gate.setting))
        if gate.value is None:
            continue
        crossed = gate.value > limit + _EPSILON if gate.upper else gate.value < limit - _EPSILON
        if crossed:
            relation = "above the maximum" if gate.upper else "below the minimum"
            flag = "--" + gate.setting.replace("_", "-")
            failures.append(f"{gate.label}{scope} {gate.value:.3f} is {relation} {limit:.3f} ({flag})")
    return failures


# --- comparing with a baseline -----------------------------------------------------------------

_RETRIEVAL_KEYS = (
    "hit_at_1", "hit_at_3", "hit_at_5", "hit_at_10", "mrr_at_10", "ndcg_at_10", "passage_hit_at_1", "passage_hit_at_5",
)  # fmt: skip
_ANSWER_KEYS = (
    "fact_recall", "exact_correct", "language_match", "marker_validity", "cited_sentence_share",
    "citation_support", "source_precision", "source_recall", "refusal_precision", "correct_refusals",
    "false_refusals",
)  # fmt: skip
_LOWER_IS_BETTER = frozenset({"false_refusals"})
_RUN_KEYS = ("questions_file", "corpus", "half")


def load_baseline(path: Path | str) -> dict[str, Any]:
    """The JSON results of an earlier run (as :func:`assistant.evaluation.report.write_reports` writes them)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{path}: not a JSON results file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("overall"), dict):
        raise BaselineError(f"{path}: not a results.json of `assistant eval` (no 'overall' figures)")
    return data


def headline(data: dict[str, Any]) -> dict[str, float]:
    """The overall quality figures of a results dict, flattened ("hybrid hit_at_5", "fact_recall")."""
    overall = data.get("overall") or {}
    flat: dict[str, float] = {}
    for mode, ranked in (overall.get("retrieval") or {}).items():
        for key in _RETRIEVAL_KEYS:
            if isinstance(ranked, dict) and isinstance(ranked.get(key), int | float):
                flat[f"{mode} {key}"] = float(ranked[key])
    answers = overall.get("answers") or {}
    for key in _ANSWER_KEYS:
        if isinstance(answers.get(key), int | float):
            flat[key] = float(answers[key])
    return flat


def compare(result: EvalResult, baseline_json_path: Path | str, tolerance: float) -> tuple[list[str], list[str]]:
    """``(differences, regressions)`` of this run's overall figures against an earlier results.json.

    A figure regresses when it is worse than the baseline by more than ``tolerance`` (lower, or
    higher for false refusals). Figures measured only on one side are listed, never regressions;
    so is a baseline graded on another question set, corpus or half.
    """
    baseline = load_baseline(baseline_json_path)
    current = result.model_dump(mode="json")
    differences = [
        f"{key}: {baseline.get(key)!r} in the baseline, {current.get(key)!r} now (figures may not compare)"
        for key in _RUN_KEYS
        if key in baseline and baseline.get(key) != current.get(key)
    ]
    before, after = headline(baseline), headline(current)
    regressions: list[str] = []
    for key in [*after, *(k for k in before if k not in after)]:
        old, new = before.get(key), after.get(key)
        if old is None or new is None:
            differences.append(f"{key}: {number(old)} -> {number(new)} (measured in one run only)")
            continue
        if abs(new - old) < _EPSILON:
            continue
        differences.append(f"{key}: {old:.3f} -> {new:.3f} ({new - old:+.3f})")
        worse = new - old if key in _LOWER_IS_BETTER else old - new
        if worse > tolerance + _EPSILON:
            regressions.append(f"{key} {new:.3f} is worse than the baseline {old:.3f} by more than {tolerance:g}")
    return differences, regressions
