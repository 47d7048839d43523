"""Follow-up questions without a model: keep what the new question asks, borrow what it is about.

"E chi lo ha criticato?" after "Quand Sora a-t-il été présenté ?" asks *who*; it is *about* Sora.
Pasting the two questions together would also ask *when* (and rank dates first). Instead the
follow-up keeps its own wording, and the topic of the conversation is appended: the names of the
previous (resolved) question, or its content words when it names nothing, and, when the previous
question asked for a person and the new one points back at someone ("he", "lui", "il"), the
names its answer gave.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.kinds import names_in, question_kind
from assistant.text.lexicon import FOLLOW_UP_OPENERS, QUESTION_WORDS, REFERRING_WORDS, stopwords
from assistant.text.sentences import fold, words

MAX_TOPIC_WORDS = 6
"""At most this many words of the conversation are borrowed."""
SHORT_QUESTION_WORDS = 4
"""A question of at most this many words that names nothing leans on the conversation."""

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_CITATION = re.compile(r"\[\d+\]")
_INVERTED_SUBJECT = re.compile(r"-(?:t-)?(?:il|elle|ils|elles|on)\b", re.IGNORECASE)
_PERSON_WORDS = frozenset(words("he she him his her lui lei suo sua il elle son sa"))


def is_follow_up(question: str, language: str) -> bool:
    """Whether ``question`` needs the conversation: it opens with "and"/"e"/"et"..., points back
    with a pronoun (in its own language), or is a short question that names nothing."""
    tokens = words(question)
    if not tokens:
        return False
    if tokens[0] in FOLLOW_UP_OPENERS or " ".join(tokens[:2]) in FOLLOW_UP_OPENERS:
        return True
    # "Quand Sora a-t-il été présenté ?": an inverted subject points inside the question, not back
    own_words = set(words(_INVERTED_SUBJECT.sub(" ", question)))
    if REFERRING_WORDS.get(language, frozenset()) & own_words:
        return True
    return not names_in(question) and len(tokens) <= SHORT_QUESTION_WORDS


def topic_words(question: str) -> list[str]:
    """What a question is about, as written: its names first, then its other content words (no
    question or stop words)."""
    found = _WORD.findall(_INVERTED_SUBJECT.sub(" ", question))
    names = names_in(question)
    stop = QUESTION_WORDS | stopwords("en") | stopwords("it") | stopwords("fr")
    found = [_without_elision(w, stop) for w in found]
    chosen = [w for w in found if fold(w) in names]
    chosen += [w for w in found if fold(w) not in names and _content(fold(w), stop)]
    return list(dict.fromkeys(chosen))


def _without_elision(word: str, stop: frozenset[str]) -> str:
    """"l'accès" -> "accès", "OpenAI's" -> "OpenAI": the word the question is about."""
    head, mark, tail = word.replace("’", "'").partition("'")
    if mark and tail.lower() == "s":  # "OpenAI's" -> "OpenAI"
        return head
    return tail if mark and tail and fold(head) in stop | {"l", "d", "qu", "s", "c", "j", "m", "t", "n"} else word


def _content(word: str, stop: frozenset[str]) -> bool:
    parts = [part for part in re.split(r"['-]", word) if part]
    return len(word) > 2 and not word.isdigit() and not all(part in stop for part in parts)


def answer_names(answer: str, exclude: set[str]) -> list[str]:
    """The names an answer gives (capitalised words that do not open a sentence), not in ``exclude``."""
    text = _CITATION.sub("", answer)
    names = names_in(text) - exclude
    return list(dict.fromkeys(w for w in _WORD.findall(text) if fold(w) in names and not w.isdigit()))


def resolve(question: str, history: Sequence[tuple[str, str]], language: str) -> str:
    """``question`` made standalone with the conversation's topic, or unchanged when it stands alone.

    ``history`` is ``(question, answer)`` pairs, oldest first; earlier follow-ups are resolved first.
    """
    if not history or not is_follow_up(question, language):
        return question
    previous_question, previous_answer = history[-1]
    previous = resolve(previous_question, history[:-1], language)
    borrowed = topic_words(previous)
    tokens = set(words(question))
    if question_kind(previous) == "person" and _PERSON_WORDS & tokens:
        asked = {fold(w) for w in borrowed} | set(words(previous))
        borrowed = [*answer_names(previous_answer, asked)[:2], *borrowed]
    borrowed = [w for w in borrowed if fold(w) not in tokens][:MAX_TOPIC_WORDS]
    if not borrowed:
        return question
    return f"{question.strip()} — {', '.join(borrowed)}"
