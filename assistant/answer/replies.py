"""What small instruct models write around an answer, read the way they actually write it.

Models such as qwen2.5:3b, llama3.2:3b, gemma3:4b or phi write citation markers in many forms
(normalised by :mod:`assistant.answer.markers`), add a "Sources:" list or footnotes of their own
(removed by :func:`clean_reply`: the sources shown are rendered from the verified citations), and
refuse in words instead of with the exact marker ("Les documents ne contiennent pas…", "Non lo
so", ``**NOT_IN_DOCUMENTS**``), which :func:`is_refusal_sentence` recognises in English, Italian
and French. Whether a whole reply is a refusal also depends on what the rest of it says; that
decision is :func:`assistant.answer.citations.is_refusal`.

All patterns run over folded text (lower case, no accents, plain apostrophes), line by line or
sentence by sentence, and are linear in its length.
"""

from __future__ import annotations

import re

from assistant.answer.markers import normalize_markers
from assistant.text.sentences import fold

# -- refusals --------------------------------------------------------------------------------------

_MARKER = r"\bnot[_ -]?in[_ -]?(?:the[_ ])?documents?\b"
_SOURCES_EN = r"(?:documents?|passages?|sources?|texts?|context|articles?|excerpts?|information)"
_SOURCES_IT = r"(?:documenti|documento|passaggi|passaggio|testi|testo|brani|brano|fonti|articoli|articolo|estratti)"
_SOURCES_FR = r"(?:documents?|passages?|textes?|sources?|extraits?|articles?)"
_SAY_EN = (
    r"(?:contain|mention|say|state|include|provide|specify|discuss|address|answer|give|cover|indicate|"
    r"reveal|explain|talk|offer|tell|describe|name|identify|list)"
)
_SAY_IT = (
    r"(?:dicono|dice|contengono|contiene|menzionano|menziona|parlano|parla|riportano|riporta|forniscono|"
    r"fornisce|specificano|specifica|indicano|indica|citano|cita|spiegano|spiega|rispondono|risponde|"
    r"trattano|tratta|precisano|precisa|chiariscono|chiarisce|danno|da|rivelano|rivela)"
)
_SAY_FR = (
    r"(?:contiennent|contient|mentionnent|mentionne|disent|dit|precisent|precise|parlent|parle|indiquent|"
    r"indique|donnent|donne|fournissent|fournit|repondent|repond|traitent|traite|expliquent|explique|"
    r"evoquent|evoque|abordent|aborde|permettent|permet|citent|cite|revelent|revele)"
)
_GAP = r"[^.!?\n]{0,40}?"  # a few words ("provided", "at all", "forniti", "fournis")
_REFUSAL_PATTERNS = [
    _MARKER,
    # English
    rf"\b(?:the|these|those|this|provided|given|available){_GAP}\b{_SOURCES_EN}\b{_GAP}"
    rf"\b(?:do|does|did|can|could)(?:n't| not)\b{_GAP}\b{_SAY_EN}",
    rf"\b(?:no|none of the|neither of the|not one of the)\s+{_SOURCES_EN}\b{_GAP}\b{_SAY_EN}",
    rf"\bthere (?:is|are|'s) no\b{_GAP}\b(?:information|mention|answer|indication|reference|data|details?)\b",
    rf"\b(?:is|are|was|were)(?:n't| not)\b{_GAP}\b(?:mentioned|stated|specified|given|provided|found|covered|"
    rf"addressed|discussed|included|available|indicated|said)\b{_GAP}\b(?:in|by|from)\b{_GAP}\b{_SOURCES_EN}\b",
    r"\bi (?:do not|don't|cannot|can't|could not|couldn't|am unable to|am not able to)\s+"
    r"(?:know|find|answer|tell|say|determine)\b",
    rf"\b{_SOURCES_EN}\b{_GAP}\b(?:are silent|say nothing|make no mention|have no information|lack)\b",
    r"\b(?:not enough|insufficient|no relevant) (?:information|context|evidence)\b",
    # Italian
    rf"\b{_SOURCES_IT}\b{_GAP}\bnon\s+(?:(?:lo|ne|ci|si)\s+)?{_SAY_IT}\b",
    rf"\b(?:nessun|nessuno|nessuna)\s+(?:dei\s+|degli\s+|delle\s+)?{_SOURCES_IT}\b{_GAP}\b{_SAY_IT}\b",
    r"\bnon (?:lo|le) so\b|\bnon so\b|\bnon (?:posso|sono in grado di|e possibile) (?:rispondere|dirlo|dire|saperlo|"
    r"stabilire|determinare)\b",
    rf"\bnon (?:e|sono|viene|vengono) (?:mai\s+)?(?:menzionat|indicat|specificat|riportat|dett|citat|chiarit|"
    rf"precisat|spiegat|trattat)[oaie]\b{_GAP}\b{_SOURCES_IT}\b",
    r"\bnon (?:ci sono|vi sono|c'e|ho|trovo|contiene|ci e) (?:alcuna |nessuna |delle )?(?:informazion[ei]|"
    r"riferiment[oi]|dati|menzion[ei]|traccia)\b",
    # French
    rf"\b{_SOURCES_FR}\b{_GAP}\bn(?:e\s+|')(?:le\s+|l'|en\s+|y\s+)?{_SAY_FR}\b{_GAP}"
    r"\b(?:pas|aucune?|rien|nulle part)\b",
    rf"\baucun(?:e)?\s+(?:des\s+)?{_SOURCES_FR}\b{_GAP}\bne\b{_GAP}\b{_SAY_FR}\b",
    r"\bje ne (?:le )?sais pas\b|\bje ne peux pas (?:repondre|le dire|dire|determiner|savoir)\b",
    rf"\bn'(?:est|sont) pas (?:mentionne|indique|precise|dit|cite|aborde|evoque|explique)e?s?\b{_GAP}\b"
    rf"{_SOURCES_FR}\b",
    r"\bil n'y a (?:pas|aucune?) (?:d'|de\s+)?(?:information|mention|indication|reference|donnee)s?\b",
]
_REFUSAL = re.compile("|".join(f"(?:{pattern})" for pattern in _REFUSAL_PATTERNS))
_BARE_MARKER = re.compile(r"(?i)[*_`\"'«»“”(\[]{0,4}\bnot[_ -]?in[_ -]?(?:the[_ ])?documents?\b[*_`\"'«»“”)\].!]{0,4}")


