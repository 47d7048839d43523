"""The ``assistant eval`` command with real parts: the real embedder, a real Chroma, the real catalog,
a tiny corpus of Italian, French and English documents in a temp folder (``--corpus``), the halves of
the seeded split (``--half``), per-language gates, and the shipped corpus with its question set."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from assistant.cli.app import app
from assistant.config import load_settings
from assistant.evaluation.corpus import corpus_data_dir
from assistant.evaluation.questions import load_questions
from assistant.evaluation.run import select
from tests.conftest import CORPUS

SHIPPED = CORPUS / "questions.jsonl"
DOCUMENTS = {
    "colosseo.txt": (
        "Il Colosseo\n\nIl Colosseo è il più grande anfiteatro romano del mondo e si trova nel centro di Roma. "
        "La sua costruzione fu iniziata dall'imperatore Vespasiano e fu completata nell'anno 80 dopo Cristo "
        "dall'imperatore Tito. Poteva contenere circa cinquantamila spettatori, che assistevano ai combattimenti "
        "dei gladiatori e alle cacce di animali feroci. Oggi è uno dei monumenti più visitati d'Italia."
    ),
    "tour_eiffel.txt": (
        "La tour Eiffel\n\nLa tour Eiffel est une tour de fer puddlé construite par l'entreprise de Gustave Eiffel "
        "sur le Champ-de-Mars à Paris. Elle a été construite pour l'Exposition universelle de 1889, qui célébrait "
        "le centenaire de la Révolution française. Haute de 330 mètres avec ses antennes, elle est devenue le "
        "symbole de la capitale française et un site touristique de premier plan."
    ),
    "big_ben.txt": (
        "Big Ben\n\nBig Ben is the nickname of the great bell of the striking clock at the north end of the "
        "Palace of Westminster in London. The name is often used for the clock and the clock tower as well. "
        "The tower was completed in 1859 and was renamed Elizabeth Tower in 2012 to mark the Diamond Jubilee "
        "of Queen Elizabeth II. The bell weighs more than thirteen tonnes."
    ),
}
QUESTIONS = [
    {"id": "c-it", "question": "In che anno fu completato il Colosseo?", "lang": "it", "answerable": True,
     "facts": [["80"]], "sources": ["colosseo.txt"]},
    {"id": "c-en", "question": "Which emperor completed the Colosseum?", "lang": "en", "answerable": True,
     "facts": [["Tito"]], "sources": ["colosseo.txt"]},
    {"id": "e-fr", "question": "Pour quelle exposition la tour Eiffel a-t-elle été construite ?", "lang": "fr",
     "answerable": True, "facts": [["Exposition universelle"]], "sources": ["tour_eiffel.txt"]},
    {"id": "e-en", "question": "How tall is the Eiffel Tower?", "lang": "en", "answerable": True,
     "facts": [["330"]], "sources": ["tour_eiffel.txt"]},
    {"id": "b-en", "question": "What is Big Ben the nickname of?", "lang": "en", "answerable": True,
     "answer": "The great bell of the clock.", "facts": [["great bell"]], "sources": ["big_ben.txt"]},
    {"id": "u-it", "question": "Chi ha vinto il campionato mondiale di calcio nel 2006?", "lang": "it",
     "answerable": False, "facts": [], "sources": []},
    {"id": "none-en", "question": "Who won the football World Cup in 2006?", "lang": "en", "answerable": False,
     "facts": [], "sources": []},
]  # fmt: skip


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    """A corpus of three short documents (it, fr, en) and its question set, in no configured index."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    questions = tmp_path / "tiny.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return folder, questions


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["eval", *args])


