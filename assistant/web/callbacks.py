"""The UI's event handlers: each calls :class:`~assistant.services.Services` and renders what comes back.

Nothing here reads the index or the models directly, and nothing is cached: the status line, the
counts and the documents are read through the services on every call, so that writes by other
processes (a CLI ``assistant ingest``) show up. Uploads are synced in a worker process
(:mod:`assistant.web.worker`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import error_code
from assistant.web.choices import default_model_choice, model_choices, parse_model_choice
from assistant.web.conversation import (
    Turn,
    apply_event,
    history_pairs,
    next_turns,
    question_preview,
    settle,
    turn_json,
)
from assistant.web.documents import (
    documents_summary,
    documents_table,
    index_summary,
    removal_lines,
    report_lines,
)
from assistant.web.messages import readable_error
from assistant.web.render import Notice, conversation_html, notice_html, sources_html, status_html
from assistant.web.scope import scope_of_choice
from assistant.web.toolkit import quiet_gradio
from assistant.web.viewer import evidence_html
from assistant.web.worker import add_files_in_worker

if TYPE_CHECKING:
    from assistant.services import Services

STREAM_INTERVAL = 0.05
"""Seconds between two streamed updates of the page (tokens in between are sent together)."""
ASK_BUTTON: dict[str, Any] = {"submit_btn": "Ask", "stop_btn": False}
STOP_BUTTON: dict[str, Any] = {"submit_btn": False, "stop_btn": "Stop"}
ProgressBar = Callable[..., Any]


def skip() -> Any:
    """Gradio's "leave this output as it is"."""
    quiet_gradio()
    import gradio as gr

    return gr.skip()


def update(**changes: Any) -> Any:
    """Gradio's "change these properties of this output"."""
    quiet_gradio()
    import gradio as gr

    return gr.update(**changes)


