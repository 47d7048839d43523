"""Citation markers: every pattern that reads them, in one place.

Our own marker is ``[n]`` (passage ``n`` of the prompt; after verification, source ``n``). Small
instruct models also write ``[1, 2]``, ``[1-3]``, ``[1][2]``, ``【1】``, ``[^1]``, ``^1``,
``[Passage 2]``, ``[doc 1]``, ``(source 1)``, ``(fonte 2)`` or superscript digits (``presto¹``);
:func:`normalize_markers` rewrites all of them as ``[n]`` markers, one per number, ranges expanded.
The other functions read text that was normalised.

Every pattern here is linear in the text it scans: no unbounded repeat is nested in another, and
none can restart inside a run it already consumed (spaces before a marker are only matched from
the first space of their run).
"""

from __future__ import annotations

import re

MAX_RANGE = 20
"""``[1-3]`` expands to 1, 2, 3; a wider range is read as its two ends."""

_KEYWORD = (
    r"(?:sources?|passages?|passaggio|passaggi|fonte|fonti|docs?|documents?|document[oi]|extraits?|estratt[oi]|"
    r"bran[oi]|refs?|references?|références?|riferiment[oi]|citations?)"
)
_SEPARATOR = r"[ \t]{0,3}(?:[-–—,;&/]|\band\b|\be\b|\bet\b)[ \t]{0,3}"
_NUMBERS = rf"\d{{1,3}}(?:{_SEPARATOR}\d{{1,3}})*"
_SUPERSCRIPT = "¹²³⁰⁴⁵⁶⁷⁸⁹"
_SUPERSCRIPT_DIGITS = str.maketrans(_SUPERSCRIPT, "1230456789")

# [1]  [1, 2]  [1-3]  [^1]  【1】  【1†source】
_BRACKET_NUMBERS = re.compile(
    rf"[\[【][ \t]{{0,3}}\^?[ \t]{{0,3}}(?P<n>{_NUMBERS})[ \t]{{0,3}}(?:†[^\]】\n]{{0,40}})?[\]】]"
)
# [Passage 2]  [passaggio 2]  [doc 1]  [Source 1: OpenAI e Hollywood]  【fonte 3】
_LABEL = rf"(?:{_KEYWORD}\.?[ \t]{{0,3}}(?::|#|n°|no\.)?[ \t]{{0,3}}){{1,2}}"  # "passage 2", "Fonte: passaggio 2"
_BRACKET_KEYWORD = re.compile(
    rf"[\[【][ \t]{{0,3}}{_LABEL}(?P<n>{_NUMBERS})"
    rf"(?:[ \t]{{0,3}}[:,–—-][ \t]{{0,3}}[^\[\]【】\n]{{1,80}})?[ \t]{{0,3}}[\]】]",
    re.IGNORECASE,
)
# (source 1)  (fonte 2)  (Passage 2)  (see passages 1 and 3)  (cf. document 2)
_PARENTHESIS_KEYWORD = re.compile(
    rf"\([ \t]{{0,3}}(?:(?:see|vedi|voir|cf\.?)[ \t]{{1,3}})?{_LABEL}(?P<n>{_NUMBERS})[ \t]{{0,3}}\)",
    re.IGNORECASE,
)
# presto^1  (not 2^10, not [^1] which is read above)
_CARET = re.compile(r"(?<![\d\[])\^(?P<n>\d{1,3})(?!\d)")
# presto¹  presto¹,²  (not m², km², cm³)
_SUPERSCRIPTS = re.compile(
    rf"(?<=[^\s\d{_SUPERSCRIPT}])(?<!\b[kcmdµ]m)(?<!\bm)(?<!\bft)(?P<n>[{_SUPERSCRIPT}]{{1,3}}(?:,[{_SUPERSCRIPT}]{{1,3}})*)"
)
_VARIANTS = (_BRACKET_KEYWORD, _PARENTHESIS_KEYWORD, _BRACKET_NUMBERS, _CARET, _SUPERSCRIPTS)

_RANGE = re.compile(r"(\d{1,3})[ \t]{0,3}[-–—][ \t]{0,3}(\d{1,3})|(\d{1,3})")

MARKER = re.compile(r"\[(\d{1,3})\]")
"""One normalised marker, ``[n]``; group 1 is the number."""
_MARKER_WITH_SPACE = re.compile(r"(?<![ \t])[ \t]*\[\d{1,3}\]")
LEADING_MARKERS = re.compile(r"^(?:\s{0,8}\[\d{1,3}\])+")
"""Markers at the very start of a text (they close the previous sentence)."""
GLUED_END = re.compile(r"[.!?…][\"'”’»)]{0,3}(?:[ \t]{0,3}\[\d{1,3}\])+(?=\s+\S)")
"""``presto.[1] Next``: markers glued after a sentence's final punctuation, before the next one."""

RENDERED_MARKER = re.compile(r"\[(\d{1,3}(?:[ \t]{0,3}[,;][ \t]{0,3}\d{1,3})*)\]")
"""A marker as a reader sees it in a verified answer or a link label: ``[1]`` or ``[1, 2]``."""


def normalize_markers(text: str) -> str:
    """``text`` with every marker variant rewritten as ``[n]`` markers (``[1, 2]`` -> ``[1][2]``).

    Numbers are kept as written, out-of-range ones included (verification removes those); text
    that only looks like a number in brackets, such as ``[2024]``, is left alone.
    """
    for pattern in _VARIANTS:
        text = pattern.sub(_as_markers, text)
    return text


def extract_markers(text: str) -> list[int]:
    """The citation numbers in ``text`` (any variant), distinct, in order of first appearance.

    Accepts ``[1]``, ``[1][2]``, ``[1, 2]``, ``[1-3]`` (expanded), ``[^1]``, ``[source 1]``,
    ``(fonte 2)``, ``【1】``, ``^1`` and superscript digits.
    """
    numbers: list[int] = []
    for match in MARKER.finditer(normalize_markers(text)):
        number = int(match.group(1))
        if number not in numbers:
            numbers.append(number)
    return numbers


def strip_markers(text: str) -> str:
    """``text`` without citation markers (of any variant) and the spaces before them, stripped."""
    return _MARKER_WITH_SPACE.sub("", normalize_markers(text)).strip()


def is_marker_label(label: str) -> bool:
    """Whether ``[label]`` is nothing but citation markers (a link label such as ``[1]`` or ``[Passage 2]``)."""
    return not _MARKER_WITH_SPACE.sub("", normalize_markers(f"[{label}]")).strip()


def marker_numbers(marker: str) -> list[int]:
    """The numbers of one marker's number list, ranges expanded: ``"1-3"`` -> ``[1, 2, 3]``."""
    numbers: list[int] = []
    for match in _RANGE.finditer(marker.translate(_SUPERSCRIPT_DIGITS)):
        if match.group(3):
            numbers.append(int(match.group(3)))
            continue
        low, high = int(match.group(1)), int(match.group(2))
        numbers.extend(range(low, high + 1) if 0 < high - low <= MAX_RANGE else (low, high))
    return numbers


def _as_markers(match: re.Match[str]) -> str:
    return "".join(f"[{n}]" for n in marker_numbers(match.group("n")))
