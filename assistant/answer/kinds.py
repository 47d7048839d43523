"""What kind of answer a question asks for (a person, a date, a duration, a quantity, a place), and
whether a text states one: read from the wording in English, Italian and French.

Ranking reads it (a sentence that cannot answer the kind loses ``misfit``), the refusal decision
reads it (a quantity, a date or a duration that no close sentence states is a veto), and the
extractive answer reads it (a second or third quote only while the kind asked for is unstated).
A definition question ("Qu'est-ce qu'un emploi franc ?") names the term it asks about
(:func:`defined_term`), which the refusal decision looks for in the passages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Literal

from assistant.index.bm25 import tokenize
from assistant.text.lexicon import (
    DEFINING_VERBS,
    FOLLOW_UP_OPENERS,
    MONTHS,
    NUMBER_WORDS,
    QUANTIFIERS,
    TIME_UNITS,
    WEEKDAYS,
)
from assistant.text.sentences import capitalised, fold, split_sentences, words

Kind = Literal["person", "date", "duration", "quantity", "place"]

_KINDS: list[tuple[Kind, re.Pattern[str]]] = [
    (
        "duration",
        re.compile(
            r"^(for )?how long\b(?! (is|are|was|were)\b)|\b(per )?quanto tempo\b|"
            r"\bquanto (dura|durano|durera|e durat[oa]|sono durat[ie])\b|"
            r"\bcombien de temps\b|\b(pendant|depuis|durant) combien\b|\bquelle (est la )?duree\b|"
            r"\bqual e la durata\b|\bwhat is the duration\b"
        ),
    ),
    (
        "quantity",
        re.compile(
            r"\b(how (much|many)|what (percentage|proportion|share|number)|quant[oiae]|quale percentuale|"
            r"combien|quel(le)? (pourcentage|nombre|montant))\b|"
            r"\bhow (old|tall|high|far)\b|\bper (second|minute|hour)\b|"
            r"\b(what|which) (is the )?(price|cost|rate|frame rate)\b|"
            r"\bqual e (il prezzo|il costo)\b|\bquel est (le prix|le cout)\b|"
            r"\b(maximum|minimum|maximale?s?|minimale?s?|maximaux|minimaux|massim[oaie]|minim[oaie])\b|"
            r"^(what|which) (is|was|are|were|s) ((the|its|his|her|their) |(\w+ ){1,4}s )?"
            r"((annual|yearly|monthly|total) )?(salary|salaries|revenue|revenues|turnover|budget)\b|"
            r"^(qual|quale|quali) (e|era|sono|erano) (il |lo |la |i |gli |le |l )?"
            r"(stipendio|stipendi|fatturato|ricavi|budget)\b|"
            r"^(quel|quelle|quels|quelles) (est|etait|sont|etaient) (le |la |les |l |son |sa |ses |leur )?"
            r"(salaire|salaires|chiffre d affaires|budget)\b"
        ),
    ),
    (
        "date",
        re.compile(
            r"^(when|quando|quand)\b|"
            r"\b(what|which|in what|in which) ((exact|precise|specific) )?(year|date|month|day|century)\b|"
            r"\b(quale|quali|che|in quale|in che) (anno|data|mese|giorno|secolo)\b|"
            r"\b(quelle|quel|en quelle) (annee|date|mois|jour)\b|\ba quelle date\b|"
            r"\b(what|which) (is|was) the (date|year)\b|\bqual e (la data|l anno)\b|"
            r"\bquelle (est|etait) (la date|l annee)\b|"
            r"\bdate (of birth|de naissance)\b|\bdata di nascita\b"
        ),
    ),
    (
        "person",
        re.compile(
            r"^(who|whom|whose|chi|qui)\b|"
            r"\b(which|what|quale|quel|quelle) (person|man|woman|ceo|cto|coo|persona|uomo|donna|personne)\b"
        ),
    ),
    ("place", re.compile(r"^(where|dove|ou)\b|\bin (which|what) (country|city|place)\b|\bin quale (paese|citta)\b")),
]
_YEAR_WORD = re.compile(r"(1[0-9]|20)\d\d")
_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:h.][0-5]\d\b")  # 9:15, 10h30, 18.00
_RELATIVE_DATE = re.compile(
    r"\b(yesterday|today|tomorrow|ieri|oggi|domani|hier|demain|aujourd hui)\b|"
    r"\b(last|next) (year|month|week|spring|summer|autumn|fall|winter)\b|"
    r"\b(scors[oa]|prossim[oa]) (anno|mese|settimana|primavera|estate|autunno|inverno)\b|"
    r"\b(anno|mese) (scorso|prossimo)\b|\b(l )?(annee|semaine) (derniere|prochaine)\b|\b(mois|an) (dernier|prochain)\b"
)
"""Dates said relative to the text's own date ("lo scorso anno", "last week", "l'an dernier"), on folded text."""
_YEAR = re.compile(r"\b(1[0-9]|20)\d\d\b|\b\d{3,4}s\b|\banni\s*'?\s*\d0\b")


