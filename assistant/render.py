"""Make model output safe to show: no raw HTML, no links or images that point outside the corpus."""

from __future__ import annotations

import html
import re

_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]*)\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)]*)\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_BARE_URL = re.compile(r"\bhttps?://[^\s)\]>\"']+")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")


def sanitize_model_text(text: str) -> str:
    """Strip images, links, URLs, HTML tags and zero-width characters from a model's answer.

    Citation markers such as ``[1]`` are kept: they are not followed by ``(url)``.
    """
    text = _ZERO_WIDTH.sub("", text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _AUTOLINK.sub("", text)
    text = _BARE_URL.sub("", text)
    text = _TAG.sub("", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def escape(text: str) -> str:
    """HTML-escape text (quotes included) for display in the web UI."""
    return html.escape(text, quote=True)
