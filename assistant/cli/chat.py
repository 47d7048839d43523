"""``assistant chat``: an interactive session over the documents, kept in the conversation store.

Each line is a question (a follow-up is resolved against the conversation so far) or a command:
``/sources``, ``/open N``, ``/scope …``, ``/export FILE``, ``/help``, ``/quit``. End of input
(Ctrl-D) and Ctrl-C end the session cleanly. The conversation is saved after each answer, in the
same store as the UI's, so the UI lists it.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from assistant.answer.locate import where
from assistant.cli.common import ConfigOption, Exit, check_choice, check_k, fail, run, setting_choices

if TYPE_CHECKING:
    from rich.console import Console

    from assistant.conversations.store import StoredTurn
    from assistant.models import Answer, Scope, Source
    from assistant.services import Services

HELP = """Type a question, or one of:
  /sources            the last answer's sources, with where they are
  /open N             source N's quote in the passage around it
  /scope              the scope of the next questions (none: every document)
  /scope in GLOB      only documents whose id matches GLOB ("contracts/**"); repeatable
  /scope doc ID       only this document; repeatable
  /scope lang CODE    only documents in this language (it, fr, en); repeatable
  /scope clear        every document again
  /export FILE        the conversation so far, as Markdown (.md) or an evidence bundle (.json)
  /help               this list
  /quit               end the session (so do Ctrl-D and Ctrl-C)"""
PROMPT = "› "
READY = "Ask about your documents; /help lists the commands, /quit ends."


def register(app: typer.Typer) -> None:
    """Add the ``chat`` command to ``app``."""

    @app.command()
    def chat(
        k: Annotated[int | None, typer.Option("-k", help="Passages per question, 1 to 100.")] = None,
        backend: Annotated[str | None, typer.Option("--backend", help="auto, ollama or embedded.")] = None,
        model: Annotated[str | None, typer.Option("--model", "-m", help="Ollama model name, or a GGUF path.")] = None,
        mode: Annotated[str | None, typer.Option("--mode", help="auto, generative or extractive.")] = None,
        strict: Annotated[bool, typer.Option("--strict", help="Remove sentences no passage supports.")] = False,
        resume: Annotated[
            str | None,
            typer.Option(
                "--resume",
                help="Go on with a kept conversation: its id (printed when a chat ends) or `last` (the latest).",
            ),
        ] = None,
        config: ConfigOption = None,
    ) -> None:
        """Talk with your documents: follow-up questions, /sources, /open N, /scope, /export (/help lists them)."""
        check_k(k)
        check_choice("--backend", backend, setting_choices("llm", "backend"))
        check_choice("--mode", mode, setting_choices("answer", "mode"))
        options = {"k": k, "backend": backend, "model": model, "mode": mode, "strict": strict or None}
        run(config, lambda services: ChatSession(services, options, resume).loop())


class ChatSession:
    """One terminal conversation: its turns (as saved), the last answer, the scope of the next questions."""

    def __init__(self, services: Services, options: dict[str, Any], resume: str | None = None) -> None:
        from assistant.cli.terminal import console
        from assistant.models import Scope

        self.services = services
        self.options = options
        self.out: Console = console()
        self.err: Console = console(stderr=True)
        self.scope: Scope = Scope()
        self.turns: list[StoredTurn] = []
        self.conversation_id: str | None = None
        self.title = ""
        if resume == "last":
            latest = services.conversations.list(limit=1)
            resume = latest[0].id if latest else resume
        if resume is not None:
            kept = services.conversations.get(resume)
            if kept is None:
                fail(f"there is no kept conversation {resume!r} of this machine", Exit.USAGE)
            self.conversation_id, self.title, self.turns = resume, kept.summary.title, list(kept.turns)
        self.commands: dict[str, Callable[[list[str]], bool]] = {
            "/sources": self.show_sources,
            "/open": self.open_source,
            "/scope": self.set_scope,
            "/export": self.export,
            "/help": self.show_help,
            "/quit": lambda _args: False,
            "/exit": lambda _args: False,
        }

    @property
    def last(self) -> Answer | None:
        """The last answer of the conversation."""
        return self.turns[-1].answer if self.turns else None

    def loop(self) -> None:
        """Read lines until /quit, end of input or Ctrl-C."""
        interactive = sys.stdin.isatty()
        if interactive:
            with contextlib.suppress(ImportError):  # line editing and ↑ for earlier lines, where Python has it
                import readline  # noqa: F401
        try:
            self.err.print(Text(READY, style="dim"))
            while True:
                line = input(PROMPT) if interactive else sys.stdin.readline()
                if not interactive and not line:
                    break
                if not self.handle(line.strip()):
                    break
        except (EOFError, KeyboardInterrupt):
            self.out.print()
        if self.conversation_id:
            self.err.print(Text(f"[conversation {self.conversation_id} kept: assistant chat --resume "
                                f"{self.conversation_id}]", style="dim"))

    def handle(self, line: str) -> bool:
        """Run one line (a question or a command); False ends the session."""
        if not line:
            return True
        if line.startswith("/"):
            try:
                name, *args = shlex.split(line)
            except ValueError as exc:
                self.say(f"cannot read that command: {exc}")
                return True
            command = self.commands.get(name.lower())
            if command is None:
                self.say(f"unknown command {name} (/help lists them)")
                return True
            return command(args)
        self.ask(line)
        return True

    def say(self, message: str) -> None:
        """One line of the session itself (not of an answer), on stderr."""
        from assistant.text.sanitize import terminal_text

        self.err.print(Text(terminal_text(message), style="yellow"))

    # -- questions ---------------------------------------------------------------------------
    def ask(self, question: str) -> None:
        """Answer ``question`` in the conversation's context, print it, and keep it."""
        from assistant.cli.answering import AnswerPrinter
        from assistant.errors import exit_code

        history = [(t.question, t.answer.text) for t in self.turns if t.answer.status == "complete"]
        options = {key: value for key, value in self.options.items() if value is not None}
        if not self.scope.is_empty():
            options["scope"] = self.scope
        try:
            answer = AnswerPrinter().consume(self.services.stream(question, history=history, **options))
        except Exception as exc:
            if exit_code(exc) is None:
                raise
            self.say(f"error: {' '.join(str(exc).split())}")
            return
        self.out.print()
        if answer.status == "complete":
            self.keep(question, answer, options)

    def keep(self, question: str, answer: Answer, options: dict[str, Any]) -> None:
        """Save the turn in the conversation store (a new conversation at the first answer)."""
        store = self.services.conversations
        if self.conversation_id is None:
            summary = store.create(title=question)
            self.conversation_id, self.title = summary.id, summary.title
        saved = dict(options)
        if "scope" in saved:
            saved["scope"] = self.scope.model_dump()
        self.turns.append(store.append(self.conversation_id, question, answer, options=saved))

    # -- commands ----------------------------------------------------------------------------
    def show_help(self, _args: list[str]) -> bool:
        """Print the commands."""
        self.out.print(Text(HELP))
        return True

    def show_sources(self, _args: list[str]) -> bool:
        """Print the last answer's sources with their locators."""
        from assistant.cli.terminal import shown_name
        from assistant.text.sanitize import terminal_text as safe

        if self.last is None or not self.last.sources:
            self.say("no sources yet: ask a question first" if self.last is None else "the last answer cites nothing")
            return True
        for source in self.last.sources:
            self.out.print(Text(f"[{source.number}] {safe(source.title)[:90]} — {shown_name(source.doc_id)}, "
                                f"{where(source)}"))
            self.out.print(Text(f"    “{safe(source.quote)}”", style="italic"))
        return True

    def open_source(self, args: list[str]) -> bool:
        """Print source N's quote inside the passage it was found in, with its locator."""
        from assistant.cli.terminal import shown_name
        from assistant.text.sanitize import terminal_text as safe

        sources = {s.number: s for s in self.last.sources} if self.last is not None else {}
        if len(args) != 1 or not args[0].isdigit() or int(args[0]) not in sources:
            known = ", ".join(map(str, sources)) or "none yet"
            self.say(f"usage: /open N, where N is the number of a source of the last answer ({known})")
            return True
        source = sources[int(args[0])]
        self.out.print(Text(f"[{source.number}] {safe(source.title)[:90]} — {shown_name(source.doc_id)}, "
                            f"{where(source)}", style="bold"))
        before, quote, after = in_context(source)
        text = Text(safe(before))
        text.append(f"»{safe(quote)}«", style="bold reverse")
        text.append(safe(after))
        self.out.print(text)
        return True

    def set_scope(self, args: list[str]) -> bool:
        """Change or show the scope of the next questions."""
        from assistant.models import Scope

        if not args:
            self.say(f"scope: {describe(self.scope)}")
            return True
        kind, values = args[0].lower(), args[1:]
        fields = {"in": "globs", "doc": "doc_ids", "lang": "languages"}
        if kind == "clear" and not values:
            self.scope = Scope()
        elif kind in fields and values:
            if kind == "lang" and not all(len(v) == 2 and v.isalpha() for v in values):
                self.say("usage: /scope lang CODE, a two-letter language code (it, fr, en)")
                return True
            current = getattr(self.scope, fields[kind])
            added = [v.lower() if kind == "lang" else v for v in values if v not in current]
            self.scope = self.scope.model_copy(update={fields[kind]: [*current, *added]})
        else:
            self.say('usage: /scope in "folder/**" | /scope doc ID | /scope lang CODE | /scope clear')
            return True
        self.say(f"scope: {describe(self.scope)}")
        return True

    def export(self, args: list[str]) -> bool:
        """Write the conversation so far to FILE (.md or .json)."""
        from assistant.errors import exit_code

        if len(args) != 1:
            self.say("usage: /export FILE (ending in .md or .json)")
            return True
        if not self.turns:
            self.say("nothing to export yet: ask a question first")
            return True
        try:
            path = self.services.export(Path(args[0]).expanduser(), self.turns, self.title, self.conversation_id)
        except Exception as exc:
            if exit_code(exc) is None:
                raise
            self.say(f"error: {exc}")
            return True
        self.say(f"exported {len(self.turns)} answer(s) to {path}")
        return True


def in_context(source: Source) -> tuple[str, str, str]:
    """(the passage before the quote, the quote, the passage after it); just the quote without a passage."""
    at = source.start - source.passage_start
    passage = source.passage
    if not passage or at < 0 or passage[at : at + len(source.quote)] != source.quote:
        return "", source.quote, ""
    return passage[:at], source.quote, passage[at + len(source.quote) :]


def describe(scope: Scope) -> str:
    """The scope on one line ("every document" when it is empty)."""
    if scope.is_empty():
        return "every document"
    parts = [f"in {', '.join(scope.globs)}" if scope.globs else "", f"doc {', '.join(scope.doc_ids)}"
             if scope.doc_ids else "", f"lang {', '.join(scope.languages)}" if scope.languages else ""]
    return "; ".join(p for p in parts if p)
