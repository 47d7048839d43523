"""Printing an answer once: streamed in place on a terminal, then replaced by its checked version.

On a terminal the model's text streams into a live region that the checked answer replaces (the
checks renumber citations and may remove or flag sentences); when stdout is not a terminal only
the checked answer is printed. Model text is sanitised before it is shown, streamed or not (no
images, links, URLs, HTML or control characters reach the terminal); quotes are printed exactly,
without their control characters, never read as markup or emoji codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from assistant.answer.locate import where
from assistant.cli.terminal import console, shown_name
from assistant.text.sanitize import sanitize_model_text
from assistant.text.sanitize import terminal_text as safe

if TYPE_CHECKING:
    from assistant.answer.compose import AnswerEvent
    from assistant.models import Answer

INCOMPLETE = "[answer incomplete: the model failed]"
CHANGED = "[checked: the streamed draft was corrected (citations renumbered, unsupported text removed or flagged)]"


class AnswerPrinter:
    """Prints the events of one answer stream (see the module's docstring); ``stream=False`` prints nothing."""

    def __init__(self, stream: bool = True, out: Console | None = None, err: Console | None = None) -> None:
        self.show = stream
        self.out = out or console()
        self.err = err or console(stderr=True)
        self.live = stream and self.out.is_terminal
        self._draft = ""

    def consume(self, events: Iterator[AnswerEvent]) -> Answer:
        """Print the events as they come and return the final answer; a failure mid-stream is flagged."""
        answer: Answer | None = None
        region: AbstractContextManager[Any] = (
            Live(_wrapped(""), console=self.out, transient=True, refresh_per_second=12, vertical_overflow="crop")
            if self.live
            else nullcontext()
        )
        try:
            with region:
                for event in events:
                    answer = self._handle(event, region) or answer
        except Exception:
            if self.show and self._draft.strip():
                self.out.print(Text(sanitize_model_text(self._draft)))
                self.out.print(Text(INCOMPLETE, style="bold red"))
            raise
        if answer is None:
            raise RuntimeError("the answer stream ended without an answer")
        if self.show:
            self._print_final(answer)
        return answer

    def _handle(self, event: AnswerEvent, region: Any) -> Answer | None:
        if event.kind == "answer":
            return event.answer
        if not self.show:
            return None
        if event.kind == "status":
            self.err.print(Text(f"[{safe(event.text)}]", style="dim"))
        elif event.kind == "token":
            self._draft += event.text
            if isinstance(region, Live):
                region.update(_wrapped(sanitize_model_text(self._draft)))
        elif event.kind == "reset":
            self.err.print(Text("[rewriting the answer in the question's language…]", style="dim"))
            self._draft = ""
            if isinstance(region, Live):
                region.update(_wrapped(""))
        return None

    def _print_final(self, answer: Answer) -> None:
        text = sanitize_model_text(answer.text)
        self.out.print(Text(text))
        if self.live and self._draft and " ".join(sanitize_model_text(self._draft).split()) != " ".join(text.split()):
            self.err.print(Text(CHANGED, style="dim"))
        for note in answer.notes:
            self.err.print(Text(f"note: {safe(note)}", style="yellow"))
        if answer.sources:
            self.out.print()
            self.out.print(Text("Sources:", style="bold"))
        for source in answer.sources:
            heading = f"[{source.number}] {safe(source.title)[:90]} — {shown_name(source.doc_id)}"
            self.out.print(Text(f"{heading}, {safe(where(source))}"))
            self.out.print(Text(f"    “{safe(source.quote)}”", style="italic"))
        timings = answer.timings
        self.err.print(
            Text(
                f"[{answer.backend} · {answer.mode} · retrieval {timings.retrieval_ms:.0f} ms · "
                f"total {timings.total_ms:.0f} ms]",
                style="dim",
            )
        )


def _wrapped(text: str) -> Text:
    """Text that wraps at the terminal's width inside the live region (the consoles do not wrap prints)."""
    return Text(text, no_wrap=False, overflow="fold")
