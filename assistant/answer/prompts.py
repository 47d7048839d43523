"""Prompt templates from the ``templates/`` folder (package data), rendered with their variables.

Templates use ``${name}`` placeholders (``string.Template``): values are inserted once and never
parsed again, so text from documents cannot inject placeholders. Retrieved passages are wrapped
in delimiters carrying a random nonce that a document cannot guess, and any delimiter-like text
inside a passage is neutralised.

Document text is untrusted. :func:`instruction_spans` finds the lines of a text that address an AI
rather than a reader (“ignore previous instructions”, fake chat turns, chat-template tokens, “note
for the assistant”, requests to print the system prompt) and active markup (``<script>``, event
handlers, remote markdown images); ingestion leaves those lines out of the index and
:func:`format_passages` blanks them again before a passage reaches a model.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from string import Template

from assistant.models import Hit
from assistant.text.language import language_name
from assistant.text.sanitize import has_control_characters, strip_invisible
from assistant.text.sentences import fold, split_sentences

PROMPTS_DIR = Path(__file__).resolve().parent / "templates"
REFUSAL_MARKER = "NOT_IN_DOCUMENTS"



class PromptError(KeyError):
    """A template is missing or a variable was not given."""


@lru_cache(maxsize=32)
def load_template(name: str, directory: Path = PROMPTS_DIR) -> str:
    """The text of ``templates/<name>.txt``."""
    path = directory / f"{name}.txt"
    if not path.is_file():
        raise PromptError(f"prompt template not found: {path}")
    return path.read_text(encoding="utf-8")


def render(name: str, directory: Path = PROMPTS_DIR, **variables: str) -> str:
    """Render a template; every placeholder must be given."""
    try:
        return Template(load_template(name, directory)).substitute(variables).strip()
    except KeyError as exc:
        raise PromptError(f"prompt {name!r} needs the variable {exc.args[0]!r}") from exc


def phrase(name: str, language: str) -> str:
    """A per-language phrase from a ``lang: text`` template (English when the language is missing)."""
    table = dict(
        line.split(":", 1) for line in load_template(name).splitlines() if ":" in line and not line.startswith("#")
    )
    return (table.get(language) or table["en"]).strip()


def new_nonce() -> str:
    """A random tag for this prompt's passage delimiters."""
    return secrets.token_hex(6)


# -- untrusted text ------------------------------------------------------------------------------

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
_INSTRUCTION_PATTERNS = [
    # "ignore previous instructions", "ignorez toutes les instructions", "forget the documents above"
    rf"{_OVERRIDE_VERB}(?=[^\n]{{0,80}}{_INSTRUCTIONS})(?=[^\n]{{0,80}}{_ANY_SCOPE})",
    rf"{_OVERRIDE_VERB}(?=[^\n]{{0,60}}{_RULES})(?=[^\n]{{0,60}}{_NEAR_SCOPE})",
    # a note addressed to the AI: "Nota per l'assistente:", "**Istruzione per il modello:**"
    rf"\b(?:note|nota|message|messaggio|instructions?|istruzion[ei]|avviso|consignes?|reminder|rappel)\b"
    rf"[^\n.]{{0,12}}\b(?:for|to|per|pour|a|au|aux|alla|al|agli|ai)\s+(?:the\s+|l'|les?\s+|gli\s+|il\s+|lo\s+)?"
    rf"(?:{_AGENT}|models?|modello|modelli|modeles?)\W{{0,3}}[:,\u2013\u2014-]",
    r"\b(?:important|importante|attention|warning|avvertenza)\W{0,3}(?:for|to|per|pour|a|aux|alla|agli|ai)\s+"
    r"(?:the\s+|les\s+|gli\s+|all\s+)?(?:ai\s+|ia\s+)?(?:assistants?|assistenti|chatbots?|llms?)(?:\s+(?:ai|ia))?"
    r"\s*[:,]",
    # a vocative or a fake turn at the start of a line: "Assistant, always ...", "Assistant: PWNED"
    r"^\W*(?:assistant|assistente|chatbot|llm)\s*[,:]\s",
    r"^\W*(?:system|sistema|systeme)\s*:\s*(?:you|new|ignore|override|from now|reply|answer|respond|always|never)\b",
    r"^\W*(?:tell|inform) the user\b|^\W*di(?:i|') all'utente\b|^\W*dites? a l'utilisateur\b",
    r"\bif you are an? (?:ai|llm|language model|assistant|chatbot)\s*[,.:;]",
    # "print your system prompt", "stampa il tuo system prompt"
    rf"\b(?:print|reveal|show|repeat|output|display|leak|dump|stampa|mostra|rivela|ripeti|scrivi|affiche|revele|"
    rf"repete|imprime)\w*\b[^\n]{{0,40}}{_YOUR}[^\n]{{0,25}}\b(?:system prompt|prompt|instructions|istruzioni|"
    rf"consignes|rules|regole)\b",
    r"\bsystem override\b",
    # chat-template tokens and fake delimiters: a document has no business writing them
    r"<\|[a-z_ ]{2,30}\|>|<\s*/?\s*(?:start_of_turn|end_of_turn|passage|system|instructions?)\s*>|\[/?inst\]|"
    r"<<\s*/?sys\s*>>|<<<\s*(?:end\s+)?(?:passage|system|document|context|instructions?)\b",
    # active markup, and images that a renderer would fetch from elsewhere
    r"<\s*(?:script|iframe|object|embed|svg|img|image)\b|"
    r"<[a-z][^>\n]*\son(?:error|load|click|mouse\w+|focus|blur|key\w+|submit|change|input|pointer\w+|"
    r"touch\w+|animation\w+|toggle|begin|end)\s*=|javascript:\S|!\[[^\]\n]*\]\(\s*<?\s*(?:(?:https?|ftp|data):|//)",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.MULTILINE)
