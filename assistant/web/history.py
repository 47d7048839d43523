"""Kept conversations in the UI: the list of past conversations, reopen, rename, delete, new, and exports.

Each answered question is saved (through :attr:`Services.conversations`) in the conversation of
the session; the first answer starts one, titled by its question. With a login every user sees
only their own conversations (gradio's ``request.username``); without, they belong to this
machine (``local``). Reopening one restores its answers and their sources. The export buttons
offer the latest answer and the whole conversation as Markdown and as a JSON evidence bundle.

This module has no ``from __future__ import annotations``: gradio reads the ``gr.Request``
annotation of the handlers defined in :meth:`HistoryPanel.wire` when they are defined, and
gradio is only imported inside :func:`history_panel` and :meth:`HistoryPanel.wire`.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.conversations.store import LOCAL_USER, ConversationSummary, StoredTurn
from assistant.web.conversation import MAX_TURNS, Turn, turn_json
from assistant.web.messages import readable_error
from assistant.web.render import conversation_html, notice_html, sources_html
from assistant.web.toolkit import quiet_gradio

if TYPE_CHECKING:
    from assistant.services import Services

LISTED = 50
"""Conversations shown in the list (the most recently updated)."""
EXPORTS = ("answer.md", "answer.json", "conversation.md", "conversation.json")
"""The files behind the four export buttons, in their order."""


def user_of(request: Any) -> str:
    """Whose conversations these are: the logged-in user, else this machine's (``local``)."""
    name = getattr(request, "username", None) if request is not None else None
    return str(name) if name else LOCAL_USER


def choice_label(summary: ConversationSummary) -> str:
    """How a conversation is listed: its title, its number of turns and when it was last updated."""
    when = summary.updated[:16].replace("T", " ")
    turns = f"{summary.turns} question{'s' if summary.turns != 1 else ''}"
    return f"{summary.title or 'Untitled'} · {turns} · {when} UTC"


def restored_turns(turns: Sequence[StoredTurn]) -> list[Turn]:
    """The session's turns of a kept conversation, as they were when answered (the last :data:`MAX_TURNS`)."""
    return [Turn(question=t.question, text=t.answer.text, answer=t.answer, state="done") for t in turns[-MAX_TURNS:]]


def fingerprint(turn: Turn) -> str:
    """What tells one answered turn from another (so that the same turn is never saved twice)."""
    answer = turn.answer
    return "" if answer is None else f"{turn.question}\x00{answer.text}\x00{answer.timings.total_ms}"