# "They are about OpenAI and Sora", "I passaggi parlano di Sora": what the documents are about,
# which a refusal often adds; it answers nothing.
_ABOUT_PATTERNS = [
    rf"^(?:the |these |those |both |all )?(?:{_SOURCES_EN}|they)\b{_GAP}\b(?:are|is|seem|appear)?\s*(?:only |mostly "
    r"|mainly )?(?:about|talk about|discuss|deal with|focus on|concern|describe|cover|speak about|refer to|mention only"
    r"|only mention)\b",
    rf"^(?:i |questi |gli |entrambi i |tutti i )?{_SOURCES_IT}\b{_GAP}\b(?:parlano|trattano|riguardano|si concentrano|"
    r"descrivono|discutono|si occupano|menzionano solo|citano solo)\b",
    rf"^(?:les |ces |tous les )?{_SOURCES_FR}\b{_GAP}\b(?:parlent|traitent|portent|concernent|decrivent|evoquent|"
    r"abordent|se concentrent|ne parlent que|ne traitent que)\b",
]
_ABOUT = re.compile("|".join(f"(?:{pattern})" for pattern in _ABOUT_PATTERNS))


def is_about_the_documents(sentence: str) -> bool:
    """Whether ``sentence`` only says what the documents are about ("I passaggi parlano di Sora")."""
    return bool(_ABOUT.search(fold(sentence).lstrip("*_-•> \t")))


def is_refusal_sentence(sentence: str) -> bool:
    """Whether ``sentence`` says the documents do not hold the answer (in en, it or fr).

    The refusal marker counts too, decorated or not (``**NOT_IN_DOCUMENTS**``, ``NOT IN
    DOCUMENTS.``), and so do "I don't know" and its Italian and French forms.
    """
    return bool(_REFUSAL.search(fold(sentence)))


def remove_refusal_marker(text: str) -> str:
    """``text`` without the refusal marker and its decorations (left in a partial answer)."""
    return _BARE_MARKER.sub("", text)


# -- the model's own list of sources ---------------------------------------------------------------

_SOURCES_WORD = (
    r"(?:sources?|references?|citations?|bibliography|cited (?:passages|sources|documents)|passages? (?:cited|used)|"
    r"fonti|fonte|riferimenti|bibliografia|passaggi (?:citati|utilizzati)|documenti (?:citati|utilizzati)|"
    r"references|bibliographie|documents? cites|passages? cites|extraits? cites)"
)
_SOURCES_HEADING = re.compile(
    rf"^[ \t#>*_-]{{0,8}}{_SOURCES_WORD}(?:[ \t]{{1,3}}(?:used|utilizzate|utilisees|consultate|consultees))?"
    rf"[ \t*_]{{0,4}}(?:[:：][ \t*_]{{0,4}}[^\n]{{0,300}})?$"
)
# Markdown footnote definitions: "[^1]: ...", "[1]: ...", "^1 ..."
_FOOTNOTE = re.compile(r"^[ \t]{0,8}(?:\[\^?\d{1,3}\][ \t]{0,3}:|\^\d{1,3}[ \t:])")
_RULE = re.compile(r"^[ \t]{0,8}(?:[-*_=][ \t]{0,2}){3,40}$")
_MAX_LIST_LINES = 20
_MAX_LIST_LINE = 300


def clean_reply(text: str) -> str:
    """A model's reply with normalised ``[n]`` markers and without its own trailing source list.

    A trailing block that opens with a "Sources:" / "Fonti:" / "Références :" heading (short list
    lines after it, or the list on the heading's own line), or that is made only of footnote
    definitions (``[^1]: ...``, ``[1]: ...``), is removed, with a horizontal rule before it. The
    first line of a reply is never taken for a source list.
    """
    lines = text.split("\n")
    cut = _source_block_start(lines)
    if cut is not None:
        while cut > 0 and (not lines[cut - 1].strip() or _RULE.match(lines[cut - 1])):
            cut -= 1
        lines = lines[:cut]
    return normalize_markers("\n".join(lines)).strip()


def _source_block_start(lines: list[str]) -> int | None:
    """Index of the first line of the trailing source list, if the reply ends with one (never line 0)."""
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    for index in range(end - 1, max(0, end - 1 - _MAX_LIST_LINES), -1):
        if len(lines[index]) > _MAX_LIST_LINE:
            break
        if _SOURCES_HEADING.match(fold(lines[index])):
            return index
    start = end
    while start > 0 and (_FOOTNOTE.match(lines[start - 1]) or not lines[start - 1].strip()):
        start -= 1
    return start if 0 < start < end else None
