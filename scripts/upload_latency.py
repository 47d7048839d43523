"""Answer latency of the web UI during a large upload (the sync runs in the worker process).

    .venv/bin/python scripts/upload_latency.py [MB]      # default 5

Indexes the shipped corpus in a temp folder, serves the UI, uploads a generated ledger of MB
megabytes (repeated paragraphs, so embedding stays cheap and the rest of the sync is that of a big
file) and asks one question again and again until the upload is done; prints one RESULT line.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _percentile(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else None


def main() -> None:
    """Measure and print the RESULT line."""
    from conftest import CORPUS, free_port, shared_gguf
    from gradio_client import Client, handle_file
    from test_web_uploads import QUESTION, ledger

    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    base = Path(tempfile.mkdtemp(prefix="upload-latency-"))
    (base / "corpus").mkdir()
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, base / "corpus" / path.name)
    os.environ.update(
        {
            "ASSISTANT_DATA_DIR": str(base / "data"),
            "ASSISTANT_LLM__BACKEND": "embedded",
            "ASSISTANT_OLLAMA__HOST": "http://127.0.0.1:9",
            "ASSISTANT_EMBEDDING__CACHE_DIR": str(base / "cache"),
            "ASSISTANT_EMBEDDED__MODEL_PATH": str(shared_gguf()),
            "ASSISTANT_UI__MAX_UPLOAD_MB": str(max(20.0, megabytes * 2)),
        }
    )
    from assistant.config import load_settings
    from assistant.services import build_services
    from assistant.web.app import build_app, launch_options

    services = build_services(load_settings(corpus_paths=[base / "corpus"]))
    services.ingest()
    app = build_app(services)
    app.launch(**launch_options(services.settings, port=free_port()), prevent_thread_lock=True, quiet=True)
    try:
        url = app.local_url.rstrip("/")
        big = base / "registro.txt"
        big.write_text(ledger(int(megabytes * 1_000_000), seed=3), encoding="utf-8")
        asker, uploader = Client(url, verbose=False), Client(url, verbose=False)

        def ask() -> tuple[float, str, bool]:
            started = time.perf_counter()
            answer = asker.predict(QUESTION, "embedded", 5, False, api_name="/ask")[-1]
            return time.perf_counter() - started, answer["status"], "Lightcap" in answer["text"]

        idle = [ask()[0] for _ in range(5)]
        started = time.perf_counter()
        job = uploader.submit([handle_file(str(big))], "embedded", api_name="/upload")
        during = []
        while not job.done():
            during.append(ask())
        job.result(timeout=1800)
        seconds = time.perf_counter() - started
        latencies = [t for t, _, _ in during]
        result = {
            "size_mb": big.stat().st_size / 1e6,
            "idle_p50_s": _percentile(idle, 0.5),
            "answered_during": len(during),
            "p50_s": _percentile(latencies, 0.5),
            "p95_s": _percentile(latencies, 0.95),
            "max_s": max(latencies, default=None),
            "errors": sum(1 for _, status, _ in during if status != "complete"),
            "wrong": sum(1 for _, status, right in during if status == "complete" and not right),
            "upload_s": round(seconds, 1),
            "documents_passages_after": services.counts(),
        }
        print("RESULT", json.dumps(result))
    finally:
        app.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
