"""Find the files to read under the folders given, and name them safely.

The rules: folders are searched recursively in sorted order; names starting with '.' are skipped.
A symbolic link is followed only when it leads to a place inside the folder being searched (its
resolved target lies under the resolved folder); a link that leads outside — to ``/etc/passwd``,
to another user's folder — is skipped and reported, unless ``follow_external_symlinks`` is set. A
file named explicitly is read wherever it lives (naming it is the choice). A folder reached twice
(a symlink loop, a second link to it) is walked once, and a file reached through several paths is
returned once. File names that are not valid UTF-8 or hold control characters (a newline in a name
would print a fake line in a report) are refused: rename the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple


class FileRef(NamedTuple):
    """A file found by :func:`discover_files`."""

    root: Path
    path: Path
    doc_id: str


class SkippedFile(NamedTuple):
    """A file or folder that discovery left out, and why."""

    path: Path
    reason: str


# C0 and C1 controls, DEL, and the invisible or reordering characters that hide or fake text.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_name(name: str | os.PathLike[str]) -> str:
    """A file name or path as one printable line.

    Bytes that are not UTF-8 become ``\\xNN``, control characters ``\\n``, ``\\t`` or ``\\xNN``, and
    invisible or bidi characters ``\\uNNNN``: a name can neither break a report's line nor hide
    what it is. Escaping an escaped name changes nothing.
    """
    try:
        text = os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name decodes to
        text = os.fspath(name).encode("utf-8", "backslashreplace").decode("ascii")
    return _UNPRINTABLE.sub(_escape_character, text)


def _escape_character(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def name_problem(doc_id: str) -> str | None:
    """Why a file name cannot be indexed as it is, or None."""
    try:
        doc_id.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes of a file name arrive as lone surrogates
        return "the file name is not valid UTF-8: rename it"
    if _CONTROL.search(doc_id):
        return "the file name holds control characters (shown escaped): rename it"
    return None


def discover_files(
    paths: Sequence[Path], extensions: Sequence[str], follow_external_symlinks: bool = False
) -> tuple[list[FileRef], list[SkippedFile]]:
    """Find the files under ``paths`` whose extension is in ``extensions`` (case-insensitive).

    See the module docstring for the rules. Files with other extensions are ignored silently,
    unless named explicitly. Raises FileNotFoundError if one of ``paths`` does not exist.
    """
    wanted = {normalize_extension(extension) for extension in extensions}
    refs: list[FileRef] = []
    skipped: list[SkippedFile] = []
    seen_files: dict[Path, str] = {}
    seen_dirs: set[Path] = set()
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise FileNotFoundError(f"No such file or directory: {escape_name(path)}")
        if path.is_dir():
            walk = _Walk(path.absolute(), wanted, seen_dirs, skipped, follow_external_symlinks)
            found = sorted(walk.files(walk.root, []), key=lambda ref: ref.doc_id)
        else:
            found = _single_file(path.absolute(), wanted, skipped)
        for ref in found:
            target = ref.path.resolve()
            problem = name_problem(ref.doc_id)
            if problem:
                skipped.append(SkippedFile(ref.path, problem))
            elif target in seen_files:
                skipped.append(SkippedFile(ref.path, f"same file as {escape_name(seen_files[target])}"))
            else:
                seen_files[target] = ref.doc_id
                refs.append(ref)
    return refs, skipped


def _single_file(path: Path, wanted: set[str], skipped: list[SkippedFile]) -> list[FileRef]:
    if not path.is_file():
        skipped.append(SkippedFile(path, "not a regular file"))
        return []
    if normalize_extension(path.suffix) not in wanted:
        skipped.append(SkippedFile(path, f"unsupported file type {escape_name(path.suffix) or '(no extension)'}"))
        return []
    return [FileRef(path.parent, path, path.name)]


class _Walk:
    """One folder's recursive walk, holding what all of its levels share."""

    def __init__(
        self, root: Path, wanted: set[str], seen_dirs: set[Path], skipped: list[SkippedFile], external: bool
    ) -> None:
        self.root = root
        self.resolved_root = root.resolve()
        self.wanted = wanted
        self.seen_dirs = seen_dirs
        self.skipped = skipped
        self.external = external

    def files(self, directory: Path, ancestors: list[Path]) -> Iterator[FileRef]:
        """The wanted files under ``directory`` (depth first, sorted by name)."""
        resolved = directory.resolve()
        if resolved in ancestors:
            self.skipped.append(SkippedFile(directory, "symlink loop"))
            return
        if resolved in self.seen_dirs:
            self.skipped.append(SkippedFile(directory, "folder already included through another path"))
            return
        self.seen_dirs.add(resolved)
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            self.skipped.append(SkippedFile(directory, f"cannot list folder: {error.strerror or error}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = directory / entry.name
            is_dir = _is_dir(entry)
            if not is_dir and normalize_extension(path.suffix) not in self.wanted:
                continue
            if entry.is_symlink() and not is_dir and not _is_file(entry):
                self.skipped.append(SkippedFile(path, "broken link or not a regular file"))
            elif entry.is_symlink() and not self.external and not self._leads_inside(path):
                kind = "folder" if is_dir else "file"
                self.skipped.append(
                    SkippedFile(
                        path,
                        f"symbolic link to a {kind} outside {escape_name(self.resolved_root)}: not followed "
                        "(set ingest.follow_external_symlinks to follow it)",
                    )
                )
            elif is_dir:
                yield from self.files(path, [*ancestors, resolved])
            elif _is_file(entry):
                yield FileRef(self.root, path, path.relative_to(self.root).as_posix())
            else:
                self.skipped.append(SkippedFile(path, "broken link or not a regular file"))

    def _leads_inside(self, link: Path) -> bool:
        try:
            target = link.resolve()
        except (OSError, RuntimeError):  # a loop or a chain too deep to resolve
            return False
        return target.is_relative_to(self.resolved_root)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # e.g. a symlink chain too deep to resolve
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def normalize_extension(extension: str) -> str:
    """``.txt`` for ``txt``, ``.TXT`` or ``.txt``; empty for no extension."""
    return "." + extension.lower().lstrip(".") if extension else ""