def results(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return data


# --- bad input -----------------------------------------------------------------------------------


def write_set(tmp_path: Path, *lines: dict[str, Any]) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_eval_rejects_a_broken_question_set_with_its_line(tmp_path: Path) -> None:
    broken = write_set(tmp_path, QUESTIONS[0], {**QUESTIONS[1], "answerable": "yes"})
    result = invoke("--questions", str(broken), "--retrieval-only")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {broken}:2: field 'answerable'")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "poetic"], "unknown --mode value 'poetic'"),
        (["--half", "middle"], "unknown --half value 'middle' (use all, tune, report)"),
        (["--corpus", "nowhere"], "--corpus: not a folder: nowhere"),
    ],
)
def test_eval_rejects_bad_options_in_one_line(args: list[str], message: str) -> None:
    result = invoke("--questions", str(SHIPPED), *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_empty_half_is_a_usage_error(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    folder, _ = tiny
    only_report = write_set(tmp_path, *(q for q in QUESTIONS if q["id"] in {"e-fr", "e-en"}))
    assert not select(load_questions(only_report), "tune")
    result = invoke("--corpus", str(folder), "--questions", str(only_report), "--half", "tune")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: no question of {only_report} is in the tune half"
    assert not (load_settings().data_dir / "eval").exists()  # nothing indexed for nothing


# --- --corpus, --half, per-pair figures ----------------------------------------------------------


@pytest.mark.slow
def test_corpus_is_indexed_apart_and_synced_on_the_next_run(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    folder, questions = tiny
    settings = load_settings()
    out = tmp_path / "out"
    args = ["--corpus", str(folder), "--questions", str(questions), "--retrieval-only", "--out", str(out)]
    first = invoke(*args)
    assert first.exit_code == 0, first.output + first.stderr
    own = corpus_data_dir(settings, folder)
    assert own.parent == settings.data_dir / "eval" and re.fullmatch(r"[0-9a-f]{12}", own.name)
    assert f"eval index of {folder} in {own}: added 3, updated 0, unchanged 0, removed 0" in first.stderr
    assert not settings.catalog_path.exists()  # the configured index is not touched
    data = results(out)
    assert data["corpus"] == str(folder.resolve()) and data["data_dir"] == str(own)
    assert {r["id"]: r["doc_lang"] for r in data["records"]} == {
        "c-it": "it", "c-en": "it", "e-fr": "fr", "e-en": "fr", "b-en": "en", "u-it": "none", "none-en": "none",
    }  # fmt: skip
    assert set(data["by_pair"]) == {"it/it", "en/it", "fr/fr", "en/fr", "en/en", "it/none", "en/none"}
    assert data["by_pair"]["en/it"]["questions"] == 1 and data["by_pair"]["en/none"]["answerable"] == 0
    hybrid = data["overall"]["retrieval"]["hybrid"]
    assert hybrid["hit_at_5"] == 1.0 and hybrid["passage_hit_at_5"] == 1.0  # every gold passage states its fact
    assert "| en/it | 1 | 1 |" in first.stdout and "passage hit@5" in first.stdout

    again = invoke(*args)
    assert again.exit_code == 0, again.stderr
    assert "added 0, updated 0, unchanged 3, removed 0; 0 passages embedded" in again.stderr

    with (folder / "big_ben.txt").open("a", encoding="utf-8") as changed:
        changed.write(" Its chimes are broadcast by the BBC every day since 1923.")
    (folder / "tour_eiffel.txt").unlink()
    synced = invoke(*args)
    assert "added 0, updated 1, unchanged 1, removed 1;" in synced.stderr
    assert "warning: gold sources not in the index: tour_eiffel.txt" in synced.stderr
    assert results(out)["overall"]["retrieval"]["hybrid"]["hit_at_5"] == pytest.approx(3 / 5)


@pytest.mark.slow
def test_one_half_is_answered_and_the_report_names_it(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    folder, questions = tiny
    out = tmp_path / "tune"
    result = invoke(
        "--corpus", str(folder), "--questions", str(questions), "--half", "tune", "--backend", "embedded",
        "--mode", "extractive", "--out", str(out), "--min-fact-recall", "0", "--min-correct-refusals", "0",
        "--max-false-refusals", "1",
    )  # fmt: skip
    data = results(out)
    tune = [q.id for q in select(load_questions(questions), "tune")]
    assert tune == ["c-it", "c-en", "b-en", "none-en"]  # the split is by document: both Colosseo questions
    assert data["half"] == "tune" and data["set_questions"] == 7
    assert [r["id"] for r in data["records"]] == tune
    assert result.exit_code in (0, 9), result.stderr
    assert "(tune half: 4 of 7)" in result.stdout
    answers = data["overall"]["answers"]
    assert answers["questions"] == 4 and answers["errors"] == 0
    refused = {r["id"] for r in data["records"] if r["answer"]["refused"]}
    assert answers["refusals"] == len(refused)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## False refusals" in report and "## Answered unanswerable questions" in report
    if "none-en" not in refused:
        assert "- `none-en` (en): Who won the football World Cup in 2006?" in report
    curve = data["strictness"]
    assert curve["samples"] + curve["skipped"] == 4
    assert (out / "strictness.png").exists() == bool(curve["points"])


@pytest.mark.slow
def test_per_language_gates_name_the_language(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    folder, questions = tiny
    args = ["--corpus", str(folder), "--questions", str(questions), "--retrieval-only", "--out", str(tmp_path / "o")]
    gated = invoke(*args, "--min-hit5", "1.01", "--min-mrr", "0", "--gate-language", "fr", "--gate-language", "de")
    assert gated.exit_code == 9
    assert "threshold: hit@5 (hybrid) 1.000 is below the minimum 1.010 (--min-hit5)" in gated.stderr
    assert "threshold: hit@5 (hybrid) [fr] 1.000 is below the minimum 1.010 (--min-hit5)" in gated.stderr
    assert "threshold: no question in 'de' to gate (--gate-language de)" in gated.stderr


# --- the configured index ------------------------------------------------------------------------


@pytest.mark.slow
def test_retrieval_only_eval_writes_reports_and_gates(corpus: Path, tmp_path: Path) -> None:
    from assistant.services import build_services

    build_services(load_settings()).ingest([corpus])
    shutil.copy(SHIPPED, tmp_path / "questions.jsonl")
    out = tmp_path / "reports"
    args = ["--retrieval-only", "--questions", str(tmp_path / "questions.jsonl"), "--out", str(out)]
    passed = invoke(*args)
    assert passed.exit_code == 0, passed.output + passed.stderr
    assert "| hit@5 |" in passed.stdout and "## Per question language" in passed.stdout
    assert {p.name for p in out.iterdir()} == {"report.md", "results.json", "chart.png"}
    data = results(out)
    figures = data["overall"]["retrieval"]
    assert figures["hybrid"]["hit_at_5"] >= 0.9 and figures["hybrid"]["mrr_at_10"] >= 0.8
    assert data["corpus"] is None and data["half"] == "all"

    worse = invoke(*args, "-k", "1", "--baseline", str(out / "results.json"))
    assert worse.exit_code == 9
    assert re.search(r"threshold: hit@5 \(hybrid\) 0\.\d+ is below the minimum 0\.900", worse.stderr)
    assert "regression: hybrid hit_at_5" in worse.stderr


def test_eval_without_an_index_says_where_it_looked() -> None:
    result = invoke("--questions", str(SHIPPED), "--retrieval-only")
    assert result.exit_code == 3 and "no index in" in result.stderr
