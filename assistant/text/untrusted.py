"""Document text is untrusted: find what in it addresses an AI rather than a reader.

:func:`instruction_spans` finds the sentences (or table cells) of a text that address an AI
(“ignore previous instructions”, fake chat turns, chat-template tokens, “note for the assistant”,
requests to print the system prompt) or carry active markup (``<script>``, event handlers, remote
markdown images). Ingestion leaves those spans out of the index, and the prompt builder blanks them
again (:func:`redact_instructions`) before a passage reaches a model.

Everything here is linear in the length of the text: documents are hostile input. No pattern
rescans the rest of a line from each of its starts (unbounded runs are possessive, windows are
bounded), and the two checks that need "inside a tag" or "inside an image's brackets" are one pass
over tokens instead of a backtracking pattern.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from assistant.text.sanitize import has_control_characters, strip_invisible
from assistant.text.sentences import Span, fold, iter_sentences

REDACTED = "[instruction-like text removed]"

_OVERRIDE_VERB = (
    r"\b(?:ignore|ignoring|disregard|forget|override|bypass|ignora|ignorate|ignorare|dimentica|dimenticate|"
    r"ignorez|ignorer|oubliez|oublie)\b"
)
# "ignore all instructions", but "ignore all rules" only with a scope ("previous", "your", ...)
_INSTRUCTIONS = r"\b(?:instructions?|istruzion[ei]|consignes?|directives|prompts?)\b"
_ANY_SCOPE = (
    r"\b(?:previous|prior|above|earlier|preceding|all|any|your|precedenti|precedente|tutte|sopra|precedentes|"
    r"toutes|vos|tes|ci-dessus)\b"
)
_RULES = r"\b(?:rules|guidelines|regole|regles|documents?|documenti|context|contesto|contexte|text|testo|texte)\b"
_NEAR_SCOPE = (
    r"\b(?:previous|prior|above|earlier|preceding|your|precedenti|precedente|sopra|precedentes|vos|ci-dessus)\b"
)
_AGENT = r"(?:assistants?|assistente|assistenti|chatbots?|llms?|language models?|ai|ia)"
_YOUR = r"\b(?:your|tuo|tuoi|tua|tue|ton|ta|tes|votre|vos)\b"
# Matched against folded text (lower case, no accents, plain apostrophes), one sentence at a time.
# Unbounded runs are possessive (``*+``, ``++``) and line starts skip ``[^\w\n]``, never newlines.
_INSTRUCTION_PATTERNS = [
    # "ignore previous instructions", "ignorez toutes les instructions", "forget the documents above"
    rf"{_OVERRIDE_VERB}(?=[^\n]{{0,80}}{_INSTRUCTIONS})(?=[^\n]{{0,80}}{_ANY_SCOPE})",
    rf"{_OVERRIDE_VERB}(?=[^\n]{{0,60}}{_RULES})(?=[^\n]{{0,60}}{_NEAR_SCOPE})",
    # a note addressed to the AI: "Nota per l'assistente:", "**Istruzione per il modello:**"
    rf"\b(?:note|nota|message|messaggio|instructions?|istruzion[ei]|avviso|consignes?|reminder|rappel)\b"
    rf"[^\n.]{{0,12}}\b(?:for|to|per|pour|a|au|aux|alla|al|agli|ai)\s++(?:the\s++|l'|les?\s++|gli\s++|il\s++|lo\s++)?"
    rf"(?:{_AGENT}|models?|modello|modelli|modeles?)\W{{0,3}}[:,\u2013\u2014-]",
    r"\b(?:important|importante|attention|warning|avvertenza)\W{0,3}(?:for|to|per|pour|a|aux|alla|agli|ai)\s++"
    r"(?:the\s++|les\s++|gli\s++|all\s++)?(?:ai\s++|ia\s++)?(?:assistants?|assistenti|chatbots?|llms?)"
    r"(?:\s++(?:ai|ia))?+\s*+[:,]",
    # a vocative or a fake turn at the start of a line: "Assistant, always ...", "Assistant: PWNED"
    r"^[^\w\n]*+(?:assistant|assistente|chatbot|llm)\s*+[,:]\s",
    r"^[^\w\n]*+(?:system|sistema|systeme)\s*+:\s*+"
    r"(?:you|new|ignore|override|from now|reply|answer|respond|always|never)\b",
    r"^[^\w\n]*+(?:(?:tell|inform) the user\b|di(?:i|') all'utente\b|dites? a l'utilisateur\b)",
    r"\bif you are an? (?:ai|llm|language model|assistant|chatbot)\s*+[,.:;]",
    # "print your system prompt", "stampa il tuo system prompt"
    rf"\b(?:print|reveal|show|repeat|output|display|leak|dump|stampa|mostra|rivela|ripeti|scrivi|affiche|revele|"
    rf"repete|imprime)\w*+\b[^\n]{{0,40}}{_YOUR}[^\n]{{0,25}}\b(?:system prompt|prompt|instructions|istruzioni|"
    rf"consignes|rules|regole)\b",
    r"\bsystem override\b",
    # chat-template tokens and fake delimiters: a document has no business writing them
    r"<\|[a-z_ ]{2,30}\|>|<\s*+/?\s*+(?:start_of_turn|end_of_turn|passage|system|instructions?)\s*+>|\[/?inst\]|"
    r"<<\s*+/?\s*+sys\s*+>>|<<<\s*+(?:end\s++)?(?:passage|system|document|context|instructions?)\b",
    # active markup (event handlers and remote images are found by _has_active_markup)
    r"<\s*+(?:script|iframe|object|embed|svg|img|image)\b|javascript:\S",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.MULTILINE)

# "<tag ... onerror=": a tag opens at "<" + letter and closes at ">" or the end of the line.
_EVENT_HANDLER = (
    r"\son(?:error|load|click|mouse\w++|focus|blur|key\w++|submit|change|input|pointer\w++|touch\w++|"
    r"animation\w++|toggle|begin|end)\s*+="
)
_TAG_TOKENS = re.compile(rf"(?P<handler>{_EVENT_HANDLER})|(?P<open><(?=[a-z]))|[>\n]")
# "![alt](https://...)": an image's brackets open at "![" and close at the matching "]" or the end of the line.
_REMOTE_TARGET = r"\]\(\s*+<?\s*+(?:(?:https?|ftp|data):|//)"
_IMAGE_TOKENS = re.compile(rf"(?P<remote>{_REMOTE_TARGET})|(?P<image>!\[)|(?P<open>\[)|(?P<close>\])|\n")

# A literal that each pattern above needs (in folded text): a line without any is never looked at closely.
# fmt: off
_TRIGGERS = (
    "ignor", "disregard", "forget", "override", "bypass", "dimentic", "oubli",
    "note", "nota", "message", "messaggio", "instruction", "istruzion", "avviso", "consigne", "reminder", "rappel",
    "important", "attention", "warning", "avvertenza", "assistant", "assistent", "chatbot", "llm",
    "system", "sistema", "tell", "inform", "all'utente", "utilisateur", "if you are",
    "print", "reveal", "show", "repeat", "output", "display", "leak", "dump", "stampa", "mostra", "rivela",
    "ripeti", "scrivi", "affiche", "revele", "repete", "imprime",
    "<", "[inst", "[/inst", "javascript:", "![",
)
# fmt: on
# What has_control_characters finds once tab, newlines and form feeds are allowed.
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# Line breaks other than "\n" that str.splitlines() knows: they start a line for the patterns too.
_OTHER_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# A fake chat turn ("User: ...") in a block of such turns.
_ROLE_TURN = re.compile(r"^[^\w\n]*+(?:user|human|utente|utilisateur)[^\S\n]*+:", re.MULTILINE | re.IGNORECASE)
# Table cells: a flagged cell is removed, not the row with the real data beside it.
_CELL_SEPARATOR = re.compile(r"[|\t]")


def _folded(text: str) -> str:
    folded = fold(unicodedata.normalize("NFKC", strip_invisible(text)))
    return _OTHER_LINE_BREAKS.sub("\n", folded)


def _has_active_markup(folded: str) -> bool:
    """An event-handler attribute inside a tag, or an image whose target is remote; one pass each."""
    inside = False
    for match in _TAG_TOKENS.finditer(folded) if "<" in folded else ():
        if match.lastgroup == "handler":
            if inside:
                return True
        else:
            inside = match.lastgroup == "open"
    openers: list[bool] = []  # the brackets open on this line: True for an image's "!["
    for match in _IMAGE_TOKENS.finditer(folded) if "![" in folded else ():
        kind = match.lastgroup
        if kind in ("image", "open"):
            openers.append(kind == "image")
        elif kind in ("close", "remote"):
            if openers and openers.pop() and kind == "remote":
                return True
        else:  # a new line closes them all
            openers.clear()
    return False


def looks_like_instruction(text: str) -> bool:
    """Whether ``text`` addresses an AI (or carries active markup) rather than informing a reader.

    Invisible characters are removed and the text is folded (case, accents, compatibility forms)
    before matching, so ``I\u200bgnore previous instructions`` is caught. Control characters
    (terminal escape sequences) count as instructions too. Linear in the length of ``text``.
    """
    if has_control_characters(text.replace("\f", "")):  # terminal escape sequences: never document content
        return True
    folded = _folded(text)
    return _INSTRUCTION.search(folded) is not None or _has_active_markup(folded)


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the instruction-like parts of ``text``, merged and sorted.

    A part is a sentence that reads like an instruction, from its start to the end of its line (an
    injection runs on after its first words) — or, in a table row (cells separated by ``|`` or tabs),
    only the cells that read like one, so the real data beside them stays. A fake chat turn
    (``User: ...``) on or next to a flagged line is flagged whole. Linear in the length of ``text``.
    """
    spans: list[tuple[int, int]] = []
    flagged_lines: set[int] = set()  # the start offsets of lines holding a flagged part
    for line_start, line_end in _lines(text, _candidate_lines(text)):
        covered = line_start
        for sentence in iter_sentences(text[line_start:line_end], line_start):
            if sentence.start < covered or not looks_like_instruction(sentence.text):
                continue  # already inside a flagged part, or harmless
            flagged_lines.add(line_start)
            for start, end in _flagged_parts(sentence):
                stop = _CELL_SEPARATOR.search(text, end, line_end)
                covered = stop.start() if stop else line_end
                spans.append((start, covered))
    if spans:
        spans.extend(_role_turns_beside(text, flagged_lines))
    return _merge(spans)


