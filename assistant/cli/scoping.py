"""The scope options of ``assistant ask`` and ``assistant search``: ``--in``, ``--doc``, ``--lang``.

Each is repeatable; together they make a :class:`~assistant.models.Scope` (see
:mod:`assistant.index.scope` for what a glob matches). A scope that names no indexed document is
a usage error (exit 2), raised by the services before anything is retrieved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assistant.cli.common import Exit, fail

if TYPE_CHECKING:
    from assistant.models import Scope

LANGUAGES = ("it", "fr", "en")
"""The languages a document can be detected in (``--lang``)."""

InOption = Annotated[
    list[str] | None,
    typer.Option(
        "--in",
        help='Only documents whose id matches this glob ("contracts/**", "**/*.pdf"; a bare folder name is '
        "that folder). Repeatable.",
        show_default=False,
    ),
]
DocOption = Annotated[
    list[str] | None,
    typer.Option(
        "--doc", help="Only this document (its id, as `assistant search` shows). Repeatable.", show_default=False
    ),
]
LangOption = Annotated[
    list[str] | None,
    typer.Option("--lang", help="Only documents in this language: it, fr or en. Repeatable.", show_default=False),
]


def scope_of(globs: list[str] | None, doc_ids: list[str] | None, languages: list[str] | None) -> Scope | None:
    """The scope the options name (None when none is given); exit 2 with one line for a bad ``--lang``."""
    from assistant.models import Scope

    if not (globs or doc_ids or languages):
        return None
    for language in languages or []:
        if language.lower() not in LANGUAGES:
            fail(f"unknown --lang value {language!r} (use {', '.join(LANGUAGES)})", Exit.USAGE)
    for glob in globs or []:
        if not glob.strip():
            fail('--in needs a glob, e.g. --in "contracts/**"', Exit.USAGE)
    return Scope(
        globs=list(globs or []),
        doc_ids=list(doc_ids or []),
        languages=[language.lower() for language in languages or []],
    )
