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
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from string import Template

from assistant.models import Hit
from assistant.text.language import language_name
from assistant.text.sanitize import strip_invisible
from assistant.text.untrusted import REDACTED, looks_like_instruction, redact_instructions
from assistant.text.untrusted import instruction_spans as instruction_spans  # re-exported

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