@dataclass
class HistoryPanel:
    """The list and its buttons (see the module's docstring); :meth:`wire` connects them."""

    services: "Services"
    exports_dir: Path
    listing: Any
    title: Any
    new: Any
    rename: Any
    delete: Any
    notice: Any
    downloads: list[Any]
    current: Any

    # -- what the handlers do (no gradio here but gr.update / gr.skip) ---------------------------
    def choices(self, user: str) -> list[tuple[str, str]]:
        """(label, id) of ``user``'s conversations, newest first."""
        return [(choice_label(s), s.id) for s in self.services.conversations.list(user, limit=LISTED)]

    def export_files(self, conversation_id: str, user: str) -> list[str | None]:
        """Write the latest answer and the whole conversation in both formats; their paths, for the buttons."""
        kept = self.services.conversations.get(conversation_id, user)
        if kept is None or not kept.turns:
            return [None] * len(EXPORTS)
        folder = self.exports_dir / conversation_id
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^\w-]+", "-", kept.summary.title.lower()).strip("-")[:40] or "conversation"
        paths: list[str | None] = []
        for name in EXPORTS:
            whole = name.startswith("conversation")
            path = folder / (f"{stem}{Path(name).suffix}" if whole else f"{stem}-answer-{len(kept.turns)}"
                             f"{Path(name).suffix}")
            turns = kept.turns if whole else kept.turns[-1:]
            title = kept.summary.title if whole else ""
            self.services.export(path, turns, title, conversation_id)
            paths.append(str(path))
        return paths

    def save(self, current: dict[str, Any] | None, turns: list[Turn], options: dict[str, Any], user: str) -> Any:
        """Keep the session's last turn when it is a new answer; (current, list, notice, *downloads)."""
        from assistant.web.callbacks import skip, update

        current = dict(current or {})
        last = turns[-1] if turns else None
        if last is None or last.state != "done" or last.answer is None or fingerprint(last) == current.get("saved"):
            return (current, skip(), skip(), *(skip() for _ in EXPORTS))
        store = self.services.conversations
        try:
            conversation_id = current.get("id")
            if not conversation_id or store.get(conversation_id, user) is None:  # new, or deleted meanwhile
                conversation_id = store.create(user, title=last.question).id
            store.append(conversation_id, last.question, last.answer, user, options)
            current = {"id": conversation_id, "saved": fingerprint(last)}
            files = self.export_files(conversation_id, user)
        except Exception as exc:  # the answer stays on the page; saving it is what failed
            return (current, skip(), notice_html("error", [f"Not saved: {readable_error(exc)}"]),
                    *(skip() for _ in EXPORTS))
        listing = update(choices=self.choices(user), value=conversation_id)
        return (current, listing, "", *(update(value=f, interactive=True) for f in files))

    def open(self, conversation_id: str | None, user: str) -> Any:
        """Reopen a kept conversation.

        Returns (conversation, sources, turns, last answer, current, title, notice, *downloads).
        """
        from assistant.web.callbacks import skip, update

        kept = self.services.conversations.get(conversation_id, user) if conversation_id else None
        if kept is None:
            notice = notice_html("warn", ["That conversation is no longer kept."]) if conversation_id else ""
            return (*(skip() for _ in range(6)), notice, *(skip() for _ in EXPORTS))
        turns = restored_turns(kept.turns)
        last = turn_json(turns[-1]) if turns else None
        current = {"id": kept.summary.id, "saved": fingerprint(turns[-1]) if turns else ""}
        files = self.export_files(kept.summary.id, user)
        return (conversation_html(turns), sources_html(turns), turns, last, current, kept.summary.title, "",
                *(update(value=f, interactive=f is not None) for f in files))

    def start_new(self, user: str) -> Any:
        """A new conversation: (conversation, sources, turns, last answer, current, list, title, notice, *downloads)."""
        from assistant.web.callbacks import update

        return (conversation_html([]), sources_html([]), [], None, {}, update(choices=self.choices(user), value=None),
                "", "", *self.no_downloads())

    def no_downloads(self) -> list[Any]:
        """The export buttons, emptied (nothing to export yet)."""
        from assistant.web.callbacks import update

        return [update(value=None, interactive=False) for _ in EXPORTS]

    def rename_current(self, current: dict[str, Any] | None, title: str, user: str) -> Any:
        """Rename the session's conversation: (list, notice)."""
        from assistant.web.callbacks import skip, update

        conversation_id = (current or {}).get("id")
        if not conversation_id:
            return skip(), notice_html("warn", ["Ask a question or open a conversation first."])
        if not self.services.conversations.rename(conversation_id, title or "", user):
            return skip(), notice_html("warn", ["Give the conversation a title."])
        return update(choices=self.choices(user), value=conversation_id), notice_html("ok", ["Renamed."])

    def delete_current(self, current: dict[str, Any] | None, user: str) -> Any:
        """Delete the session's conversation and start a new one (as :meth:`start_new`)."""
        conversation_id = (current or {}).get("id")
        deleted = bool(conversation_id) and self.services.conversations.delete(str(conversation_id), user)
        fresh = list(self.start_new(user))
        fresh[7] = notice_html("ok", ["Deleted."]) if deleted else notice_html("warn", ["Nothing to delete."])
        return tuple(fresh)

    # -- gradio ------------------------------------------------------------------------------
    def wire(self, turns: Any, conversation: Any, sources: Any, last_answer: Any, model: Any, k: Any, strict: Any,
             ask_event: Any, clear: Any, app: Any, scope: Any = None) -> None:
        """Connect the panel: save after each answer, reopen from the list, new, rename, delete, clear.

        The options an answer is saved with are read from ``model``, ``k``, ``strict`` and ``scope``
        (the scope picker, when there is one).
        """
        quiet_gradio()
        import gradio as gr

        from assistant.web.choices import parse_model_choice
        from assistant.web.scope import scope_of_choice

        chat_out = [conversation, sources, turns, last_answer, self.current]
        fresh_out = [*chat_out, self.listing, self.title, self.notice, *self.downloads]

        def save(
            current: Any, turns: Any, model_choice: Any, k: Any, strict: Any, scope_choice: Any, request: gr.Request
        ) -> Any:
            backend, model = parse_model_choice(model_choice)
            options: dict[str, Any] = {"k": int(k), "strict": bool(strict), "backend": backend, "model": model}
            chosen = scope_of_choice(scope_choice)
            if chosen is not None:
                options["scope"] = chosen.model_dump()
            return self.save(current, turns, options, user_of(request))

        def save_unscoped(current: Any, turns: Any, model_choice: Any, k: Any, strict: Any, request: gr.Request) -> Any:
            return save(current, turns, model_choice, k, strict, None, request)

        def reopen(conversation_id: Any, request: gr.Request) -> Any:
            return self.open(conversation_id, user_of(request))

        def refresh(request: gr.Request) -> Any:
            return gr.update(choices=self.choices(user_of(request)), value=None)

        def start_new(request: gr.Request) -> Any:
            return self.start_new(user_of(request))

        def rename(current: Any, title: Any, request: gr.Request) -> Any:
            return self.rename_current(current, title, user_of(request))

        def delete(current: Any, request: gr.Request) -> Any:
            return self.delete_current(current, user_of(request))

        private: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        saving = (save, [scope]) if scope is not None else (save_unscoped, [])
        ask_event.then(saving[0], [self.current, turns, model, k, strict, *saving[1]],
                       [self.current, self.listing, self.notice, *self.downloads], **private)
        self.listing.input(reopen, [self.listing], [*chat_out, self.title, self.notice, *self.downloads],
                           api_visibility="private", show_progress="hidden")
        self.new.click(start_new, None, fresh_out, **private)
        clear.click(start_new, None, fresh_out, **private)
        self.rename.click(rename, [self.current, self.title], [self.listing, self.notice], **private)
        self.delete.click(delete, [self.current], fresh_out, **private)
        app.load(refresh, None, [self.listing], **private)


def history_panel(services: "Services", exports_dir: Path) -> HistoryPanel:
    """The conversations panel, laid out where it is called (inside the page's Blocks)."""
    quiet_gradio()
    import gradio as gr

    with gr.Accordion("Conversations", open=True, elem_id="history"):
        listing = gr.Radio([], label="Past conversations (newest first)", elem_id="conversation-list")
        with gr.Row(equal_height=True):
            new = gr.Button("New conversation", size="sm", elem_id="new-conversation")
            title = gr.Textbox(
                show_label=False, placeholder="Title", max_lines=1, scale=3, elem_id="conversation-title"
            )
            rename = gr.Button("Rename", size="sm", elem_id="rename-conversation")
            delete = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-conversation")
        with gr.Row(equal_height=True, elem_id="exports"):
            labels = ("Answer .md", "Answer .json", "Conversation .md", "Conversation .json")
            downloads = [
                gr.DownloadButton(label, size="sm", interactive=False, elem_id=f"export-{name.replace('.', '-')}")
                for label, name in zip(labels, EXPORTS, strict=True)
            ]
        notice = gr.HTML(elem_id="history-notice")
    current = gr.State({})
    return HistoryPanel(services, exports_dir, listing, title, new, rename, delete, notice, downloads, current)
