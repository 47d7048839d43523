"""Language detection for questions and documents, and language names for prompts and messages.

py3langid (restricted to a few European languages) does the work on documents; on short questions,
where a character n-gram model has little to go on, a vote of function words for English, Italian
and French settles the answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import Any

from assistant.text.sentences import capitalised, words

SUPPORTED = ("en", "it", "fr")

# The languages py3langid may answer: the supported ones and their close neighbours, so that a German
# or Spanish text is reported as such rather than forced into English, Italian or French.
CANDIDATES = ("en", "it", "fr", "de", "es", "pt", "nl")

# Text beyond this is not needed to tell a language apart and only costs time.
_SAMPLE_CHARS = 20_000
# Weight of the function-word share against py3langid's probability (both in 0..1).
_VOTE_WEIGHT = 1.5
# Below this probability, and without any function word, py3langid is guessing: use the default.
_MIN_CONFIDENCE = 0.5
# Up to this length a text is read as a question: its names are left out (see ``_without_names``).
_SHORT_CHARS = 300
_QUOTED = re.compile(r'"[^"]*"|“[^”]*”|«[^»]*»')


def _vocabulary(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words, folded (lower case, no accents) as ``sentences.words`` returns them.
# A word listed for several languages splits its vote between them.
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _vocabulary(
        """
        the a an of to and or in on at for with by from about into over after before than this that
        these those it its is are was were be been being do does did has have had will would can
        could should shall may might must not no who whom whose what when where why how which there
        here they them their he him his she her we our you your i me my much many more most some
        any all also only just very so if then but as up out new first last say said says s t me
        """
    ),
    "it": _vocabulary(
        """
        il lo la i gli le un uno una di del dello della dei degli delle da dal dallo dalla dai dagli
        dalle a al allo alla ai agli alle in nel nello nella nei negli nelle su sul sullo sulla sui
        sugli sulle con per tra fra e ed o ma anche che chi cosa cose come quando dove perche quale
        quali quanto quanta quanti quante e stato stata stati state sono era erano ha hanno ho
        abbiamo essere avere non piu si ci ne mi ti vi questo questa questi queste quello quella
        quelli quelle suo sua suoi sue loro gia ancora molto dopo prima detto fatto qual cui se l
        """
    ),
    "fr": _vocabulary(
        """
        le la les l un une des du de d au aux et ou mais donc car ni que qu qui quoi quel quelle
        quels quelles pourquoi comment combien quand ou dans sur sous avec pour par sans chez entre
        est sont etait etaient ete sera seront a ont avait avoir etre fait il ils elle elles on nous
        vous je j ce c cet cette ces son sa ses leur leurs lui y en ne n pas plus tres aussi deja
        encore apres avant selon s se si non me
        """
    ),
}

# fmt: off
_NAMES: dict[str, dict[str, str]] = {
    "en": {"en": "English", "it": "Italian", "fr": "French", "de": "German", "es": "Spanish",
           "pt": "Portuguese", "nl": "Dutch"},
    "it": {"en": "inglese", "it": "italiano", "fr": "francese", "de": "tedesco", "es": "spagnolo",
           "pt": "portoghese", "nl": "olandese"},
    "fr": {"en": "anglais", "it": "italien", "fr": "français", "de": "allemand", "es": "espagnol",
           "pt": "portugais", "nl": "néerlandais"},
}
# fmt: on


def detect_language(text: str, default: str = "en") -> str:
    """Return the ISO 639-1 code of the language of ``text``.

    Works on short questions as well as whole documents. Returns ``default`` when the text has no
    words or gives no usable evidence (e.g. a lone name).
    """
    sample = _without_names(text) if len(text) <= _SHORT_CHARS else text[:_SAMPLE_CHARS]
    tokens = [token for token in words(sample) if not token.isdigit()]
    if not tokens:
        return default
    probabilities = _langid_probabilities(sample)
    votes = _function_word_votes(tokens)
    if not votes and max(probabilities.values()) < _MIN_CONFIDENCE:
        return default
    scores = {
        code: probability + _VOTE_WEIGHT * votes.get(code, 0.0) / len(tokens)
        for code, probability in probabilities.items()
    }
    return max(scores, key=lambda code: scores[code])


def _without_names(text: str) -> str:
    """A short text without its names (capitalised words after the first, "OpenAI") and quoted titles,
    which say nothing of its language: in "Qui dirige la Stella Gallery ?" the Italian-looking
    "Stella" outvoted "qui" and "dirige". The text itself when nothing else is left (a lone name)."""
    tokens = _QUOTED.sub(" ", text).split()
    kept = tokens[:1] + [t for t in tokens[1:] if not capitalised(t, opens=False)]
    return " ".join(kept) if words(" ".join(kept)) else text


def language_name(code: str, in_language: str | None = None) -> str:
    """The name of language ``code``, in English or in ``in_language`` ("it" -> "Italian"/"italiano").

    Unknown codes are returned unchanged.
    """
    names = _NAMES.get(in_language or "en", _NAMES["en"])
    return names.get(code, code)


def _function_word_votes(tokens: list[str]) -> dict[str, float]:
    votes: dict[str, float] = defaultdict(float)
    for token in tokens:
        languages = [code for code, vocabulary in _FUNCTION_WORDS.items() if token in vocabulary]
        for code in languages:
            votes[code] += 1 / len(languages)
    return votes


def _langid_probabilities(text: str) -> dict[str, float]:
    identifier = _identifier()
    return {str(code): float(probability) for code, probability in identifier.rank(text)}


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """The py3langid model, loaded once on first use and restricted to ``CANDIDATES``.

    Kept unpacked in the user cache (:mod:`assistant.text.langid_model`): unpacking py3langid's
    compressed model cost every new process 0.3-0.7 s.
    """
    from assistant.locations import user_cache_dir
    from assistant.text.langid_model import load_identifier

    return load_identifier(CANDIDATES, user_cache_dir())
