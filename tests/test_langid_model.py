"""The unpacked, restricted py3langid model gives exactly the original's probabilities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.text.langid_model import cached_model_path, load_identifier
from assistant.text.language import CANDIDATES
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def original() -> object:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(CANDIDATES))
    return identifier


def texts() -> list[str]:
    questions = [json.loads(line)["question"] for line in (CORPUS / "questions.jsonl").read_text().splitlines()]
    documents = [path.read_text(encoding="utf-8")[:20_000] for path in sorted(CORPUS.glob("*.txt"))]
    odd = ["", "2019", "OpenAI", "Wer ist der COO?", "¿Quién dirige OpenAI?", "ÉTÉ À PARIS", "x" * 5000, "日本語"]
    return questions + documents + odd


def test_the_cached_model_ranks_exactly_as_py3langid(tmp_path: Path, original: object) -> None:
    built = load_identifier(CANDIDATES, tmp_path)  # unpacks and saves
    path = cached_model_path(tmp_path, CANDIDATES)
    assert path.is_file()
    loaded = load_identifier(CANDIDATES, tmp_path)  # read from the saved copy
    for text in texts():
        expected = original.rank(text)  # type: ignore[attr-defined]
        assert built.rank(text) == expected and loaded.rank(text) == expected, text[:60]
    assert cached_model_path(tmp_path, ("en", "it")) != path, "another set of languages is another file"


def test_a_damaged_cached_model_is_unpacked_again(tmp_path: Path, original: object) -> None:
    path = cached_model_path(tmp_path, CANDIDATES)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 not a model")
    identifier = load_identifier(CANDIDATES, tmp_path)
    assert identifier.rank("Chi è il COO di OpenAI?") == original.rank("Chi è il COO di OpenAI?")  # type: ignore[attr-defined]
    assert load_identifier(CANDIDATES, tmp_path).rank("Qui dirige OpenAI ?") == original.rank("Qui dirige OpenAI ?")  # type: ignore[attr-defined]
    assert path.stat().st_size > 1_000_000, "the damaged file was replaced"


def test_without_a_usable_cache_the_original_is_loaded(tmp_path: Path, original: object) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    identifier = load_identifier(CANDIDATES, blocked)
    assert identifier.rank("Who is the COO?") == original.rank("Who is the COO?")  # type: ignore[attr-defined]
    assert load_identifier(CANDIDATES, None).rank("Où est Paris ?") == original.rank("Où est Paris ?")  # type: ignore[attr-defined]
