"""The scope picker beside the question: the folders and documents the next question is limited to.

Its choices are built from the indexed documents (read through the services when the page loads
and each time the picker is opened): every folder as ``folder/**``, then every document id. The
values carry what they are (``in:`` a glob, ``doc:`` a document id), so no document id is ever
read as a glob. Nothing chosen means the whole index.

This module has no ``from __future__ import annotations`` (see :mod:`assistant.web.layout`), and
gradio is only imported inside :func:`scope_picker`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.models import Scope
from assistant.web.toolkit import quiet_gradio

if TYPE_CHECKING:
    from assistant.services import Services

FOLDER_VALUE = "in:"
DOCUMENT_VALUE = "doc:"
LABEL = "Only in"
PLACEHOLDER = "All documents"


def scope_choices(folders: Sequence[str], doc_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(label, value) of each folder glob (``folder/**``), then of each document id."""
    return [(f"{glob}", FOLDER_VALUE + glob) for glob in folders] + [
        (doc_id, DOCUMENT_VALUE + doc_id) for doc_id in doc_ids
    ]


def scope_of_choice(values: Sequence[str] | str | None) -> Scope | None:
    """The scope the picker's values make (None when nothing is chosen); unknown values are ignored."""
    if isinstance(values, str):
        values = [values]
    globs = [v[len(FOLDER_VALUE) :] for v in values or [] if v.startswith(FOLDER_VALUE)]
    doc_ids = [v[len(DOCUMENT_VALUE) :] for v in values or [] if v.startswith(DOCUMENT_VALUE)]
    return Scope(globs=globs, doc_ids=doc_ids) if globs or doc_ids else None


@dataclass
class ScopePicker:
    """The multi-select (:attr:`component`); :meth:`wire` keeps its choices current."""

    services: "Services"
    component: Any

    def choices(self) -> list[tuple[str, str]]:
        """The picker's choices, read from the services now."""
        documents = self.services.documents()
        return scope_choices(self.services.folders(), [d.doc_id for d in documents])

    def refresh(self, chosen: Sequence[str] | None) -> Any:
        """New choices; what was chosen and is still indexed stays chosen."""
        import gradio as gr

        try:
            choices = self.choices()
        except Exception:  # the index is being rebuilt: keep the picker as it is
            return gr.skip()
        values = {value for _, value in choices}
        return gr.update(choices=choices, value=[v for v in chosen or [] if v in values])

    def wire(self, app: Any) -> None:
        """Read the choices when the page loads and whenever the picker is opened."""
        for event in (self.component.focus, app.load):
            event(self.refresh, [self.component], [self.component], api_visibility="private", show_progress="hidden")


def scope_picker(services: "Services") -> ScopePicker:
    """The multi-select of folders and documents (call inside the Blocks, beside the question)."""
    quiet_gradio()
    import gradio as gr

    component = gr.Dropdown(
        choices=[],
        value=[],
        multiselect=True,
        label=LABEL,
        info=f"{PLACEHOLDER} when empty; applies to the next question",
        filterable=True,
        elem_id="scope",
    )
    return ScopePicker(services, component)