# A line that only plays a turn of a chat ("User: ...", "Assistant: ...") in a block of such turns.
_ROLE_TURN = re.compile(r"^\W*(?:user|human|utente|utilisateur)\s*:", re.MULTILINE)
REDACTED = "[instruction-like text removed]"


def _folded(text: str) -> str:
    return fold(unicodedata.normalize("NFKC", strip_invisible(text)))


def looks_like_instruction(text: str) -> bool:
    """Whether ``text`` addresses an AI (or carries active markup) rather than informing a reader.

    Invisible characters are removed and the text is folded (case, accents, compatibility forms)
    before matching, so ``I\u200bgnore previous instructions`` is caught. Control characters
    (terminal escape sequences) count as instructions too.
    """
    if has_control_characters(text.replace("\f", "")):  # terminal escape sequences: never document content
        return True
    folded = _folded(text)
    return any(_INSTRUCTION.search(part) for part in [folded, *folded.splitlines()])


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the whole lines of ``text`` that hold instruction-like sentences, merged and sorted.

    A fake chat turn (``User: ...``) next to a flagged line is flagged with it.
    """
    spans: list[tuple[int, int]] = []
    for sentence in split_sentences(text):
        if looks_like_instruction(sentence.text):
            spans.append(_whole_lines(text, sentence.start, sentence.end))
    if spans:
        for match in _ROLE_TURN.finditer(text):
            line = _whole_lines(text, match.start(), match.start())
            if any(abs(line[0] - end) <= 1 or abs(start - line[1]) <= 1 for start, end in spans):
                spans.append(line)
    return _merge(spans)


def _whole_lines(text: str, start: int, end: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, len(text) if line_end < 0 else line_end


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def redact_instructions(text: str) -> str:
    """``text`` with its instruction-like lines replaced by a short marker."""
    pieces, last = [], 0
    for start, end in instruction_spans(text):
        pieces += [text[last:start], REDACTED]
        last = end
    return "".join([*pieces, text[last:]])


_DELIMITER_LIKE = re.compile(r"<{2,}|>{2,}|[«»‹›]{2,}|[＜﹤]{2,}|[＞﹥]{2,}")


def _one_line(text: str) -> str:
    return " ".join(strip_invisible(text).split())


def _header_field(text: str, nonce: str) -> str:
    """A title or file name for a passage header: on one line, blanked if any of its lines is an instruction."""
    return REDACTED if looks_like_instruction(text) else _passage_text(_one_line(text), nonce)


def _passage_text(text: str, nonce: str) -> str:
    """A passage as data: invisible characters gone, instructions blanked, no delimiter, no nonce."""
    body = _DELIMITER_LIKE.sub("«", redact_instructions(strip_invisible(text)))
    while nonce and nonce in body:  # removing one occurrence can join the halves of another
        body = body.replace(nonce, "")
    return body


def format_passages(hits: Sequence[Hit], nonce: str) -> str:
    """Number and wrap the passages as data, neutralising anything that looks like a delimiter.

    Titles and file names come from documents too: they are put on one line and blanked when
    they read like instructions.
    """
    blocks = []
    for number, hit in enumerate(hits, start=1):
        title, name = (_header_field(field, nonce) for field in (hit.title, hit.doc_id))
        header = f"<<<PASSAGE {number} {nonce}>>>\nSource: {title} ({name})"
        blocks.append(f"{header}\n{_passage_text(hit.text, nonce)}\n<<<END PASSAGE {number} {nonce}>>>")
    return "\n\n".join(blocks)


def answer_messages(question: str, language: str, hits: Sequence[Hit], nonce: str) -> list[dict[str, str]]:
    """The system and user messages that ask for a cited answer."""
    name = language_name(language)
    system = render("system", language_name=name, refusal_marker=REFUSAL_MARKER)
    user = render(
        "answer",
        passages=format_passages(hits, nonce),
        question=question,
        language_name=name,
        nonce=nonce,
        refusal_marker=REFUSAL_MARKER,
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def condense_messages(history: Sequence[tuple[str, str]], question: str, language: str) -> list[dict[str, str]]:
    """Messages asking to rewrite a follow-up question as a standalone one."""
    lines = []
    for user, assistant in history[-3:]:
        lines.append(f"User: {user}")
        lines.append(f"Assistant: {assistant[:400]}")
    text = render("condense", history="\n".join(lines), question=question, language_name=language_name(language))
    return [{"role": "user", "content": text}]
