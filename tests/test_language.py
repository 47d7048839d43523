from pathlib import Path

import pytest

from assistant.text.language import SUPPORTED, detect_language, language_name

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

QUESTIONS = {
    "en": [
        "Who is OpenAI's COO?",
        "When was Sora presented?",
        "What is the capital of Australia?",
        "How much does Sora cost?",
        "Why was the release of Sora delayed?",
        "Which studios did OpenAI meet in Los Angeles?",
        "Did Mira Murati say Sora would be released this year?",
        "Is Sora available in Europe?",
        "Who leaked access to Sora?",
        "Where is the Stella Gallery?",
        "Tell me about Sora",
        "OpenAI's CTO",
        'When was the article "OpenAI tenta la conquista di Hollywood con Sora" published?',  # a quoted title
    ],
    "it": [
        "Chi ha detto che Sora è stato lanciato troppo presto?",
        "Quando è stato presentato Sora?",
        "Cosa pensano i sindacati?",
        "Chi è il CTO di OpenAI?",
        "Quanto costa Sora?",
        "Perché Sora non è ancora disponibile?",
        "Dove si sono svolti gli incontri con Hollywood?",
        "Quali studi cinematografici hanno incontrato OpenAI?",
        "Sora è disponibile in Italia?",
        "Cosa hanno fatto i beta tester?",
        "Chi è Brad Lightcap?",
        "Che cos'è Sora?",
        "Chi è Neal Mohan?",
    ],
    "fr": [
        "Qui est le directeur technique d'OpenAI ?",
        "Combien coûte Sora ?",
        "Pourquoi la sortie de Sora est-elle retardée ?",
        "Quand Sora sera-t-il publié ?",
        "Quels sont les risques de sécurité ?",
        "Qu'a dit Neal Mohan ?",
        "Où se déroule l'exposition New Roads ?",
        "Sora est-il disponible en France ?",
        "Quelles entreprises chinoises ont lancé des modèles ?",
        "Que pense Ashton Kutcher de Sora ?",
        "Qui a parlé de Sora ?",
        "Comment fonctionne Sora ?",
        "Qui dirige la Stella Gallery ?",  # "Stella" is no Italian evidence: names are left out
        "Qui est Neal Mohan ?",
    ],
}

CASES = [(question, language) for language, questions in QUESTIONS.items() for question in questions]


@pytest.mark.parametrize(("question", "expected"), CASES)
def test_short_questions(question: str, expected: str) -> None:
    assert detect_language(question) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("000_9054f5f7106c5075.txt", "it"),
        ("001_bfcfb1f07bcdb431.txt", "it"),
        ("002_21cd4d0107916324.txt", "it"),
        ("003_1aeb26e51effe5d5.txt", "it"),
        ("004_5eaa805196ca9fd9.txt", "fr"),
    ],
)
def test_corpus_documents(name: str, expected: str) -> None:
    assert detect_language((CORPUS / name).read_text(encoding="utf-8")) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wer ist der Geschäftsführer von OpenAI?", "de"),
        ("¿Quién es el director técnico de OpenAI?", "es"),
        ("WHO IS THE CEO OF OPENAI?", "en"),
    ],
)
def test_other_languages_and_upper_case(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "2024", "Sora?", "OpenAI"])
def test_no_evidence_gives_default(text: str) -> None:
    assert detect_language(text, default="it") == "it"


def test_language_names() -> None:
    assert SUPPORTED == ("en", "it", "fr")
    assert language_name("it") == "Italian"
    assert language_name("it", "it") == "italiano"
    assert language_name("en", "fr") == "anglais"
    assert language_name("fr", "it") == "francese"
    assert language_name("xx") == "xx"
