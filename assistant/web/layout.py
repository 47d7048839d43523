"""The page: the Blocks layout and the wiring of its events to :class:`~assistant.web.callbacks.Callbacks`.

This module has no ``from __future__ import annotations``: gradio reads the annotations of the
small handlers defined in :func:`build_app` (``gr.SelectData``) and their ``gr.Progress`` default
when they are defined, and gradio is only imported inside :func:`build_app`.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.web.callbacks import Callbacks
from assistant.web.choices import default_model_choice, model_choices
from assistant.web.documents import DOC_HEADERS
from assistant.web.history import history_panel
from assistant.web.render import conversation_html, sources_html, status_html
from assistant.web.scope import scope_picker
from assistant.web.toolkit import quiet_gradio, static_text

if TYPE_CHECKING:
    import gradio as gr

    from assistant.services import Services

TITLE = "Document assistant"
ASK_CONCURRENCY = 4
"""Questions answered at once; more wait in the queue (the embedded model generates one at a time anyway)."""
QUEUE_SIZE = 64
STATUS_REFRESH_SECONDS = 30
"""How often an open page reads the status line again (another process may have changed the index)."""
CACHE_CLEANUP = (600, 600)
"""Gradio deletes its temporary files older than ten minutes, every ten minutes (uploads go at once)."""


def build_app(services: "Services") -> "gr.Blocks":
    """The Blocks app over ``services``. Launch it with :func:`assistant.web.serve.launch` (or ``launch_options``)."""
    quiet_gradio()
    import gradio as gr

    settings = services.settings
    extensions = [e.lower() for e in settings.ingest.extensions]
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=CACHE_CLEANUP) as app:
        cb = Callbacks(services, upload_cache=Path(app.GRADIO_CACHE))
        turns = gr.State([])
        with gr.Row(elem_id="topbar"):
            gr.HTML(f'<div class="brand"><b>{TITLE}</b><span>local · private · cited</span></div>', scale=1)
            status = gr.HTML(status_html("Checking the model…", "…", None, True), elem_id="status-line", scale=3)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=7, min_width=420):
                        conversation = gr.HTML(
                            conversation_html([]),
                            elem_id="conversation",
                            js_on_load=static_text("app.js"),
                            apply_default_css=False,
                        )
                        question = gr.Textbox(
                            show_label=False,
                            placeholder="Ask a question about your documents…",
                            lines=1,
                            max_lines=6,
                            autofocus=True,
                            elem_id="question",
                            submit_btn="Ask",
                            stop_btn=False,
                        )
                        scope = scope_picker(services)
                        with gr.Row(equal_height=True, elem_id="settings"):
                            model = gr.Dropdown(
                                model_choices(settings, None),
                                value=default_model_choice(settings),
                                label="Model",
                                scale=4,
                                min_width=200,
                                elem_id="model",
                            )
                            k = gr.Slider(
                                1,
                                20,
                                value=settings.retrieval.top_k,
                                step=1,
                                label="Passages",
                                scale=3,
                                min_width=160,
                                elem_id="passages",
                            )
                            with gr.Column(scale=2, min_width=150, elem_id="settings-side"):
                                strict = gr.Checkbox(
                                    value=settings.answer.strict_citations,
                                    label="Strict citations",
                                    elem_id="strict",
                                )
                                clear = gr.Button("Clear conversation", variant="secondary", size="sm", elem_id="clear")
                        history = history_panel(services, Path(app.GRADIO_CACHE) / "exports")
                    with gr.Column(scale=5, min_width=320, elem_id="sources-column"):
                        sources = gr.HTML(sources_html([]), elem_id="sources-panel", apply_default_css=False)
                last_answer = gr.JSON(visible=False)
                viewer = gr.HTML(
                    "",
                    elem_id="evidence-viewer",
                    js_on_load=static_text("viewer.js"),
                    css_template=static_text("viewer.css"),
                    apply_default_css=False,
                )
            with gr.Tab("Documents", id="documents") as documents_tab:
                docs_summary = gr.HTML()
                table = gr.Dataframe(
                    headers=DOC_HEADERS,
                    datatype=["str", "str", "str", "number", "str"],
                    interactive=False,
                    wrap=True,
                    max_height=420,
                    column_widths=["44%", "24%", "10%", "8%", "14%"],
                    elem_id="documents",
                )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        limit = f"up to {settings.ui.max_upload_mb:g} MB each"
                        files = gr.File(
                            label=f"Add documents ({', '.join(extensions)}; {limit})",
                            file_count="multiple",
                            file_types=extensions,
                            type="filepath",
                            height=150,
                        )
                        upload_result = gr.HTML()
                    with gr.Column(scale=2):
                        to_remove = gr.Dropdown(
                            [], label="Document to remove", allow_custom_value=True, filterable=True
                        )
                        remove = gr.Button("Remove from the index", variant="stop", size="md")
                        remove_result = gr.HTML()
                        refresh = gr.Button("Refresh the list", variant="secondary", size="sm")
        timer = gr.Timer(STATUS_REFRESH_SECONDS)

        def upload(files: Any, model_choice: Any, progress: Any = gr.Progress()) -> Any:  # noqa: B008
            return cb.upload(files, model_choice, progress)

        def pick_document(table: Any, event: gr.SelectData) -> Any:
            return cb.pick_document(event.row_value)

        documents_out = [table, to_remove, docs_summary]
        ask_event = question.submit(
            cb.ask,
            [question, model, k, strict, turns, scope.component],
            [conversation, sources, turns, question, last_answer],
            api_name="ask",
            show_progress="hidden",
            concurrency_limit=ASK_CONCURRENCY,
            concurrency_id="ask",
        )
        question.stop(cb.stop, [turns], [conversation, turns, question], cancels=[ask_event], api_visibility="private")
        history.wire(turns, conversation, sources, last_answer, model, k, strict, ask_event, clear, app,
                     scope=scope.component)
        clear.click(cb.clear, None, [conversation, sources, turns, last_answer], api_name="clear")

        def open_evidence(turns: Any, event: gr.EventData) -> Any:
            return cb.evidence(turns, getattr(event, "turn", None), getattr(event, "n", None))

        conversation.evidence(  # a marker clicked (static/app.js): the viewer at that quote
            open_evidence, [turns], [viewer], api_visibility="private", show_progress="hidden", concurrency_limit=2
        )
        model.change(cb.status, [model], [status], api_name="status", show_progress="hidden")
        timer.tick(cb.status, [model], [status], api_visibility="private", show_progress="hidden")
        files.upload(
            upload,
            [files, model],
            [upload_result, files, *documents_out, status],
            api_name="upload",
            concurrency_limit=1,
            concurrency_id="ingest",
        )
        remove.click(
            cb.remove,
            [to_remove, model],
            [remove_result, *documents_out, status],
            api_name="remove",
            concurrency_limit=1,
            concurrency_id="ingest",
        )
        refresh.click(cb.documents, None, documents_out, api_name="documents")
        documents_tab.select(cb.documents, None, documents_out, api_visibility="private", show_progress="hidden")
        table.select(pick_document, [table], [to_remove], api_visibility="private")
        app.load(cb.refresh, [model], [status, model, *documents_out], api_visibility="private")
        scope.wire(app)
    app.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)
    return app