def _candidate_lines(text: str) -> list[int]:
    """The numbers (from 0) of the lines where an instruction could be, in order.

    Every pattern needs one of :data:`_TRIGGERS` in the folded text, or a control character, so the
    other lines are never split into sentences. Folding keeps the lines (no character folds into or
    out of a newline), so the folded text's line numbers are the text's.
    """
    folded = fold(unicodedata.normalize("NFKC", strip_invisible(text)))
    positions = []
    for word in _TRIGGERS:  # str.find is far faster than any pattern; each finds few places
        at = folded.find(word)
        while at >= 0:
            positions.append(at)
            at = folded.find(word, at + len(word))
    controls = [match.start() for match in _CONTROL_CHARACTER.finditer(text)]
    return sorted(_line_numbers(folded, positions) | _line_numbers(text, controls))


def _line_numbers(text: str, positions: list[int]) -> set[int]:
    numbers, line, last = set(), 0, 0
    for at in sorted(positions):
        line += text.count("\n", last, at)
        last = at
        numbers.add(line)
    return numbers


def _lines(text: str, numbers: list[int]) -> Iterator[tuple[int, int]]:
    """(start, end) of the numbered lines of ``text``, in one pass over it."""
    line, start = 0, 0
    for number in numbers:
        while line < number:
            start = text.index("\n", start) + 1
            line += 1
        end = text.find("\n", start)
        yield start, len(text) if end < 0 else end