class Callbacks:
    """The UI's event handlers; each calls the services and renders the result."""

    def __init__(self, services: Services, upload_cache: Path | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.upload_cache = upload_cache  # gradio's folder of uploads: copies there go once they are saved

    # -- chat --
    def ask(
        self,
        question: str,
        model_choice: str,
        k: float,
        strict: bool,
        turns: list[Turn],
        scope_choice: Sequence[str] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream the answer to ``question`` into this session's conversation.

        A question the services refuse (too long, a scope with no document) becomes a failed turn
        with one readable line, and stays in the question box. ``scope_choice`` (the scope picker's
        values) limits the passages, so the citations, to those folders and documents.
        """
        question = (question or "").strip()
        if not question:
            yield (skip(),) * 5
            return
        try:
            backend, model = parse_model_choice(model_choice)
            options = {"k": int(k), "strict": bool(strict), "backend": backend, "model": model}
            options["scope"] = scope_of_choice(scope_choice)
            events = self.services.stream(question, history=history_pairs(turns), **options)
        except Exception as exc:
            turns = next_turns(turns, question_preview(question))
            fail(turns[-1], exc)
            yield conversation_html(turns), sources_html(turns), turns, skip(), turn_json(turns[-1])
            return
        turns = next_turns(turns, question)
        turn = turns[-1]
        yield conversation_html(turns), skip(), turns, update(value="", **STOP_BUTTON), skip()
        try:
            last = 0.0
            for event in events:
                apply_event(turn, event)
                if time.monotonic() - last >= STREAM_INTERVAL:
                    last = time.monotonic()
                    yield conversation_html(turns), skip(), turns, skip(), skip()
        except Exception as exc:  # shown as one readable message; the server log keeps the rest
            fail(turn, exc)
        yield conversation_html(turns), sources_html(turns), turns, update(**ASK_BUTTON), turn_json(turn)

    def stop(self, turns: list[Turn]) -> tuple[str, list[Turn], Any]:
        """Mark an answer interrupted by the stop button."""
        turns = settle(turns)
        return conversation_html(turns), turns, update(**ASK_BUTTON)

    def clear(self) -> tuple[str, str, list[Turn], None]:
        """Forget this session's conversation."""
        return conversation_html([]), sources_html([]), [], None

    def evidence(self, turns: list[Turn], turn: Any, number: Any) -> str:
        """The evidence viewer opened on source ``number`` of answer ``turn`` (from this session's conversation)."""
        return evidence_html(self.services, turns, turn, number)

    # -- status --
    def status(self, model_choice: str | None) -> str:
        """The status line for the chosen model: who answers, the index's size (read now), Ollama's state."""
        models, warning = self.ollama_models()
        try:
            backend, model = parse_model_choice(model_choice)
            answering = f"Answers: {chat_model_note(self.services, backend, model)}"
            ok = not (backend == "ollama" and models is None)
        except Exception as exc:
            answering, ok = f"No model: {readable_error(exc)}", False
        return status_html(answering, self.index_summary(), warning if models is None else None, ok)

    def refresh(self, model_choice: str | None) -> tuple[Any, ...]:
        """Page load: status, the model menu (from Ollama when it runs) and the documents."""
        models, _ = self.ollama_models()
        choices = model_choices(self.settings, models)
        value = model_choice if model_choice in [v for _, v in choices] else default_model_choice(self.settings)
        return (self.status(value), update(choices=choices, value=value), *self.documents())

    def ollama_models(self) -> tuple[list[str] | None, str | None]:
        """The pulled Ollama models, or None and a short warning."""
        host = self.settings.ollama.host
        try:
            return list_ollama_models(self.services), None
        except Exception as exc:
            if error_code(exc) == "model_unreachable":
                return None, f"Ollama is not reachable at {host}: start it with `ollama serve`"
            return None, f"Ollama at {host} does not answer: {readable_error(exc)}"

    def index_summary(self) -> str:
        """The index's size for the status line, read from the services now."""
        try:
            return index_summary(*self.services.counts())
        except Exception as exc:
            return f"Index unavailable: {readable_error(exc)}"

    # -- documents --
    def documents(self) -> tuple[Any, Any, str]:
        """The documents table, the removal menu and a summary line (read from the services now)."""
        try:
            docs = self.services.documents()
        except Exception as exc:
            return skip(), skip(), notice_html("error", [readable_error(exc)])
        choices = [(f"{d.title[:80]} ({d.doc_id})", d.doc_id) for d in docs]
        summary = documents_summary(len(docs), self.services.uploads_dir)
        return documents_table(docs), update(choices=choices, value=None), summary

    def upload(
        self, files: Sequence[str] | None, model_choice: str | None = None, progress: ProgressBar | None = None
    ) -> tuple[Any, ...]:
        """Copy the uploaded files into the uploads folder and sync it, as ``assistant ingest`` does.

        The sync runs in a worker process (questions keep being answered meanwhile); ``progress``
        (a ``gr.Progress``) shows how far it is. Gradio's own copies of the files are deleted after.
        """

        def report_progress(desc: str, done: int, total: int | None) -> None:
            if progress is not None:
                progress((done, total), desc=desc, unit="files")

        files = list(files or [])
        if not files:
            return (notice_html("warn", ["No file selected."]), None, *self.documents(), self.status(model_choice))
        saved: list[str] = []
        try:
            report_progress("Starting the indexer", 0, None)
            outcome = add_files_in_worker(self.settings, files, report_progress)
            saved, lines = outcome.saved, outcome.rejected
            ok = bool(saved) and not lines
            if outcome.report is not None:
                done_lines, ok = report_lines(outcome.report, saved)
                lines, ok = done_lines + lines, ok and not outcome.rejected
        except Exception as exc:
            lines, ok = [readable_error(exc)], False
        finally:
            self.discard_gradio_copies(files)
        kind: Notice = "ok" if ok else ("warn" if saved else "error")
        notice = notice_html(kind, lines or ["Nothing was added."])
        return (notice, None, *self.documents(), self.status(model_choice))

    def discard_gradio_copies(self, files: Sequence[str]) -> None:
        """Delete gradio's temporary copies of uploaded files, so that they are not served any longer.

        Only files inside gradio's upload folder are touched (each sits in a folder of its own,
        named by its content hash, which goes too when it is empty).
        """
        if self.upload_cache is None:
            return
        cache = self.upload_cache.resolve()
        for given in files:
            path = Path(given).resolve()
            if cache not in path.parents:
                continue
            path.unlink(missing_ok=True)
            if path.parent != cache:
                with contextlib.suppress(OSError):  # not empty: another file is still in that folder
                    path.parent.rmdir()

    def remove(self, doc_id: str | None, model_choice: str | None = None) -> tuple[Any, ...]:
        """Remove one document from the index (and its file, if it was uploaded here)."""
        kind: Notice = "ok"
        try:
            info = self.services.remove_document(doc_id) if doc_id else None
            if not doc_id:
                lines, kind = ["Choose a document to remove."], "warn"
            elif info is None:
                lines, kind = [f"`{doc_id}` is not in the index."], "warn"
            else:
                lines = removal_lines(info, self.services.uploads_dir)
        except Exception as exc:
            lines, kind = [readable_error(exc)], "error"
        return (notice_html(kind, lines), *self.documents(), self.status(model_choice))

    def pick_document(self, row: Sequence[Any] | None) -> Any:
        """Clicking a row of the table chooses that document for removal."""
        row = row or []
        return update(value=row[1]) if len(row) > 1 else skip()


def fail(turn: Turn, exc: BaseException) -> None:
    """Mark the turn failed with one readable line and the error's code from the error table."""
    turn.error, turn.error_code, turn.state = readable_error(exc), error_code(exc), "failed"


# -- what the status line needs from the services ---------------------------------------------------


def chat_model_note(services: Services, backend: str, model: str | None) -> str:
    """Which model answers for this menu choice (raises when none can)."""
    return services.chat_model_note(backend, model)


def list_ollama_models(services: Services) -> list[str]:
    """The models pulled on the configured Ollama (raises ModelUnreachableError when it does not answer)."""
    return services.ollama_models()
