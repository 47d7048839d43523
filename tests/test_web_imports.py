"""Importing the web room does no work: no gradio, no environment change, and its static files ship with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / "assistant" / "web"

IMPORT_ALL = r"""
import importlib, json, os, pkgutil, sys
before = dict(os.environ)
import assistant.web
names = sorted("assistant.web." + m.name for m in pkgutil.iter_modules(assistant.web.__path__))
for name in names:
    importlib.import_module(name)
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
heavy = sorted(m for m in ("gradio", "gradio_client", "pandas", "chromadb", "llama_index") if m in sys.modules)
print(json.dumps({"modules": names, "heavy": heavy, "changed": changed}))
"""


def test_importing_any_web_module_imports_no_gradio_and_changes_no_environment() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_ENABLED"}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])

    expected = sorted(f"assistant.web.{p.stem}" for p in WEB.glob("*.py") if p.stem != "__init__")
    assert result["modules"] == expected and "assistant.web.layout" in expected
    assert result["heavy"] == [], "importing the web room loaded a heavy library"
    assert result["changed"] == [], "importing the web room changed the environment"


def test_building_the_page_turns_gradio_analytics_off_before_importing_gradio(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from assistant.config import load_settings\n"
        "from assistant.services import build_services\n"
        "from assistant.web.app import build_app\n"
        f"app = build_app(build_services(load_settings(data_dir={str(tmp_path / 'data')!r})))\n"
        "import gradio\n"
        "print(type(app).__name__, os.environ['GRADIO_ANALYTICS_ENABLED'], gradio.analytics.analytics_enabled())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_ENABLED" and not k.startswith("ASSISTANT_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["Blocks", "False", "False"]
    assert not (tmp_path / "data").exists(), "building the page opens no index"


def test_the_page_style_and_script_are_package_files() -> None:
    from assistant.web.toolkit import static_text

    css, script = static_text("app.css"), static_text("app.js")
    assert ".src-card" in css and "#conversation" in css
    assert "showSources" in script and "watch('value'" in script
    assert (WEB / "static" / "app.css").read_text(encoding="utf-8") == css
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"assistant.web" = ["static/*"]' in pyproject, "the static files are shipped as package data"
