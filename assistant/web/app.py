"""The web UI's entry points: :func:`build_app` (the page over the services) and :func:`launch`.

The room: :mod:`~assistant.web.layout` (the Blocks page), :mod:`~assistant.web.callbacks` (its
handlers, over :class:`~assistant.services.Services` only), :mod:`~assistant.web.conversation` (the
per-session state), :mod:`~assistant.web.render` (the HTML), :mod:`~assistant.web.documents` (the
Documents tab), :mod:`~assistant.web.worker` (uploads synced in a worker process),
:mod:`~assistant.web.serve` (launch options and login), :mod:`~assistant.web.history` (the kept
conversations), and ``static/`` (the page's CSS and script).
Importing any of them imports no gradio and changes no environment variable.
"""

from assistant.web.layout import build_app
from assistant.web.serve import launch, launch_options

__all__ = ["build_app", "launch", "launch_options"]
