"""The ``assistant`` command group: the tools' commands loaded when used, the common options on every
command, and every usage error as one line.

``assistant --help`` imports typer and little else: ``eval`` and ``bench`` are listed from
:data:`LAZY_COMMANDS` and their modules imported only when one of them runs (or shows its help).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from assistant.cli.common import remember_option, reset_options

if TYPE_CHECKING:
    from typer._click.core import Command, Context
    from typer._click.formatting import HelpFormatter

LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "eval": (
        "assistant.cli.evaluate",
        "Grade retrieval, answers, citations and refusals on a question set; exit 9 when a gate is crossed.",
    ),
    "bench": (
        "assistant.bench.command",
        "Measure ingest, re-ingest, retrieval latency, ask, start-up and memory on scaled corpora; write a report.",
    ),
    "serve": (
        "assistant.cli.serve",
        "Serve the REST API and the OpenAI-compatible endpoint (http://127.0.0.1:8765 by default).",
    ),
    "mcp": (
        "assistant.cli.serve",
        "Serve the documents as MCP tools, over stdio (for desktop agents) or streamable HTTP.",
    ),
    "chat": (
        "assistant.cli.chat",
        "Talk with your documents: follow-up questions, /sources, /open N, /scope, /export (/help lists them).",
    ),
    "verify": (
        "assistant.cli.evidence",
        "Re-check every quote of an evidence bundle against the files; exit 11 when any no longer holds.",
    ),
}
"""Commands added by their module's ``register(app)`` when used: name -> (module, first line of help)."""


def _remember_data_dir(value: Path | None) -> Path | None:
    remember_option(data_dir=Path(value) if value is not None else None)
    return value


def _remember_verbose(value: bool) -> bool:
    remember_option(verbose=bool(value))
    return value


def _common_signature(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Data directory (default: $ASSISTANT_DATA_DIR, else the .assistant folder or assistant.toml "
            "of the nearest folder up from here, else the user data folder).",
            callback=_remember_data_dir,
            expose_value=False,
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Say which settings file and data directory are used, and why.",
            callback=_remember_verbose,
            expose_value=False,
        ),
    ] = False,
) -> None:
    """Not a command: the signature typer turns into the options every command takes."""


def _common_params() -> list[Any]:
    probe = typer.Typer(add_completion=False, rich_markup_mode=None)
    probe.command()(_common_signature)
    return list(typer.main.get_command(probe).params)


def with_common_options(command: Command) -> Command:
    """``command`` with ``--data-dir`` and ``--verbose`` added (once; not when it has options of its own by
    those names). Their values reach :func:`assistant.cli.common.settings_or_exit`."""
    names = {param.name for param in command.params}
    flags = {flag for param in command.params for flag in getattr(param, "opts", [])}
    for param in _common_params():
        if param.name not in names and not flags & set(param.opts):
            command.params.append(param)
    return command


def _load(name: str) -> Command:
    holder = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_show_locals=False)
    importlib.import_module(LAZY_COMMANDS[name][0]).register(holder)
    command = typer.main.get_group(holder).commands[name]  # a module may register several commands
    command.name = name
    return command


class AssistantGroup(TyperGroup):
    """The command group of ``assistant`` (see the module's docstring)."""

    def list_commands(self, ctx: Context) -> list[str]:
        """The commands in the order they were registered, then the lazily loaded ones."""
        return [*self.commands, *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The command named ``cmd_name`` (importing a lazy one's module), with the common options."""
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            command = self.commands[cmd_name] = _load(cmd_name)
        return with_common_options(command) if command is not None else None

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The list of commands in ``--help``, without importing the lazy ones."""
        rows: list[tuple[str, str]] = []
        limit = formatter.width - 6 - max(map(len, self.list_commands(ctx)))
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or TyperCommand(name=name, help=LAZY_COMMANDS[name][1])
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line; a usage error (bad option, value or argument) is one line and exit 2."""
        from typer._click.exceptions import NoArgsIsHelpError, UsageError

        reset_options()
        if kwargs.get("standalone_mode", True) is False:
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except UsageError as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            typer.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except typer.TyperException as exc:  # click's other errors (a file that cannot be opened, ...)
            typer.echo(f"error: {exc}", err=True)
            sys.exit(getattr(exc, "exit_code", 1))
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)
