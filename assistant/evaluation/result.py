"""The outcome of one evaluation run, as the reports, the gates and results.json read it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.evaluation.curve import StrictnessCurve
from assistant.evaluation.figures import Figures
from assistant.evaluation.grading import QuestionRecord


class EvalResult(BaseModel):
    """The settings of one run, its figures (overall, per language, per language pair), and its records."""

    created_at: str
    questions_file: str = ""
    corpus: str | None = Field(
        default=None, description="The folder indexed for this run (None: the configured index)."
    )
    data_dir: str = Field(default="", description="The data directory of the index graded.")
    half: str = Field(default="all", description="The questions graded: tune, report or all (evaluation.split).")
    set_questions: int = Field(default=0, description="Questions in the set, before the half was chosen.")
    retrieval_only: bool
    k: int | None = Field(description="Passages per question as asked (None: the settings' default).")
    retrieval_depth: int = Field(description="Passages retrieved per question for the retrieval metrics.")
    retrieval_mode: str = Field(description="The retrieval mode answers use; its figures are gated.")
    mode: str | None = Field(description="Answer mode asked for (None: the settings' default).")
    backend: str | None = Field(description="Backend asked for (None: the settings' default).")
    answered_by: list[str] = Field(default_factory=list, description="backend/model/mode that answered.")
    missing_sources: list[str] = Field(default_factory=list, description="Gold documents not in the index.")
    seconds: float = 0.0
    overall: Figures
    by_language: dict[str, Figures]
    by_pair: dict[str, Figures] = Field(
        default_factory=dict, description="Per 'question language/document language' ('none': no gold source)."
    )
    strictness: StrictnessCurve | None = Field(
        default=None, description="The refusal trade-off replayed from the recorded confidences (None: no answers)."
    )
    records: list[QuestionRecord]
