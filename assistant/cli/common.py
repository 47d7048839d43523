"""What every command shares: the common options, settings, services, checks of values, one-line errors.

Command modules import this module and nothing of each other, so there is no import cycle. It
imports nothing heavy (no settings library, no index): ``assistant --help`` stays fast, and each
command imports what it uses when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar, get_args

import typer

from assistant.errors import ExitCode, exit_code

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.services import Services

T = TypeVar("T")

Exit = ExitCode
"""The exit codes (one table in :mod:`assistant.errors`)."""

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML settings file (default: $ASSISTANT_CONFIG, else the assistant.toml of the nearest folder up).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class CommonOptions:
    """The options every command takes (``--data-dir``, ``--verbose``; see :mod:`assistant.cli.group`)."""

    data_dir: Path | None = None
    verbose: bool = False


_OPTIONS: ContextVar[CommonOptions | None] = ContextVar("assistant_cli_options", default=None)


def common_options() -> CommonOptions:
    """The common options of the command line being run (defaults outside one)."""
    return _OPTIONS.get() or CommonOptions()


def remember_option(**values: Any) -> None:
    """Record the value of a common option for this command line (called while it is parsed)."""
    _OPTIONS.set(replace(common_options(), **values))


def reset_options() -> None:
    """Forget the common options of an earlier command line (one process may run several)."""
    _OPTIONS.set(CommonOptions())


def fail(message: str, code: int) -> NoReturn:
    """Print a one-line error and exit with ``code``."""
    typer.echo(f"error: {' '.join(message.splitlines())}", err=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None) -> Settings:
    """The settings, with the data directory of ``--data-dir``; or a one-line error and exit 2.

    Says on stderr how to move an old ``.data`` folder when that is the one found, and, with
    ``--verbose``, which settings file and data directory are used and why.
    """
    from assistant.config import load_settings
    from assistant.errors import ConfigError

    options = common_options()
    try:
        settings = load_settings(config, **({} if options.data_dir is None else {"data_dir": options.data_dir}))
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)
    location = settings.data_location
    if options.verbose:
        typer.echo(f"settings file: {settings.config_file or 'none (defaults and environment)'}", err=True)
        typer.echo(f"data directory: {location.path} ({location.reason})", err=True)
    if location.note:
        typer.echo(f"note: {location.note}", err=True)
    return settings


def require_index(settings: Settings) -> None:
    """Exit 3 with one line saying where the index was looked for, unless the data directory holds one.

    In server mode (``catalog.url``) the catalog is in the database: opening the index checks it.
    """
    if settings.catalog.url is None and not settings.catalog_path.is_file():
        location = settings.data_location
        fail(
            f"no index in {location.path} ({location.reason}): run `assistant ingest PATH` to index a folder, "
            "or pass --data-dir",
            Exit.INDEX,
        )


def require_documents(services: Services) -> None:
    """Exit 3 with one line when the (opened) index holds no document."""
    documents, _ = services.counts()
    if documents == 0:
        fail(f"the index in {services.settings.data_dir} is empty: run `assistant ingest PATH` first", Exit.INDEX)


def services_for(settings: Settings, need_index: bool = True) -> Services:
    """The services for these settings (imported here: ``--help`` stays light).

    With ``need_index`` (the read-only commands), a data directory without an index exits 3
    (:func:`require_index`) before anything is opened, so that no folder is created.
    """
    if need_index:
        require_index(settings)
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


def run(config: Path | None, action: Callable[[Services], T], need_index: bool = True) -> T:
    """Build the services and run ``action`` with friendly errors.

    With ``need_index`` a missing or empty index exits 3 with one line (:func:`require_index`,
    :func:`require_documents`) before ``action`` runs.
    """
    settings = settings_or_exit(config)
    with friendly_errors():
        services = services_for(settings, need_index)
        if need_index:
            require_documents(services)
        return action(services)


def setting_choices(section: str, field: str) -> tuple[str, ...]:
    """The values a ``Literal`` setting accepts (``setting_choices("retrieval", "mode")``): the options
    that set it take exactly these."""
    from assistant.config import Settings

    model: Any = Settings.model_fields[section].annotation
    return tuple(get_args(model.model_fields[field].annotation))


def check_choice(option: str, value: str | None, choices: tuple[str, ...]) -> None:
    """Exit 2 with one line unless ``value`` is None or one of ``choices``."""
    if value is not None and value not in choices:
        fail(f"unknown {option} value {value!r} (use {', '.join(choices)})", Exit.USAGE)


def check_k(k: int | None) -> None:
    """Exit 2 with one line unless ``k`` (passages to retrieve) is None or between 1 and the maximum."""
    from assistant.config import MAX_TOP_K

    if k is not None and not 1 <= k <= MAX_TOP_K:
        fail(f"-k must be between 1 and {MAX_TOP_K}, not {k}", Exit.USAGE)
