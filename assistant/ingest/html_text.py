"""The visible text of an HTML page, read in one streaming pass (no document tree is built).

lxml's HTML parser calls a small target for each tag and piece of text, so time is linear in
the page and memory holds only the text kept; a page with more than ``max_html_nodes`` elements
is refused. Scripts, styles, ``<noscript>``, ``<template>`` and ``<head>`` are dropped, comments
never reach the text; each block element becomes its own paragraph, ``<br>`` a line break, and
whitespace is collapsed outside ``<pre>``.
"""

from __future__ import annotations

import re

from assistant.ingest.bounds import ReadLimits, UnreadableFileError
from assistant.ingest.decoding import decode_html
from assistant.ingest.outline import MAX_HEADINGS, headings_by_lines
from assistant.models import Outline

_DROP = frozenset(("script", "style", "noscript", "template", "head"))
# fmt: off
_BLOCKS = frozenset((
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
))
# fmt: on
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_SPACES = re.compile(r"[^\S\n]+")
_WHITESPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")
_FEED_CHARS = 1 << 20


class _TooManyNodes(Exception):
    pass


class _PageText:
    """An lxml parser target that keeps the visible text and the first <title> and <h1>."""

    def __init__(self, max_nodes: int) -> None:
        self.max_nodes = max_nodes
        self.nodes = 0
        self.pieces: list[str] = []
        self.run: list[str] = []  # text since the last block or line break, collapsed when it ends
        self.dropped = 0  # depth inside elements whose content is dropped
        self.pre = 0  # depth inside <pre>
        self.titles: dict[str, list[str]] = {}  # "title" and "h1": the strings of the first of each
        self.open_titles: dict[str, int] = {}  # the ones being read, with their nesting depth
        self.headings: list[tuple[int, list[str]]] = []  # (level, strings) of the visible h1-h6, for the outline
        self.heading: str | None = None  # the heading tag being read

    def start(self, tag: str, attrib: object) -> None:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise _TooManyNodes
        for name in self.open_titles:
            self.open_titles[name] += tag == name
        if tag in ("title", "h1") and tag not in self.titles:
            self.titles[tag] = []
            self.open_titles[tag] = 1
        if tag in _DROP:
            self.dropped += 1
        if self.dropped:
            return
        if tag == "pre":
            self._end_run()
            self.pre += 1
        if tag in _HEADINGS and self.heading is None and len(self.headings) < MAX_HEADINGS:
            self.heading = tag
            self.headings.append((_HEADINGS[tag], []))
        if tag == "br":
            self._break("\n")
        elif tag in _BLOCKS:
            self._break("\n\n")

    def end(self, tag: str) -> None:
        if tag in self.open_titles:
            self.open_titles[tag] -= 1
            if not self.open_titles[tag]:
                del self.open_titles[tag]
        was_dropped = self.dropped > 0
        if tag in _DROP:
            self.dropped = max(0, self.dropped - 1)
        if was_dropped:
            return
        if tag == "pre":
            self._end_run()
            self.pre = max(0, self.pre - 1)
        if tag == self.heading:
            self.heading = None
        if tag in _BLOCKS:
            self._break("\n\n")

    def data(self, text: str) -> None:
        if self.open_titles:
            for name in self.open_titles:
                self.titles[name].append(text)
        if not self.dropped:
            (self.pieces if self.pre else self.run).append(text)
            if self.heading is not None:
                self.headings[-1][1].append(text)

    def _end_run(self) -> None:
        """Collapse the whitespace of the text gathered since the last break (source line breaks are spaces)."""
        if self.run:
            self.pieces.append(_WHITESPACE.sub(" ", "".join(self.run)))
            self.run.clear()

    def _break(self, separator: str) -> None:
        self._end_run()
        self.pieces.append(separator)

    def comment(self, text: str) -> None:  # comments are not text
        pass

    def close(self) -> None:
        self._end_run()

    def text(self) -> str:
        """One line per block element, paragraphs separated by a blank line."""
        lines = (_SPACES.sub(" ", line).strip() for line in "".join(self.pieces).splitlines())
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")

    def title(self) -> str | None:
        """The first <title>, else the first <h1>, if it has text."""
        for name in ("title", "h1"):
            strings = [piece.strip() for piece in self.titles.get(name, [])]
            title = _SPACES.sub(" ", " ".join(piece for piece in strings if piece))
            if title:
                return title
        return None


def read_html(raw: bytes, limits: ReadLimits) -> tuple[str, str | None, str, Outline]:
    """(visible text, title or None, encoding, its h1-h6 headings) of an HTML page; see the module docstring."""
    from lxml import etree

    text, encoding = decode_html(raw)
    target = _PageText(limits.max_html_nodes)
    parser = etree.HTMLParser(target=target, recover=True, no_network=True, remove_pis=True)
    try:
        for start in range(0, len(text), _FEED_CHARS):
            parser.feed(text[start : start + _FEED_CHARS])
        parser.close()
    except _TooManyNodes:
        raise UnreadableFileError(f"too many HTML elements: more than {limits.max_html_nodes}") from None
    except etree.LxmlError as error:
        raise UnreadableFileError(f"not valid HTML: {error}") from None
    text = target.text()
    found = ((level, "".join(strings)) for level, strings in target.headings)
    return text, target.title(), encoding, Outline(headings=headings_by_lines(text, found))
