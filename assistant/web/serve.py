"""Serving the UI: safe launch options (loopback, login when exposed, blocked data paths) and the launch.

Nothing here imports gradio at import time (see :func:`~assistant.web.toolkit.quiet_gradio`).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.web.layout import build_app
from assistant.web.toolkit import quiet_gradio, static_text

if TYPE_CHECKING:
    from assistant.services import Services


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def launch_options(
    settings: Settings, host: str | None = None, port: int | None = None, share: bool | None = None
) -> dict[str, Any]:
    """The keyword arguments of ``Blocks.launch``: safe defaults, login when exposed, blocked data paths.

    Raises :class:`ConfigError` for a non-loopback host or a share link without a user name and password.
    """
    ui = settings.ui
    host = host or ui.host
    share = ui.share if share is None else share
    auth = (ui.username, ui.password) if ui.username and ui.password else None
    if (share or not is_loopback(host)) and auth is None:
        where = "a public share link" if share else f"{host} (reachable from other machines)"
        raise ConfigError(
            f"refusing to serve the UI on {where} without a login: set ASSISTANT_UI__USERNAME and "
            "ASSISTANT_UI__PASSWORD, or listen on 127.0.0.1"
        )
    quiet_gradio()
    import gradio as gr

    blocked = [settings.data_dir, settings.chroma_path, settings.index_dir]
    if settings.config_file is not None:
        blocked.append(settings.config_file)
    return {
        "server_name": host,
        "server_port": port or ui.port,
        "share": share,
        "auth": auth,
        "max_file_size": int(ui.max_upload_mb * 1024 * 1024),
        "blocked_paths": sorted({str(p.resolve()) for p in blocked}),
        "allowed_paths": [],
        "show_error": False,
        "footer_links": [],
        "run_history": False,
        "ssr_mode": False,
        "mcp_server": False,
        "pwa": False,
        "enable_monitoring": False,
        "css": static_text("app.css"),
        "theme": gr.themes.Default(primary_hue="indigo", neutral_hue="slate"),
    }


def launch(services: Services, host: str | None = None, port: int | None = None, share: bool | None = None) -> None:
    """Serve the UI until interrupted (loopback by default; a login is required anywhere else)."""
    options = launch_options(services.settings, host, port, share)
    build_app(services).launch(**options)
