"""What every part of the UI needs from outside Python: gradio, imported late and quietly, and the static files."""

from __future__ import annotations

import os
from importlib import resources


def quiet_gradio() -> None:
    """Turn gradio's analytics and version check off; call it before ``import gradio``.

    No module of the web room imports gradio at import time: each function that needs it calls
    this first, so that importing :mod:`assistant.web` neither loads gradio nor touches the environment.
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def static_text(name: str) -> str:
    """A file of the page's static assets (``assistant/web/static/``, shipped as package data)."""
    return resources.files("assistant.web").joinpath("static", name).read_text(encoding="utf-8")