def question_kind(question: str) -> Kind | None:
    """``person``, ``date``, ``duration``, ``quantity``, ``place`` or None, from the question's wording (en/it/fr).

    Only the question proper is read (up to its question mark, a leading "and"/"e"/"et" left out),
    not the context a follow-up carries after it.
    """
    asked = question.split("?", 1)[0]
    tokens = words(asked.replace("'", " ").replace("’", " "))
    if tokens and tokens[0] in FOLLOW_UP_OPENERS:
        tokens = tokens[1:]
    text = " ".join(tokens)
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return None


def fits_kind(sentence: str, kind: Kind | None) -> bool:
    """Whether the sentence can answer that kind of question (has a date, a number, a name)."""
    if kind is None:
        return True
    if kind == "quantity":
        return bool(re.search(r"\d", sentence)) or bool(answer_tokens(sentence, kind))
    if kind == "duration":
        return bool(answer_tokens(sentence, kind))
    if kind == "date":
        return bool(_YEAR.search(sentence) or answer_tokens(sentence, kind))  # "the 1990s", "anni '80" too
    return bool(answer_tokens(sentence, kind))


def answer_tokens(text: str, kind: Kind | None) -> set[str]:
    """The tokens of ``text`` that can be what a question of this kind asks for (folded): years,
    months, days of the week, clock times and relative dates ("lo scorso anno") for a date, numbers
    for a quantity (a number word written as a name is a name: "Meta" is not "metà"), amounts of
    time for a duration (:func:`durations`), names for a place and, short acronyms ("IA", "CEO")
    left out, for a person (:func:`proper_names`)."""
    if kind == "date":
        folded = words(text)
        found = {w for w in folded if _YEAR_WORD.fullmatch(w) or w in MONTHS or w in WEEKDAYS}
        found |= {m.group() for m in _CLOCK.finditer(text)}
        return found | {m.group() for m in _RELATIVE_DATE.finditer(" ".join(folded))}
    if kind == "quantity":
        return {w for w in words(text) if any(ch.isdigit() for ch in w) or w in NUMBER_WORDS} - proper_names(text)
    if kind == "duration":
        return durations(text)
    if kind in ("person", "place"):
        return proper_names(text, acronyms=kind == "place")
    return set()


def durations(text: str) -> set[str]:
    """The amounts of time ``text`` states, folded: a number or a quantifier, then (at most one word
    later) a unit of time ("sei anni", "3 semaines", "diversi anni", "several long weeks").

    A unit alone is no amount: "un anno dopo il lancio" and "publié cette année" say when, not how
    long; "un"/"a" are left out with the articles they mostly are."""
    folded = words(text)
    found = set()
    for position, word in enumerate(folded):
        if word not in TIME_UNITS:
            continue
        for before in folded[max(0, position - 2) : position]:
            if before in NUMBER_WORDS or before in QUANTIFIERS or any(ch.isdigit() for ch in before):
                found.add(f"{before} {word}")
    return found


_DEFINITION = re.compile(
    r"^(?:qu'est[- ]ce qu(?:e\s+|')(?:(?:le|la|les|un|une|des|du)\s+|l')?"
    r"|(?:che )?cos(?:a\s+|'\s*)(?:e|sono)\s+(?:(?:il|lo|la|i|gli|le|un|uno|una)\s+|l'|un')"
    r"|what (?:is|are) an?\s+)"
    r"(?P<term>[^?]+?)\s*\??$"
)


def defined_term(question: str) -> str | None:
    """The term a definition question asks about, folded ("emploi franc" in "Qu'est-ce qu'un emploi
    franc ?", "garantie accidents de la vie"), or None for another question.

    Only the wordings that ask what a thing is: "qu'est-ce que", "cos'è"/"cosa sono" followed by an
    article ("Cosa è stato fatto…" asks what was done), "what is a/an" ("What is the capital…" asks
    for a value, not a definition)."""
    found = _DEFINITION.match(fold(question).strip())
    return found.group("term").strip() if found else None


_IDENTITY = re.compile(r"^(who (is|was)|chi (e|era)|qui (est|etait))\s+(?P<rest>[^?]+?)\s*\??$")


