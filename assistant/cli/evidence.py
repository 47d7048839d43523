"""``assistant verify BUNDLE``: re-check every quote of an evidence bundle against the files.

Exit 0 when every quote is still at its offsets; 11 when any moved, changed or went missing
(each quote is reported on its own line); 2 when the file is not a bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assistant.cli.common import ConfigOption, Exit, fail, friendly_errors, services_for, settings_or_exit

if TYPE_CHECKING:
    from assistant.conversations.verify import BundleCheck

MARKS = {"ok": ("ok     ", "green"), "moved": ("MOVED  ", "yellow"), "changed": ("CHANGED", "red"),
         "missing": ("MISSING", "red")}


def register(app: typer.Typer) -> None:
    """Add the ``verify`` command to ``app``."""

    @app.command()
    def verify(
        bundle: Annotated[Path, typer.Argument(help="An evidence bundle (.json) from `ask --export` or the UI.")],
        root: Annotated[
            Path | None,
            typer.Option("--root", help="Find the files under this folder by document id (not at their recorded "
                         "paths): for a bundle checked on another machine.", show_default=False),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the check of every quote as JSON.")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Re-check every quote of an evidence bundle against the files; exit 11 when any no longer holds."""
        if not bundle.is_file():
            fail(f"no such bundle: {bundle}", Exit.USAGE)
        if root is not None and not root.is_dir():
            fail(f"--root is not a folder: {root}", Exit.USAGE)
        settings = settings_or_exit(config)
        with friendly_errors():
            check = services_for(settings, need_index=False).verify_bundle(bundle, root)
        if as_json:
            typer.echo(check.model_dump_json(indent=2))
        else:
            print_check(check)
        if not check.holds:
            raise typer.Exit(Exit.EVIDENCE_CHANGED)


def print_check(check: BundleCheck) -> None:
    """One line a quote, then a summary."""
    from rich.text import Text

    from assistant.cli.terminal import console, shown_name
    from assistant.text.sanitize import terminal_text as safe

    out = console()
    for quote in check.quotes:
        mark, style = MARKS[quote.state]
        line = Text(mark, style=style)
        line.append(f" answer {quote.answer} [{quote.number}] {shown_name(quote.doc_id)} "
                    f"chars {quote.start}-{quote.end}: {safe(quote.detail)}", style="")
        out.print(line)
    counts = check.counts()
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    out.print(f"{len(check.quotes)} quotes: {summary or 'none'}"
              + ("; every quote holds" if check.holds else "; some quotes no longer hold"))
