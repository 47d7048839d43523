"""What every command shares: the ``--config`` option, settings, services, one-line errors.

Command modules import this module and nothing of each other, so there is no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from assistant.config import Settings, load_settings
from assistant.errors import ConfigError, ExitCode, exit_code

if TYPE_CHECKING:
    from assistant.services import Services

T = TypeVar("T")

Exit = ExitCode
"""The exit codes (one table in :mod:`assistant.errors`)."""

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (default: $ASSISTANT_CONFIG or ./assistant.toml)."),
]


def fail(message: str, code: int) -> NoReturn:
    """Print a one-line error and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None) -> Settings:
    """The settings, or a one-line error and exit 2."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)


def services_for(settings: Settings) -> Services:
    """The services for these settings (imported here: ``--help`` stays light)."""
    from assistant.services import build_services

    return build_services(settings)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn the assistant's known errors into one line on stderr and their exit code."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        code = exit_code(exc)
        if code is None:
            raise
        fail(str(exc), code)


def run(config: Path | None, action: Callable[[Services], T]) -> T:
    """Build the services and run ``action`` with friendly errors."""
    settings = settings_or_exit(config)
    with friendly_errors():
        return action(services_for(settings))
