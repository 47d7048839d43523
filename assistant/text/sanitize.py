"""Make model output safe to show: no raw HTML, no links or images that point outside the corpus.

Answers are shown as escaped plain text; these functions also remove what would become active or
leak data if some renderer (a markdown viewer, a terminal, a copy into a chat) did interpret it:
images (a remote image is fetched on display, and its URL can carry the conversation), links and
URLs (reduced to their text), bare domains that a viewer would auto-link (their path dropped, their
dots broken: ``evil[.]example``), HTML tags, comments and the content of ``<script>``/``<style>``, and
invisible characters that hide text from people but not from models.
"""

from __future__ import annotations

import html
import re

from assistant.answer.markers import is_marker_label

# Zero-width and joiner characters, the soft hyphen, bidi embeddings/overrides/isolates (which can
# reorder what a reader sees) and Unicode tag characters (invisible "ASCII smuggling").
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
# C0 and C1 control characters other than tab and newline: ESC starts terminal escape sequences
# (hyperlinks, screen clearing, title changes) when an answer is printed in a terminal.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Every pattern is linear in the text: no unbounded repeat nests another, and none can restart
# inside a run it already scanned (a repeat never matches its pattern's opening character, unless
# the pattern is anchored, guarded by a lookbehind, or cannot fail once started).
_SCRIPT_BLOCK = re.compile(r"<\s*(script|style|iframe|object|svg)\b.*?(?:<\s*/\s*\1\s*>|\Z)", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_MD_IMAGE = re.compile(r"!\[(?:[^\[\]]|\[[^\[\]]{0,400}\])*+\](?:\([^()\n]{0,2000}\)?|\[[^\[\]\n]{0,400}\])")
_MD_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]{0,400}\])++)\]\(([^()\n]{0,2000})\)?")
_MD_REFERENCE = re.compile(r"^[ \t]*+\[[^\]\n]++\]:[ \t]*\S.*$", re.M)
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto|file|data|javascript):[^<>\s]*>", re.I)
_URL = re.compile(r"\b(?:(?:https?|ftp|file|javascript|data|vbscript):|www\.)[^\s<>\"'\]\[)]*", re.I)
# A bare domain ("canary-7f3a.example/collect?q=secret") that a chat window or markdown viewer
# would turn into a link: the path goes, the dots are broken ("canary-7f3a[.]example").
_DOMAIN = re.compile(
    r"(?<![\w.-])(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}(?P<tld>[a-z]{2,24}|[A-Z]{2,24}))"
    r"(?![\w-])(?P<path>(?::\d{1,5})?[/?#][^\s<>\"'\]\[)]*|:\d{1,5}\b)?"
)
# Top-level domains that linkifiers know (and the reserved ones a test or an attack would use).
_TLD_NAMES = (
    "com net org edu gov mil int info biz io ai co app dev xyz me tv cc ly gg online site top club shop "
    "store tech cloud link click live news blog page eu uk us ca de fr it es nl be ch at se no dk fi pl ru "
    "cn jp kr in br au nz ie pt gr cz hu ro tr ua il ir example test invalid localhost local onion"
)
_TLDS = frozenset(_TLD_NAMES.split())
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
# A tag a model left unclosed ("<img src=x onerror=..." at the end of a line) is still a tag: a
# dangerous one goes with its attributes, any other loses the "<" that would open it.
_TAG_START = re.compile(r"(?<!<)<++(?=\s*[/!?]?\s*[A-Za-z])")
_OPEN_TAG = re.compile(
    r"<\s*/?\s*(?:a|audio|base|body|embed|form|html|iframe|img|image|input|link|math|meta|object|script|"
    r"source|style|svg|video)\b[^<>]*",
    re.I,
)
_SPACES = re.compile(r"[ \t]{2,}")


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
    such as ``[1]`` are kept, also when a model wrapped them in a link. A bare domain loses its
    path and its dots (``canary.example/c?q=secret`` becomes ``canary[.]example``) while ordinary
    dotted text (``e.g.``, ``3.5``, ``Node.js``) is left alone. Tags are removed, and the
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
    text = _DOMAIN.sub(_defanged, text)
    text = _TAG.sub("", text)
    text = _OPEN_TAG.sub("", text)
    text = _TAG_START.sub("", text)
    text = _SPACES.sub(" ", text)
    return text.strip()


def _link_text(match: re.Match[str]) -> str:
    label = match.group(1)
    return f"[{label}]" if is_marker_label(label.strip()) else label


def _defanged(match: re.Match[str]) -> str:
    """A bare domain with its path dropped and its dots broken, when it would be auto-linked."""
    if not match.group("path") and match.group("tld").lower() not in _TLDS:
        return match.group()  # "Node.js", "config.toml": not a link anywhere
    return match.group("host").replace(".", "[.]")


def has_markup(text: str) -> bool:
    """Whether ``text`` holds anything :func:`sanitize_model_text` would remove (other than spacing)."""
    return " ".join(sanitize_model_text(text).split()) != " ".join(text.split())


def escape(text: str) -> str:
    """HTML-escape text (quotes included) for display in the web UI."""
    return html.escape(text, quote=True)
