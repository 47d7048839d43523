"""Command-line options shared by every command (kept apart so that command modules import no other)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (default: $ASSISTANT_CONFIG or ./assistant.toml)."),
]