def identity_names(question: str) -> set[str]:
    """The names a question asks who they are ("Qui est Neal Mohan ?", "Chi è Brad Lightcap?"),
    folded; empty for another question, "Who is the CEO of Google?" included (a role, not a name)."""
    found = _IDENTITY.match(fold(question).strip())
    if not found:
        return set()
    rest = question.strip().rstrip("?？ ").split()[2:]  # after "who is", "chi è", "qui est"
    if not rest or not all(token[:1].isupper() for token in rest):
        return set()
    return names_in(question)


DEFINES_WITHIN = 2
"""A defining sentence names the term among its first content words, this many: "Le dispositif
d'emploi franc permet…" (not "Una cellula vegetale che contiene cloroplasti è…")."""


def defines(term: str, sentence: str, language: str) -> bool:
    """Whether ``sentence`` (in ``language``) says what ``term`` (:func:`defined_term`) is: the
    term's first content word, by stem, among its first :data:`DEFINES_WITHIN` content words, and a
    defining verb (:data:`~assistant.text.lexicon.DEFINING_VERBS`) within the term's length (plus
    an acronym in brackets) after it ("I cloroplasti sono…", "La commission de réforme est…").
    Loose by design, a small weight in ranking: "The role of chloroplasts is…" counts too."""
    head = tokenize(term, language)[:1]
    if not head:
        return False
    folded = words(sentence)
    span = len(term.split()) + 1
    seen = 0
    for position, word in enumerate(folded):
        stems = tokenize(word, language)[:1]
        if not stems:
            continue  # a stopword
        if stems == head:
            return any(w in DEFINING_VERBS for w in folded[position + 1 : position + 1 + span])
        seen += 1
        if seen >= DEFINES_WITHIN:
            return False
    return False


def states_answer(question: str, kind: Kind | None, sentences: Iterable[str]) -> bool:
    """Whether one of ``sentences`` states an answer of ``kind`` (:func:`answer_tokens`) that
    ``question`` does not already hold; False for an untyped question."""
    if kind is None:
        return False
    asked = set(words(question)) | answer_tokens(question, kind)
    if kind == "quantity" and _COUNT.search(" ".join(words(question))) and not asked & TIME_UNITS:
        return any(answer_tokens(text, kind) - asked - _only_counting_time(text) for text in sentences)
    return any(answer_tokens(text, kind) - asked for text in sentences)


def _only_counting_time(text: str) -> set[str]:
    """The numbers of ``text`` that only count units of time ("trois" in "sur trois semaines"): an
    amount of time, which answers how many artists no more than how long a video is answers how
    many. A number that also counts something else ("Trois artistes … trois semaines") is kept."""
    folded = words(text)
    counts: dict[str, list[bool]] = {}
    for position, word in enumerate(folded):
        if any(ch.isdigit() for ch in word) or word in NUMBER_WORDS:
            timed = any(after in TIME_UNITS for after in folded[position + 1 : position + 3])
            counts.setdefault(word, []).append(timed)
    return {word for word, timed in counts.items() if all(timed)}


_COUNT = re.compile(r"\b(how many|combien d|quant[ie]|quante)\b")
"""A question that counts things ("how many artists", "combien d'artistes", "quanti dipendenti"):
what ``_only_counting_time`` applies to, not a price ("quanto costa", "how much … a month")."""


def proper_names(text: str, acronyms: bool = True) -> set[str]:
    """The names of :func:`names_in` without its numbers, folded; with ``acronyms`` False, without
    words of at most three capitals either ("IA", "UE", "CEO": what a person's name is not)."""
    return {
        fold(token)
        for token in _written_as_names(text)
        if not token.isdigit() and (acronyms or not (token.isupper() and len(token) <= 3))
    }


def written_capitalised(text: str) -> set[str]:
    """The folded words of ``text`` written with a capital, an opening word's included: where a
    name already known (a question's) can be found ("Hugging Face", not "fait face")."""
    return {fold(token) for token in re.findall(r"\w+", text) if capitalised(token, opens=False)}


def names_in(text: str) -> set[str]:
    """Folded capitalised words that do not open a sentence (rough proper names), and numbers."""
    return {fold(token) for token in _written_as_names(text)}


def _written_as_names(text: str) -> Iterator[str]:
    """The tokens of ``text`` as written that are numbers or capitalised where they do not open
    their sentence (or capitalised inside: "OpenAI")."""
    for sentence in split_sentences(text):
        tokens = re.findall(r"\w+", sentence.text)
        for position, token in enumerate(tokens):
            if token.isdigit() or (len(token) > 1 and capitalised(token, opens=position == 0)):
                yield token
