"""The words the assistant knows by heart, in English, Italian and French, written once.

Stop words (BM25 and citation matching), month names (document dates and "when" questions) and the
words that make a question a follow-up. Folded forms: lower case, no accents (see ``sentences.fold``).
"""

from __future__ import annotations

from functools import lru_cache

from assistant.text.sentences import words

LANGUAGES = ("en", "it", "fr")
"""The languages with stemmers, stop words and phrases."""

STOPWORDS = {
    "en": "a an and are as at be by did do does for from had has have he her his how i in is it its "
    "of on or she so that the their them they this to was were what when where which who whom why "
    "will with you about after before into than then there these those been being can could would "
    "should may might say said says also not no",
    "it": "a ad al alla alle agli ai anche che chi ci come con cosa cui da dal dalla dei del della "
    "delle degli di dove e ed gli ha hanno i il in la le lo ma ne nei nel nella nelle non o per "
    "perché più quale quali quando quanto questa questo se si sono su sua suo sul sulla tra un una "
    "uno è stato stata essere ha hanno detto dice",
    "fr": "a au aux avec ce ces cette comment dans de des du elle en est et il ils la le les leur "
    "lui mais ne ni on ou où par pas pour pourquoi qu que quel quelle quels qui quoi sa se ses son "
    "sont sur un une été être d l s n c j m t y ont fait dit",
}


@lru_cache(maxsize=8)
def stopwords(language: str) -> frozenset[str]:
    """Folded stop words of ``language`` (empty for an unknown language)."""
    return frozenset(words(STOPWORDS.get(language, "")))


@lru_cache(maxsize=1)
def all_stopwords() -> frozenset[str]:
    """The stop words of every supported language."""
    return frozenset().union(*(stopwords(language) for language in LANGUAGES))


MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "gennaio": 1, "febbraio": 2, "marzo": 3, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7,
    "agosto": 8, "settembre": 9, "ottobre": 10, "dicembre": 12,
    "janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "aout": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12,
}  # fmt: skip
WEEKDAYS = frozenset(
    words(
        "monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays thursdays "
        "fridays saturdays sundays lunedi martedi mercoledi giovedi venerdi sabato domenica domeniche "
        "lundi mardi mercredi jeudi vendredi samedi dimanche lundis mardis mercredis jeudis vendredis "
        "samedis dimanches"
    )
)
"""Folded names of the days of the week ("When does the ferry run?" is answered "on Sundays")."""
# Abbreviations are only trusted next to a day number ("25 Mar 2024", "Mar. 25, 2024").
MONTH_ABBREVIATIONS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12, "gen": 1, "mag": 5, "giu": 6, "lug": 7, "ago": 8, "set": 9,
    "ott": 10, "dic": 12, "janv": 1, "fev": 2, "fevr": 2, "avr": 4, "juil": 7,
}  # fmt: skip


TIME_UNITS = frozenset(
    words(
        "second seconds minute minutes hour hours day days week weeks month months year years decade decades "
        "century centuries secondi minuto minuti ore giorno giorni settimana settimane mese mesi anno anni "
        "decennio decenni secolo secoli secondes minutes heure heures jour jours semaine semaines mois ans "
        "annee annees decennie decennies siecle siecles"
    )
)
"""Folded units of time: after a number or a quantifier, the answer to a "how long" ("diversi anni").

Left out for being other words as well: "secondo"/"seconde" (according to, second), "ora" (now),
"an" (the English article)."""

QUANTIFIERS = frozenset(
    words(
        "several few many some couple diversi diverse alcuni alcune pochi poche molti molte parecchi parecchie "
        "qualche vari varie plusieurs quelques nombreux nombreuses"
    )
)
"""Folded words that count without a number ("diversi anni", "plusieurs mois"): an amount of time."""

DEFINING_VERBS = frozenset(
    words(
        "is are was were means refers denotes e sono era erano significa indica designa consiste "
        "est sont etait designe signifie consiste permet permettent"
    )
)
"""Folded verbs that say what a thing is, right after it ("Les cloroplasti sono…", "Le dispositif
d'emploi franc permet…"); "e" is Italian "è" folded (and "and" as well: a definition only where it
follows the term)."""

NUMBER_WORDS = frozenset(
    words(
        "two three four five six seven eight nine ten eleven twelve twenty hundred thousand million "
        "billion dozen none half due tre quattro cinque sei sette otto nove dieci undici dodici venti "
        "cento mille mila milione milioni miliardo miliardi dozzina nessuno nessuna meta deux trois quatre "
        "cinq six sept huit neuf dix onze douze vingt cent mille million millions milliard aucun aucune moitie "
        "hundreds thousands millions billions dozens centinaia migliaia decine dozzine centaines milliers "
        "dizaines douzaines milliards"
    )
)
"""Folded number words (a "how many" question can be answered by "tre" as well as by "3").

"one", "un", "uno" and "una" are left out: they are mostly articles and pronouns."""

FOLLOW_UP_OPENERS = {
    "and",
    "but",
    "also",
    "what about",
    "e",
    "ed",
    "ma",
    "anche",
    "et",
    "mais",
    "aussi",
    "he",
    "she",
    "it",
    "they",
    "him",
    "her",
    "them",
    "lui",
    "lei",
    "loro",
    "il",
    "elle",
    "ils",
    "elles",
}
PRONOUNS = {
    "he",
    "she",
    "him",
    "her",
    "they",
    "them",
    "his",
    "lui",
    "lei",
    "loro",
    "suo",
    "sua",
    "il",
    "elle",
    "son",
    "sa",
}

REFERRING_WORDS = {
    "en": frozenset(words("he she him her his hers they them their theirs it its")),
    "it": frozenset(words("lui lei loro esso essa essi esse suo sua suoi sue lo")),
    "fr": frozenset(words("il elle ils elles lui leur leurs eux son sa ses celui celle ceux cela")),
}
"""Words that point back into the conversation, per language (clitics such as "lo" in "chi lo ha criticato")."""

QUESTION_WORDS = frozenset(
    words(
        "who whom whose what which when where why how much many "
        "chi che cosa qual quale quali quando dove perche perché come quanto quanta quanti quante "
        "qui que quoi quel quelle quels quelles quand ou où pourquoi comment combien est-ce ce"
    )
)
"""Interrogative words (en/it/fr), folded: what a question asks, never what it is about."""