def _flagged_parts(sentence: Span) -> list[tuple[int, int]]:
    """The cells of a flagged sentence that read like instructions, or the whole sentence."""
    if not _CELL_SEPARATOR.search(sentence.text):
        return [(sentence.start, sentence.end)]
    parts, begin = [], 0
    for separator in [*_CELL_SEPARATOR.finditer(sentence.text), None]:
        stop = separator.start() if separator else len(sentence.text)
        cell = sentence.text[begin:stop]
        if cell.strip() and looks_like_instruction(cell):
            parts.append((sentence.start + begin, sentence.start + stop))
        begin = stop + 1
    return parts or [(sentence.start, sentence.end)]  # a pattern spanning cells: the whole sentence


def _role_turns_beside(text: str, flagged_lines: set[int]) -> list[tuple[int, int]]:
    """Whole lines of fake chat turns on, just before or just after a flagged line (in text order)."""
    found = []
    for match in _ROLE_TURN.finditer(text):
        start = match.start()
        end = text.find("\n", match.end())
        end = len(text) if end < 0 else end
        previous = text.rfind("\n", 0, max(start - 1, 0)) + 1 if start else -1
        if start in flagged_lines or previous in flagged_lines or end + 1 in flagged_lines:
            found.append((start, end))
            flagged_lines.add(start)  # a block of turns goes together
    return found


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def redact_instructions(text: str) -> str:
    """``text`` with its instruction-like parts replaced by a short marker."""
    pieces, last = [], 0
    for start, end in instruction_spans(text):
        pieces += [text[last:start], REDACTED]
        last = end
    return "".join([*pieces, text[last:]])
