"""Prompt templates from the ``prompts/`` folder, rendered with their variables.

Templates use ``${name}`` placeholders (``string.Template``): values are inserted once and never
parsed again, so text from documents cannot inject placeholders. Retrieved passages are wrapped
in delimiters carrying a random nonce that a document cannot guess, and any delimiter-like text
inside a passage is neutralised.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from string import Template

from assistant.models import Hit

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
REFUSAL_MARKER = "NOT_IN_DOCUMENTS"

_LANGUAGE_NAMES = {
    "en": "English",
    "it": "Italian",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "pt": "Portuguese",
}


class PromptError(KeyError):
    """A template is missing or a variable was not given."""


@lru_cache(maxsize=32)
def load_template(name: str, directory: Path = PROMPTS_DIR) -> str:
    """The text of ``prompts/<name>.txt``."""
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


def language_name(code: str) -> str:
    """English name of a language code, for the instructions."""
    return _LANGUAGE_NAMES.get(code, code)


def new_nonce() -> str:
    """A random tag for this prompt's passage delimiters."""
    return secrets.token_hex(6)


_DELIMITER_LIKE = re.compile(r"<<<|>>>")


def format_passages(hits: Sequence[Hit], nonce: str) -> str:
    """Number and wrap the passages as data, neutralising anything that looks like a delimiter."""
    blocks = []
    for number, hit in enumerate(hits, start=1):
        body = _DELIMITER_LIKE.sub("«", hit.text).replace(nonce, "")
        header = f"<<<PASSAGE {number} {nonce}>>>\nSource: {hit.title} ({hit.doc_id})"
        blocks.append(f"{header}\n{body}\n<<<END PASSAGE {number} {nonce}>>>")
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
