"""Load test: concurrent questions through the web UI's API while an ingest runs, then a table of figures.

    .venv/bin/python scripts/load_test.py [--questions 20] [--documents 30] [--time-limit 600] [--target api]

Everything happens in a temporary data folder and on the loopback: the shipped corpus is indexed
first (not measured), the UI is started in this process on a free 127.0.0.1 port, then
``--questions`` browser-like sessions (one ``gradio_client`` each) ask at once while a thread syncs
``--documents`` generated files into the same index, as an upload would. Each session's answer must
come back for its own question. Reported: answers, refusals, failures and busy replies, latency
percentiles, the ingest's duration, and the process's resident memory (baseline, peak, after).
Counts and time are bounded; the answer model is the embedded one unless ``--model`` says otherwise.
``--target api`` does the same through the REST API (``assistant serve``, uvicorn in this process):
``POST /v1/ask`` for each question while the files are uploaded with ``POST /v1/documents``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MAX_QUESTIONS = 100
MAX_DOCUMENTS = 500


@dataclass
class Outcome:
    """One session's question and what came back."""

    question: str
    seconds: float
    status: str  # answered, refused, failed, busy, error, mixed
    detail: str = ""


def _quiet_environment() -> None:
    """No telemetry, no hub lookups (gradio_client asks huggingface.co otherwise), no real Ollama."""
    os.environ.update(
        ANONYMIZED_TELEMETRY="False",
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    os.environ.setdefault("ASSISTANT_OLLAMA__HOST", "http://127.0.0.1:9")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemorySampler(threading.Thread):
    """Samples the resident set size every 50 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss_mb()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            self.peak = max(self.peak, _rss_mb())

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def _questions(count: int) -> list[str]:
    rows = [json.loads(line) for line in (REPO / "corpus" / "questions.jsonl").read_text().splitlines() if line]
    answerable = [row["question"] for row in rows if row["answerable"]]
    return [answerable[i % len(answerable)] for i in range(count)]


def _write_documents(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    cities = ["Trieste", "Lyon", "Porto", "Ghent", "Bergen", "Split", "Tartu", "Cork"]
    for number in range(count):
        rng = random.Random(number)
        city = rng.choice(cities)
        text = (
            f"Harbour report {number}\n\nInspector Vale{number} counted {rng.randint(10, 900)} ferries in {city} "
            f"during {rng.randint(1990, 2024)}. The port authority of {city} published the figures in spring.\n"
        )
        (folder / f"harbour_{number:03d}.txt").write_text(text, encoding="utf-8")


def _ask(url: str, question: str, model: str, deadline: float) -> Outcome:
    from gradio_client import Client

    started = time.perf_counter()
    try:
        session = Client(url, verbose=False, download_files=False)
        job = session.submit(question, model, 5, False, api_name="/ask")
        result = job.result(timeout=max(1.0, deadline - time.monotonic()))
    except Exception as exc:  # a full queue, a timeout or a server error: counted, never lost
        text = " ".join(str(exc).split())[:160] or type(exc).__name__
        status = "busy" if "queue" in text.lower() or "busy" in text.lower() else "error"
        return Outcome(question, time.perf_counter() - started, status, text)
    seconds = time.perf_counter() - started
    answer: dict[str, Any] = result[-1] or {}
    if answer.get("question") != question:
        return Outcome(question, seconds, "mixed", f"got the answer to {answer.get('question')!r}")
    if answer.get("status") == "failed" or answer.get("error"):
        error = str(answer.get("error"))
        return Outcome(question, seconds, "busy" if "busy" in error.lower() else "failed", error[:160])
    return Outcome(question, seconds, "refused" if answer.get("refused") else "answered", answer.get("text", "")[:80])


def _ask_api(url: str, question: str, model: str, deadline: float) -> Outcome:
    import httpx

    started = time.perf_counter()
    backend = {"embedded": "embedded", "auto": None}.get(model, "ollama")
    name = model.removeprefix("ollama:") if backend == "ollama" else None
    body = {"question": question, "backend": backend, "model": name}
    try:
        response = httpx.post(f"{url}/v1/ask", json=body, timeout=max(1.0, deadline - time.monotonic()))
    except httpx.HTTPError as exc:
        return Outcome(question, time.perf_counter() - started, "error", f"{type(exc).__name__}: {exc}"[:160])
    seconds, answer = time.perf_counter() - started, response.json()
    if response.status_code != 200:
        error = answer.get("error", {})
        status = "busy" if "busy" in str(error.get("code")) else "failed"
        return Outcome(question, seconds, status, f"{response.status_code} {error.get('message', '')}"[:160])
    if answer.get("question") != question:
        return Outcome(question, seconds, "mixed", f"got the answer to {answer.get('question')!r}")
    return Outcome(question, seconds, "refused" if answer.get("refused") else "answered", answer.get("text", "")[:80])


def _serve_api(services: Any) -> tuple[str, Any]:
    """The REST API served by uvicorn on a free loopback port in a thread: (URL, server)."""
    import uvicorn

    from assistant.api.app import build_api

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(build_api(services), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _upload(url: str, folder: Path) -> dict[str, Any]:
    """Upload every file of ``folder`` through ``POST /v1/documents``, 20 files a request."""
    import httpx

    files, added = sorted(folder.iterdir()), 0
    for start in range(0, len(files), 20):
        batch = [("files", (f.name, f.read_bytes())) for f in files[start : start + 20]]
        response = httpx.post(f"{url}/v1/documents", files=batch, timeout=600)
        response.raise_for_status()
        added += len(response.json()["added"])
    return {"added": added, "failed": 0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20, help="concurrent sessions, one question each")
    parser.add_argument("--documents", type=int, default=30, help="generated files ingested meanwhile")
    parser.add_argument("--model", default="embedded", help="the UI's model choice: embedded, auto, ollama:<name>")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds before an unanswered one is an error")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument("--target", choices=["ui", "api"], default="ui", help="the web UI, or the REST API")
    args = parser.parse_args(argv)
    args.questions = max(1, min(args.questions, MAX_QUESTIONS))
    args.documents = max(0, min(args.documents, MAX_DOCUMENTS))

    _quiet_environment()
    workdir = Path(tempfile.mkdtemp(prefix="assistant-load-"))
    os.environ["ASSISTANT_DATA_DIR"] = str(workdir / "data")
    corpus, extra = workdir / "corpus", workdir / "uploads"
    shutil.copytree(REPO / "corpus", corpus, ignore=shutil.ignore_patterns("*.jsonl"))
    _write_documents(extra, args.documents)

    from assistant import reports
    from assistant.config import load_settings
    from assistant.services import build_services
    from assistant.web.app import build_app, launch_options

    services = build_services(load_settings(corpus_paths=[corpus]))
    print(f"indexing the shipped corpus into {workdir} …", file=sys.stderr)
    services.ingest()
    if args.target == "api":
        url, api = _serve_api(services)
        ask = _ask_api
    else:
        app = build_app(services)
        options = launch_options(services.settings, port=_free_port())
        app.launch(**{**options, "prevent_thread_lock": True, "quiet": True})
        url, ask = str(app.local_url), _ask
    assert url.startswith("http://127.0.0.1:"), url
    ask(url, "Who is OpenAI's COO?", args.model, time.monotonic() + 300)  # warm-up: models loaded
    baseline = _rss_mb()

    sampler = MemorySampler()
    sampler.start()
    ingest_result: dict[str, Any] = {}

    def ingest() -> None:
        started = time.perf_counter()
        try:
            if args.target == "api":
                ingest_result.update(_upload(url, extra))
            else:
                report = services.ingest([extra])
                ingest_result.update(added=len(report.added), failed=len(report.failed))
        except Exception as exc:  # reported in the table
            ingest_result["error"] = f"{type(exc).__name__}: {exc}"
        ingest_result["seconds"] = time.perf_counter() - started

    ingester = threading.Thread(target=ingest, daemon=True)
    deadline = time.monotonic() + args.time_limit
    started = time.perf_counter()
    ingester.start()
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=args.questions) as pool:
        futures = [pool.submit(ask, url, q, args.model, deadline) for q in _questions(args.questions)]
        for future in as_completed(futures):
            outcomes.append(future.result())
    wall = time.perf_counter() - started
    ingester.join(timeout=max(1.0, deadline - time.monotonic()))
    peak = sampler.stop()
    if args.target == "api":
        api.should_exit = True
    else:
        app.close()
    after = _rss_mb()
    consistent = services.audit().problems()

    latencies = [o.seconds for o in outcomes if o.status in ("answered", "refused")]
    counts = {status: sum(o.status == status for o in outcomes) for status in
              ("answered", "refused", "failed", "busy", "error", "mixed")}  # fmt: skip
    spread = [reports.percentile(latencies, q) for q in (50, 95, 100)]  # 100: the slowest
    rows = [
        ("questions (concurrent sessions)", str(args.questions)),
        ("answered / refused", f"{counts['answered']} / {counts['refused']}"),
        ("failed / busy / errors", f"{counts['failed']} / {counts['busy']} / {counts['error']}"),
        ("mixed with another session", str(counts["mixed"])),
        ("lost (no reply at all)", str(args.questions - len(outcomes))),
        ("latency p50 / p95 / max", " / ".join(f"{reports.number(value, 1)} s" for value in spread)),
        ("latency mean", f"{reports.number(reports.mean(latencies), 1)} s"),
        ("all answers in", f"{wall:.1f} s"),
        (
            "ingest meanwhile",
            f"{ingest_result.get('added', 0)} files added in {ingest_result.get('seconds', float('nan')):.1f} s"
            + (f", error: {ingest_result['error']}" if "error" in ingest_result else ""),
        ),
        ("index consistent afterwards", "yes" if not consistent else "; ".join(consistent)),
        ("resident memory baseline / peak / after", f"{baseline:.0f} / {peak:.0f} / {after:.0f} MB"),
        ("peak RSS (getrusage)", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"),
        ("model choice / target", f"{args.model} / {args.target}"),
        ("CPUs", str(os.cpu_count())),
    ]
    print("\n".join(reports.markdown_table(["figure", "value"], rows, align="lr")))
    for outcome in outcomes:
        if outcome.status not in ("answered", "refused"):
            print(f"  {outcome.status}: {outcome.question[:60]} — {outcome.detail}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    bad = counts["mixed"] + counts["error"] + (args.questions - len(outcomes))
    return 1 if bad or consistent else 0


if __name__ == "__main__":
    sys.exit(main())
