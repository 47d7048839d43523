"""Honest decoding of text files: the encoding used is recorded, and a few bad bytes never garble the rest.

UTF-8 (with or without a BOM) and UTF-16 with a BOM are recognised. A UTF-8 file with a few
invalid bytes stays UTF-8: those bytes become U+FFFD and their count is recorded ("utf-8 (3 bytes
replaced)"). Only a file that is clearly not UTF-8 — more invalid bytes than valid multi-byte
characters — is read as cp1252 (latin-1 for the bytes cp1252 leaves undefined).
"""

from __future__ import annotations

import codecs
import re

from assistant.ingest.bounds import UnreadableFileError

# Share of control characters (other than tab, newlines, form feed) above which "text" is binary.
_MAX_CONTROL_SHARE = 0.05
_BINARY_SAMPLE_BYTES = 64 * 1024
# Control characters that do not occur in text (tab, newlines and form feed do).
_CONTROL_BYTES = bytes(byte for byte in range(32) if byte not in b"\t\n\r\f") + b"\x7f"
# The bytes that "surrogateescape" could not decode, one lone surrogate each.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_META_CHARSET = re.compile(rb"""<meta[^>]{1,1024}?charset\s*+=\s*+["']?\s*+([\w.:-]{1,40})""", re.IGNORECASE)
_HEAD_BYTES = 4096


def decode_text(raw: bytes) -> tuple[str, str]:
    """Decode the bytes of a text file; return the text and the encoding used (see the module docstring).

    Raises UnreadableFileError for binary content. Linear in the size of ``raw``.
    """
    if raw.startswith(codecs.BOM_UTF8):
        text, replaced = _utf8_replacing(raw[len(codecs.BOM_UTF8) :])
        return text, _name("utf-8-sig", replaced)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise UnreadableFileError("invalid utf-16 text") from None
    reject_binary(raw)
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text, replaced = _utf8_replacing(raw)
    multibyte = len(text) - len(text.encode("ascii", "ignore")) - replaced  # valid non-ASCII characters
    if multibyte >= replaced:
        return text, _name("utf-8", replaced)
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"  # decodes any byte


def _utf8_replacing(raw: bytes) -> tuple[str, int]:
    """The UTF-8 text with each invalid byte replaced by U+FFFD, and how many were."""
    return _ESCAPED_BYTE.subn("\ufffd", raw.decode("utf-8", "surrogateescape"))


def _name(encoding: str, replaced: int) -> str:
    if not replaced:
        return encoding
    return f"{encoding} ({replaced} byte{'s' if replaced > 1 else ''} replaced)"


def decode_html(raw: bytes) -> tuple[str, str]:
    """Decode HTML by BOM, then its meta charset, then the plain-text rules."""
    declared = _META_CHARSET.search(raw[:_HEAD_BYTES])
    if declared and not raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        reject_binary(raw)
        encoding = known_codec(declared.group(1).decode("ascii", "replace"))
        if encoding:
            try:
                return raw.decode(encoding), encoding
            except UnicodeDecodeError:
                pass  # the declaration lies: fall back to detection
    return decode_text(raw)


def known_codec(name: str) -> str | None:
    """The codec for an encoding label, as browsers read it, or None if unknown."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    # As browsers do: pages labelled latin-1 or ascii are in practice written in cp1252.
    return "cp1252" if codec in ("iso8859-1", "ascii") else codec


def reject_binary(raw: bytes) -> None:
    """Raise UnreadableFileError when the start of ``raw`` is binary rather than text."""
    sample = raw[:_BINARY_SAMPLE_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if b"\x00" in sample or controls > _MAX_CONTROL_SHARE * len(sample):
        raise UnreadableFileError("binary content, not text")
