"""Nothing leaves the machine: import, ingest, ask and the web UI make no connection beyond the loopback.

The check runs in a child process whose sockets refuse every non-loopback address (and every name
lookup other than localhost) from before the first import, so that import-time calls are covered
too. Telemetry variables are removed from its environment: the assistant must turn telemetry off
itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.server]

GUARD = r"""
import ipaddress, json, os, socket, sys

attempts = []
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_local(address):
    if isinstance(address, (str, bytes)):  # a Unix socket path
        return True
    host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def guard(kind, address):
    if not is_local(address):
        attempts.append(f"{kind} {address!r}")
        raise OSError(f"test_privacy: blocked {kind} to {address!r}")


real_connect, real_connect_ex, real_sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname


def connect(self, address):
    guard("connect", address)
    return real_connect(self, address)


def connect_ex(self, address):
    guard("connect", address)
    return real_connect_ex(self, address)


def sendto(self, data, *args):
    guard("sendto", args[-1])
    return real_sendto(self, data, *args)


def getaddrinfo(host, *args, **kwargs):
    if host is not None:
        guard("lookup", (host, 0))
    return real_getaddrinfo(host, *args, **kwargs)


def gethostbyname(host):
    guard("lookup", (host, 0))
    return real_gethostbyname(host)


socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname

# -- the guard works ------------------------------------------------------------------------------
corpus, port = sys.argv[1], int(sys.argv[2])
steps = {}
for address in [("192.0.2.1", 80), ("example.org", 443)]:  # TEST-NET-1 and a name: both refused
    try:
        socket.create_connection(address, timeout=1)
    except OSError:
        pass
steps["guard"] = len(attempts)
attempts.clear()

# -- what the assistant does --------------------------------------------------------------------

import assistant.cli.app  # noqa: E402
import assistant.index.vectors  # noqa: E402
steps["chromadb imported by import"] = "chromadb" in sys.modules
import assistant.web.app  # noqa: E402
steps["gradio imported by import"] = "gradio" in sys.modules

from assistant.config import load_settings  # noqa: E402
from assistant.services import build_services  # noqa: E402

services = build_services(load_settings(corpus_paths=[corpus]))
steps["ingest"] = len(services.ingest().added)
steps["chroma telemetry after ingest"] = os.environ.get("ANONYMIZED_TELEMETRY")
answer = services.ask("Who counted the ferries in Trieste?")  # auto: asks Ollama on the loopback first
steps["ask"] = answer.backend + " " + answer.status

app = assistant.web.app.build_app(services)
steps["gradio analytics after build"] = os.environ.get("GRADIO_ANALYTICS_ENABLED")
options = assistant.web.app.launch_options(services.settings, port=port)
app.launch(**{**options, "prevent_thread_lock": True, "quiet": True})
try:
    # the UI's API over plain HTTP: gradio_client itself calls huggingface.co (agent registry, telemetry)
    import httpx

    base = app.local_url.rstrip("/")
    question = ["Who counted the ferries in Trieste?", "embedded", 3, False, [], []]  # ..., turns, scope
    event = httpx.post(f"{base}/gradio_api/call/ask", json={"data": question}, timeout=30).json()["event_id"]
    stream = httpx.get(f"{base}/gradio_api/call/ask/{event}", timeout=120).text
    last = [line for line in stream.splitlines() if line.startswith("data:")][-1]
    steps["ui ask"] = json.loads(last.removeprefix("data:"))[-1]["status"]
finally:
    app.close()
print("RESULT " + json.dumps({"attempts": attempts, "steps": steps}))
"""


def test_no_connection_leaves_the_loopback(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ferries.txt").write_text("Inspector Quill counted 42 ferries in Trieste in 2023.\n", encoding="utf-8")
    (corpus / "bridges.md").write_text("# Bridges\n\nInspector Vale counted 17 bridges in Ghent.\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("ANONYMIZED_TELEMETRY", "GRADIO_ANALYTICS_ENABLED")}
    done = subprocess.run(
        [sys.executable, "-c", GUARD, str(corpus), str(free_port())],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["attempts"] == [], "connections beyond the loopback"
    assert result["steps"] == {
        "guard": 2,
        "chromadb imported by import": False,
        "gradio imported by import": False,
        "ingest": 2,
        "chroma telemetry after ingest": "False",
        "ask": "embedded complete",
        "gradio analytics after build": "False",
        "ui ask": "complete",
    }
