"""Make model output safe to show: no raw HTML, no links or images that point outside the corpus.

Answers are shown as escaped plain text; these functions also remove what would become active or
leak data if some renderer (a markdown viewer, a terminal, a copy into a chat) did interpret it:
images (a remote image is fetched on display, and its URL can carry the conversation), links and
URLs (reduced to their text), HTML tags, comments and the content of ``<script>``/``<style>``, and
invisible characters that hide text from people but not from models.
"""

from __future__ import annotations

import html
import re

# Zero-width and joiner characters, the soft hyphen, bidi embeddings/overrides/isolates (which can
# reorder what a reader sees) and Unicode tag characters (invisible "ASCII smuggling").
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
# C0 and C1 control characters other than tab and newline: ESC starts terminal escape sequences
# (hyperlinks, screen clearing, title changes) when an answer is printed in a terminal.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SCRIPT_BLOCK = re.compile(r"<\s*(script|style|iframe|object|svg)\b.*?(?:<\s*/\s*\1\s*>|\Z)", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_MD_IMAGE = re.compile(r"!\[(?:[^\[\]]|\[[^\[\]]*\])*\](?:\([^)]*\)?|\[[^\]]*\])")
_MD_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])+)\]\(([^)]*)\)?")
_MD_REFERENCE = re.compile(r"^[ \t]*\[[^\]]+\]:[ \t]*\S.*$", re.M)
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto|file|data|javascript):[^>\s]*>", re.I)
_URL = re.compile(r"\b(?:(?:https?|ftp|file|javascript|data|vbscript):|www\.)[^\s<>\"'\]\[)]*", re.I)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
# A tag a model left unclosed ("<img src=x onerror=..." at the end of a line) is still a tag: a
# dangerous one goes with its attributes, any other loses the "<" that would open it.
_TAG_START = re.compile(r"<+(?=\s*[/!?]?\s*[A-Za-z])")
_OPEN_TAG = re.compile(
    r"<\s*/?\s*(?:a|audio|base|body|embed|form|html|iframe|img|image|input|link|math|meta|object|script|"
    r"source|style|svg|video)\b[^<>]*",
    re.I,
)
_CITATION = re.compile(r"\d{1,3}(?:\s*[,;-]\s*\d{1,3})*")


def strip_invisible(text: str) -> str:
    """``text`` without zero-width, bidi-control and tag characters."""
    return _INVISIBLE.sub("", text)


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds control characters other than tab, newline and carriage return."""
    return bool(_CONTROL.search(text.replace("\r", "")))


def terminal_text(text: str) -> str:
    """``text`` without the control and invisible characters a terminal would act on or hide."""
    return _CONTROL.sub("", strip_invisible(text).replace("\r\n", "\n"))


def sanitize_model_text(text: str) -> str:
    """Strip images, links, URLs, HTML, invisible and control characters from a model's answer.

    A link keeps its text (``[the report](https://x)`` becomes ``the report``); citation markers
    such as ``[1]`` are kept, also when a model wrapped them in a link. Tags are removed, and the
    content of ``<script>`` and ``<style>`` with them.
    """
    text = terminal_text(text)
    text = _SCRIPT_BLOCK.sub("", text)
    text = _COMMENT.sub("", text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_REFERENCE.sub("", text)
    text = _MD_LINK.sub(_link_text, text)
    text = _AUTOLINK.sub("", text)
    text = _URL.sub("", text)
    text = _TAG.sub("", text)
    text = _OPEN_TAG.sub("", text)
    text = _TAG_START.sub("", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip()


def _link_text(match: re.Match[str]) -> str:
    label = match.group(1)
    return f"[{label}]" if _CITATION.fullmatch(label.strip()) else label


def has_markup(text: str) -> bool:
    """Whether ``text`` holds anything :func:`sanitize_model_text` would remove (other than spacing)."""
    return " ".join(sanitize_model_text(text).split()) != " ".join(text.split())


def escape(text: str) -> str:
    """HTML-escape text (quotes included) for display in the web UI."""
    return html.escape(text, quote=True)
