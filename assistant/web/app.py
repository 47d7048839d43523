"""The Gradio web UI: chat with the documents, check the quoted sources, manage the index.

The UI holds no pipeline logic: every callback calls :mod:`assistant.services` and renders what comes
back. Model and document text is never rendered as HTML or markdown: it is sanitized and escaped here,
and the only markup on the page is the markup these functions write.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no telemetry, no version check

import ipaddress
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import gradio as gr

from assistant.answer.generate import ModelError, ModelUnreachableError, OllamaServer
from assistant.config import ConfigError, Settings
from assistant.index.catalog import CatalogError
from assistant.index.embedding import EmbeddingError
from assistant.index.vectors import IndexMismatchError, StoreUnavailableError
from assistant.ingest.sync import IngestBusyError, IngestReport
from assistant.ingest.uploads import is_upload
from assistant.models import Answer, DocumentInfo, Source
from assistant.text.sanitize import escape, sanitize_model_text

if TYPE_CHECKING:
    from assistant.answer.compose import AnswerEvent
    from assistant.services import Services

log = logging.getLogger(__name__)

TITLE = "Document assistant"
MAX_QUESTION_CHARS = 2000
MAX_TURNS = 50
"""Turns kept per session (older ones scroll away), so memory stays bounded."""
ASK_CONCURRENCY = 4
"""Questions answered at once; more wait in the queue (the embedded model generates one at a time anyway)."""
QUEUE_SIZE = 64
STREAM_INTERVAL = 0.05
"""Seconds between two streamed updates of the page (tokens in between are sent together)."""
CONTEXT_CHARS = 320
"""Characters of the passage shown on each side of a highlighted quote."""
ASK_BUTTON: dict[str, Any] = {"submit_btn": "Ask", "stop_btn": False}
STOP_BUTTON: dict[str, Any] = {"submit_btn": False, "stop_btn": "Stop"}
Notice = Literal["ok", "warn", "error"]
DOC_HEADERS = ["Title", "File", "Language", "Chunks", "Indexed"]
KNOWN_ERRORS: tuple[type[BaseException], ...] = (
    ModelError,
    IngestBusyError,
    CatalogError,
    IndexMismatchError,
    StoreUnavailableError,
    EmbeddingError,
    ConfigError,
)

# -- the conversation kept per browser session (gr.State) --------------------------------------


@dataclass
class Turn:
    """One question and its answer, as it streams in and once it is final."""

    question: str
    text: str = ""
    note: str = ""
    answer: Answer | None = None
    error: str | None = None
    state: Literal["pending", "done", "failed", "stopped"] = "pending"


def history_pairs(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    """The finished turns as (question, answer text) pairs, for follow-up rewriting."""
    return [(t.question, t.answer.text) for t in turns if t.state == "done" and t.answer is not None]


def apply_event(turn: Turn, event: AnswerEvent) -> None:
    """Fold one streamed event into the turn."""
    if event.kind == "status":
        turn.note = event.text
    elif event.kind == "token":
        turn.text += event.text
    elif event.kind == "reset":
        turn.text = ""
    elif event.kind == "answer" and event.answer is not None:
        turn.answer = event.answer
        turn.state = "done"


def readable_error(exc: BaseException) -> str:
    """One line a person can act on; unexpected errors are logged with their traceback, not shown."""
    if isinstance(exc, ModelUnreachableError):
        message = f"{exc}. In this page: choose “Embedded model (offline)” under Model."
    elif isinstance(exc, KNOWN_ERRORS):
        message = str(exc)
    else:
        log.error("unexpected error in the web UI", exc_info=exc)
        message = f"unexpected error ({type(exc).__name__}: {exc}); the details are in the server log"
    return " ".join(message.split())[:600]


def parse_model_choice(value: str | None) -> tuple[str, str | None]:
    """(backend, model) for a value of the model menu: ``auto``, ``embedded`` or ``ollama:<name>``."""
    if not value or value == "auto":
        return "auto", None
    if value == "embedded":
        return "embedded", None
    if value.startswith("ollama:") and len(value) > len("ollama:"):
        return "ollama", value.removeprefix("ollama:")
    raise ConfigError(f"unknown model choice {value!r}")


def model_choices(settings: Settings, ollama_models: Sequence[str] | None) -> list[tuple[str, str]]:
    """The model menu: automatic, the embedded model, then the Ollama models (or the configured one)."""
    names = list(ollama_models) if ollama_models else [settings.ollama.model]
    if settings.ollama.model not in names and f"{settings.ollama.model}:latest" not in names:
        names.insert(0, settings.ollama.model)
    return [
        ("Automatic (Ollama if running, else embedded)", "auto"),
        ("Embedded model (offline)", "embedded"),
        *[(f"Ollama · {name}", f"ollama:{name}") for name in names],
    ]


def default_model_choice(settings: Settings) -> str:
    """The menu value matching the configured backend."""
    if settings.llm.backend == "ollama":
        return f"ollama:{settings.ollama.model}"
    return settings.llm.backend


# -- HTML: every function escapes what it did not write itself ----------------------------------


def message_html(text: str) -> str:
    """Escaped text of the assistant's own messages, with line breaks and `code` spans."""
    safe = re.sub(r"`([^`\n]{1,200})`", r"<code>\1</code>", escape(text))
    return safe.replace("\n", "<br>")


def text_html(text: str) -> str:
    """Model text: links, images and markup removed, then escaped."""
    return message_html(sanitize_model_text(text))


_MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")


def link_markers(safe_html: str, turn: int, sources: Sequence[Source]) -> str:
    """Turn the ``[n]`` markers of escaped text into links to the cited source cards."""
    titles = {s.number: s.title for s in sources}

    def link(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        if not numbers or any(n not in titles for n in numbers):
            return match.group(0)
        return "".join(
            f'<a class="cite" href="#src-{turn}-{n}" data-turn="{turn}" data-n="{n}" '
            f'title="Source {n}: {escape(titles[n][:120])}">[{n}]</a>'
            for n in numbers
        )

    return _MARKER.sub(link, safe_html)


def copy_text(answer: Answer) -> str:
    """The answer as plain text with its sources, for the copy button."""
    lines = [sanitize_model_text(answer.text)]
    if answer.sources:
        lines.append("\nSources:")
        lines += [f"[{s.number}] {s.title} ({s.doc_id}): “{s.quote}”" for s in answer.sources]
    return "\n".join(lines)


def answer_html(index: int, answer: Answer) -> str:
    """A finished answer: linked markers, refusal, the rewritten question, notes, copy button."""
    parts = []
    if answer.refused:
        parts.append('<div class="badge refused">No answer in the documents</div>')
    unbacked = sum(not s.supported for s in answer.sentences)
    if unbacked and not answer.refused:
        parts.append(
            f'<div class="badge unverified">{unbacked} sentence{"s" if unbacked > 1 else ""} '
            "not backed by a quoted source: see the notes</div>"
        )
    parts.append(f'<div class="answer-text">{link_markers(text_html(answer.text), index, answer.sources)}</div>')
    if answer.standalone_question:
        parts.append(f'<div class="standalone">Searched as: “{escape(answer.standalone_question)}”</div>')
    meta = [answer.model or answer.backend, f"{answer.timings.total_ms / 1000:.1f} s"]
    if answer.sources:
        meta.insert(0, f"{len(answer.sources)} source{'s' if len(answer.sources) > 1 else ''}")
    notes = "".join(f"<li>{escape(sanitize_model_text(n))}</li>" for n in answer.notes)
    parts.append(
        '<div class="answer-foot">'
        f'<button class="copy" type="button" data-copy="{escape(copy_text(answer))}">Copy</button>'
        f'<span class="meta">{escape(" · ".join(m for m in meta if m))}</span>'
        + (
            f'<details class="notes"><summary>Notes ({len(answer.notes)})</summary><ul>{notes}</ul></details>'
            if notes
            else ""
        )
        + "</div>"
    )
    return "".join(parts)


def pending_html(turn: Turn) -> str:
    """An answer still streaming (or stopped, or failed part-way)."""
    parts = []
    if turn.text:
        parts.append(f'<div class="answer-text">{text_html(turn.text)}</div>')
    if turn.state == "pending":
        note = escape(turn.note or "Searching the documents")
        parts.append(f'<div class="working"><span class="dots"></span>{note}</div>')
    elif turn.state == "stopped":
        parts.append('<div class="badge stopped">Stopped: this answer is incomplete</div>')
    else:
        if turn.text:
            parts.append('<div class="badge failed">Answer incomplete: the model failed</div>')
        parts.append(f'<div class="error" role="alert">{message_html(turn.error or "the answer failed")}</div>')
    return "".join(parts)


def turn_html(index: int, turn: Turn) -> str:
    """A question and its answer."""
    body = answer_html(index, turn.answer) if turn.answer is not None else pending_html(turn)
    kind: str = "refused" if turn.answer is not None and turn.answer.refused else turn.state
    if kind == "failed" and not turn.text:
        kind = "failed bare"
    return (
        f'<div class="msg user"><div class="bubble">{escape(turn.question)}</div></div>'
        f'<div class="msg bot {kind}" data-turn="{index}"><div class="bubble">{body}</div></div>'
    )


def conversation_html(turns: Sequence[Turn]) -> str:
    """The whole conversation of one session."""
    if not turns:
        return (
            '<div class="conv empty"><div class="welcome">'
            "<h2>Ask your documents</h2>"
            "<p>Answers quote the indexed documents and cite them with markers such as "
            '<span class="cite demo">[1]</span>. Click a marker to see the quoted passage in its context.</p>'
            "<p>Follow-up questions keep the context of the conversation.</p>"
            "</div></div>"
        )
    return '<div class="conv">' + "".join(turn_html(i, t) for i, t in enumerate(turns)) + "</div>"


def highlighted_passage(source: Source) -> str:
    """The quote marked inside its surrounding passage, trimmed to some context on each side."""
    passage, start = source.passage, source.start - source.passage_start
    end = source.end - source.passage_start
    if not (0 <= start <= end <= len(passage)) or passage[start:end] != source.quote:
        start = passage.find(source.quote) if source.quote else -1
        end = start + len(source.quote)
    if start < 0:
        return f"<mark>{escape(source.quote)}</mark>"
    lo, hi = word_bounds(passage, start - CONTEXT_CHARS, end + CONTEXT_CHARS)
    before = ("…" if lo > 0 else "") + passage[lo:start]
    after = passage[end:hi] + ("…" if hi < len(passage) else "")
    return f"{escape(before)}<mark>{escape(passage[start:end])}</mark>{escape(after)}"


def word_bounds(text: str, lo: int, hi: int) -> tuple[int, int]:
    """``lo`` moved forward and ``hi`` back to the nearest spaces, so no word is cut in half."""
    if lo <= 0:
        lo = 0
    else:
        space = text.find(" ", lo, lo + 40)
        lo = space + 1 if space >= 0 else lo
    if hi >= len(text):
        hi = len(text)
    else:
        space = text.rfind(" ", hi - 40, hi)
        hi = space if space >= 0 else hi
    return lo, hi


def source_card_html(index: int, source: Source) -> str:
    """One cited source: number, title, file, language, date and the highlighted quote."""
    meta = [source.doc_id, source.language.upper() if source.language else "", source.date or ""]
    return (
        f'<article class="src-card" id="src-{index}-{source.number}">'
        f'<header><span class="num">{source.number}</span><div>'
        f'<div class="src-title" title="{escape(source.title)}">{escape(source.title)}</div>'
        f'<div class="src-meta">{" · ".join(escape(m) for m in meta if m)}</div>'
        f'</div></header><blockquote class="passage">{highlighted_passage(source)}</blockquote></article>'
    )


def sources_html(turns: Sequence[Turn]) -> str:
    """The sources panel: the cited sources of each answer; the latest answer's are shown."""
    answered = [(i, t.answer) for i, t in enumerate(turns) if t.answer is not None]
    groups = []
    for i, answer in answered:
        hidden = "" if i == answered[-1][0] else " hidden"
        cards = "".join(source_card_html(i, s) for s in answer.sources) or (
            '<p class="none">This answer cites no source.</p>'
        )
        groups.append(
            f'<section class="src-group" data-turn="{i}"{hidden}>'
            f'<div class="src-for">For “{escape(turns[i].question[:160])}”</div>{cards}</section>'
        )
    body = "".join(groups) or (
        '<p class="none">The sources of the selected answer appear here, with the quoted passage highlighted.</p>'
    )
    return f'<div class="sources"><h3>Sources</h3>{body}</div>'


def status_html(answering: str, index: str, warning: str | None, ok: bool) -> str:
    """The status line: who answers, the index size, and a warning when Ollama is unreachable."""
    chips = [
        f'<span class="chip {"ok" if ok else "bad"}">{escape(answering)}</span>',
        f'<span class="chip">{index}</span>',
    ]
    if warning:
        chips.append(f'<span class="chip warn" role="status">⚠ {message_html(warning)}</span>')
    return '<div class="status">' + "".join(chips) + "</div>"


def notice_html(kind: Notice, lines: Sequence[str]) -> str:
    """A message box (upload and removal results)."""
    items = "".join(f"<li>{message_html(line)}</li>" for line in lines)
    return f'<div class="notice {kind}"><ul>{items}</ul></div>'


def documents_rows(documents: Sequence[DocumentInfo]) -> list[list[Any]]:
    """Rows of the documents table."""
    return [[d.title[:200], d.doc_id, d.language, d.n_chunks, d.indexed_at[:16].replace("T", " ")] for d in documents]


def report_lines(report: IngestReport, names: Sequence[str]) -> tuple[list[str], bool]:
    """What an upload sync did to the uploaded files, and whether all of them were indexed."""
    lines = [f"Added `{n}`" for n in report.added if n in names]
    lines += [f"Updated `{n}`" for n in report.updated if n in names]
    lines += [f"`{n}` is already indexed (unchanged)" for n in report.unchanged if n in names]
    failed = [f for f in report.failed if Path(f.path).name in names]
    lines += [f"Could not index `{Path(f.path).name}`: {f.reason}" for f in failed]
    return lines, not failed


# -- the page's own script and style -------------------------------------------------------------

CONVERSATION_JS = r"""
const panel = () => document.querySelector('#sources-panel');
function showSources(turn, n) {
  const root = panel();
  element.querySelectorAll('.msg.bot').forEach(m => m.classList.toggle('selected', m.dataset.turn === String(turn)));
  if (!root) return;
  root.querySelectorAll('.src-group').forEach(g => { g.hidden = g.dataset.turn !== String(turn); });
  if (!n) return;
  const card = root.querySelector('#src-' + turn + '-' + n);
  if (!card) return;
  card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  card.classList.remove('flash'); void card.offsetWidth; card.classList.add('flash');
}
async function copy(button) {
  const text = button.dataset.copy || '';
  try { await navigator.clipboard.writeText(text); }
  catch (e) {
    const area = document.createElement('textarea');
    area.value = text; document.body.appendChild(area); area.select();
    document.execCommand('copy'); area.remove();
  }
  button.textContent = 'Copied'; setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}
element.addEventListener('click', (ev) => {
  const cite = ev.target.closest('a.cite');
  if (cite) { ev.preventDefault(); showSources(cite.dataset.turn, cite.dataset.n); return; }
  const button = ev.target.closest('button.copy');
  if (button) { copy(button); return; }
  const bot = ev.target.closest('.msg.bot[data-turn]');
  if (bot && !ev.target.closest('a, button, summary')) showSources(bot.dataset.turn, null);
});
let stick = true;
const scroller = () => element.closest('#conversation') || element;
scroller().addEventListener('scroll', () => {
  const box = scroller(); stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
});
watch('value', () => { if (stick) { const box = scroller(); box.scrollTop = box.scrollHeight; } });
"""

CSS = r"""
.gradio-container { max-width: 1360px !important; margin: 0 auto !important; padding-top: 10px !important; }
footer { display: none !important; }
#topbar { align-items: center; gap: 12px; padding: 4px 2px 10px; border-bottom: 1px solid var(--border-color-primary); }
#topbar > div { min-width: 0; }
.brand { display: flex; align-items: baseline; gap: 10px; white-space: nowrap; }
.brand b { font-size: 1.3rem; letter-spacing: -0.01em; }
.brand span { color: var(--body-text-color-subdued); font-size: .85rem; }
.status { display: flex; flex-wrap: wrap; justify-content: flex-end; gap: 6px; font-size: .82rem; }
.chip { border: 1px solid var(--border-color-primary); border-radius: 999px; padding: 3px 10px;
  background: var(--background-fill-secondary); color: var(--body-text-color); }
.chip.ok::before { content: "●"; color: #16a34a; margin-right: 6px; }
.chip.bad::before { content: "●"; color: #dc2626; margin-right: 6px; }
.chip.warn { border-color: #f59e0b; background: rgba(245, 158, 11, .12); }
.chip code, .notice code, .error code { font-size: .9em; padding: 0 4px; border-radius: 4px;
  background: var(--background-fill-primary); border: 1px solid var(--border-color-primary); }
#conversation { height: calc(100vh - 400px); min-height: 360px; overflow-y: auto !important; padding: 0 !important;
  border: 1px solid var(--border-color-primary); border-radius: 12px; background: var(--background-fill-secondary); }
.conv { display: flex; flex-direction: column; gap: 14px; padding: 18px; }
.conv.empty { height: 100%; justify-content: center; }
.welcome { max-width: 560px; margin: 40px auto; text-align: center; color: var(--body-text-color-subdued); }
.welcome h2 { color: var(--body-text-color); font-size: 1.35rem; margin-bottom: 10px; }
.welcome p { margin: 6px 0; line-height: 1.5; }
.msg { display: flex; }
.msg.user { justify-content: flex-end; }
.msg .bubble { max-width: 88%; padding: 10px 14px; border-radius: 14px; line-height: 1.55; overflow-wrap: anywhere; }
.msg.user .bubble { background: var(--color-accent); color: white; border-bottom-right-radius: 4px; }
.msg.bot .bubble { background: var(--background-fill-primary); border: 1px solid var(--border-color-primary);
  border-bottom-left-radius: 4px; cursor: default; }
.msg.bot.selected .bubble { box-shadow: 0 0 0 2px var(--color-accent-soft); }
.msg.bot.refused .bubble { border-color: #f59e0b; }
.msg.bot.failed .bubble, .msg.bot.stopped .bubble { border-color: #ef4444; }
.msg.bot.bare .bubble { border: none; padding: 0; background: none; }
.msg.bot.bare .error { margin-top: 0; }
#question .submit-button { background: var(--button-primary-background-fill); color: var(--button-primary-text-color);
  border-radius: 8px; padding: 0 16px; font-weight: 600; }
#question .submit-button:hover { background: var(--button-primary-background-fill-hover); }
#documents { --font-mono: var(--font); }
#question .stop-button { border-radius: 8px; padding: 0 16px; font-weight: 600; }
a.cite, .cite.demo { display: inline-block; margin: 0 1px; padding: 0 5px; border-radius: 6px; font-size: .78em;
  font-weight: 600; line-height: 1.5; vertical-align: 1px; text-decoration: none !important; cursor: pointer;
  background: var(--color-accent-soft); color: var(--color-accent) !important; }
a.cite:hover { background: var(--color-accent); color: white !important; }
.badge { display: inline-block; font-size: .75rem; font-weight: 600; border-radius: 6px; padding: 1px 8px;
  margin: 4px 0 6px; }
.badge.refused { background: rgba(245, 158, 11, .16); color: #b45309; }
.badge.unverified { background: rgba(107, 114, 128, .16); color: #4b5563; }
.badge.failed, .badge.stopped { background: rgba(239, 68, 68, .14); color: #b91c1c; }
.error { margin-top: 6px; padding: 8px 10px; border-radius: 8px; background: rgba(239, 68, 68, .08);
  border: 1px solid rgba(239, 68, 68, .35); }
.standalone { margin-top: 6px; font-size: .78rem; color: var(--body-text-color-subdued); font-style: italic; }
.answer-foot { display: flex; align-items: center; flex-wrap: wrap; gap: 10px; margin-top: 8px; font-size: .75rem;
  color: var(--body-text-color-subdued); }
button.copy { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 1px 9px; font-size: .75rem;
  background: var(--background-fill-secondary); cursor: pointer; color: var(--body-text-color); }
button.copy:hover { border-color: var(--color-accent); }
.notes summary { cursor: pointer; }
.notes ul { margin: 4px 0 0 18px; }
.working { color: var(--body-text-color-subdued); font-size: .9rem; }
.dots::before { content: ""; display: inline-block; width: 8px; height: 8px; margin-right: 8px; border-radius: 50%;
  background: var(--color-accent); animation: pulse 1s infinite ease-in-out; }
@keyframes pulse { 0%, 100% { opacity: .25; } 50% { opacity: 1; } }
#sources-column { position: sticky; top: 8px; align-self: flex-start; }
.sources { max-height: calc(100vh - 150px); overflow-y: auto; padding-right: 4px; }
.sources h3 { font-size: 1rem; margin: 2px 0 8px; }
.sources .none { color: var(--body-text-color-subdued); font-size: .88rem; }
.src-for { font-size: .78rem; color: var(--body-text-color-subdued); margin-bottom: 8px; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px; margin-bottom: 10px;
  background: var(--background-fill-primary); scroll-margin: 12px; }
.src-card.flash { animation: flash 1.6s ease-out; }
@keyframes flash { 0% { box-shadow: 0 0 0 3px var(--color-accent); } 100% { box-shadow: 0 0 0 0 transparent; } }
.src-card header { display: flex; gap: 10px; align-items: flex-start; }
.src-card .num { flex: none; width: 22px; height: 22px; border-radius: 6px; text-align: center; font-size: .8rem;
  font-weight: 700; line-height: 22px; background: var(--color-accent-soft); color: var(--color-accent); }
.src-title { font-weight: 600; font-size: .88rem; line-height: 1.35; display: -webkit-box; -webkit-line-clamp: 2;
  -webkit-box-orient: vertical; overflow: hidden; }
.src-meta { font-size: .74rem; color: var(--body-text-color-subdued); margin-top: 2px; overflow-wrap: anywhere; }
.passage { margin: 8px 0 0; padding: 8px 10px; border-left: 3px solid var(--border-color-primary); font-size: .84rem;
  line-height: 1.5; white-space: pre-wrap; color: var(--body-text-color-subdued); }
.passage mark { background: rgba(250, 204, 21, .45); color: var(--body-text-color); padding: 1px 0;
  border-radius: 2px; }
.notice { border-radius: 8px; padding: 8px 12px; font-size: .88rem; }
.notice ul { margin: 0; padding-left: 16px; }
.notice.ok { background: rgba(22, 163, 74, .08); border: 1px solid rgba(22, 163, 74, .35); }
.notice.warn { background: rgba(245, 158, 11, .1); border: 1px solid rgba(245, 158, 11, .4); }
.notice.error { background: rgba(239, 68, 68, .08); border: 1px solid rgba(239, 68, 68, .35); }
.docs-summary { font-size: .9rem; color: var(--body-text-color-subdued); }
"""


# -- callbacks -------------------------------------------------------------------------------------


class Callbacks:
    """The UI's event handlers; each calls the services and renders the result."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded files are kept (and synced from)."""
        return self.services.uploads_dir

    # -- chat --
    def ask(
        self, question: str, model_choice: str, k: float, strict: bool, turns: list[Turn]
    ) -> Iterator[tuple[Any, ...]]:
        """Stream the answer to ``question`` into this session's conversation."""
        question = (question or "").strip()[:MAX_QUESTION_CHARS]
        if not question:
            yield (gr.skip(),) * 5
            return
        turns = [*settle(turns)[-(MAX_TURNS - 1) :], Turn(question=question)]
        turn = turns[-1]
        yield conversation_html(turns), gr.skip(), turns, gr.update(value="", **STOP_BUTTON), gr.skip()
        try:
            backend, model = parse_model_choice(model_choice)
            events = self.services.answerer.stream(
                question, history=history_pairs(turns[:-1]), k=int(k), strict=bool(strict), backend=backend, model=model
            )
            last = 0.0
            for event in events:
                apply_event(turn, event)
                if time.monotonic() - last >= STREAM_INTERVAL:
                    last = time.monotonic()
                    yield conversation_html(turns), gr.skip(), turns, gr.skip(), gr.skip()
        except Exception as exc:  # shown as one readable message; the server log keeps the rest
            turn.error, turn.state = readable_error(exc), "failed"
        yield conversation_html(turns), sources_html(turns), turns, gr.update(**ASK_BUTTON), turn_json(turn)

    def stop(self, turns: list[Turn]) -> tuple[str, list[Turn], Any]:
        """Mark an answer interrupted by the stop button."""
        turns = settle(turns)
        return conversation_html(turns), turns, gr.update(**ASK_BUTTON)

    def clear(self) -> tuple[str, str, list[Turn], None]:
        """Forget this session's conversation."""
        return conversation_html([]), sources_html([]), [], None

    # -- status --
    def status(self, model_choice: str | None) -> str:
        """The status line for the chosen model."""
        models, warning = self._ollama_models()
        try:
            backend, model = parse_model_choice(model_choice)
            _, note = self.services.answerer.chat_model(backend, model)
            answering, ok = f"Answers: {note}", not (backend == "ollama" and models is None)
        except Exception as exc:
            answering, ok = f"No model: {readable_error(exc)}", False
        return status_html(answering, self._index_summary(), warning if models is None else None, ok)

    def refresh(self, model_choice: str | None) -> tuple[Any, ...]:
        """Page load: status, the model menu (from Ollama when it runs) and the documents."""
        models, _ = self._ollama_models()
        choices = model_choices(self.settings, models)
        value = model_choice if model_choice in [v for _, v in choices] else default_model_choice(self.settings)
        return (self.status(value), gr.update(choices=choices, value=value), *self.documents())

    def _ollama_models(self) -> tuple[list[str] | None, str | None]:
        """The pulled Ollama models, or None and a short warning."""
        host = self.settings.ollama.host
        try:
            return OllamaServer(self.settings.ollama, timeout=self.settings.ollama.connect_timeout).models(), None
        except ModelUnreachableError:
            return None, f"Ollama is not reachable at {host}: start it with `ollama serve`"
        except Exception as exc:
            return None, f"Ollama at {host} does not answer: {readable_error(exc)}"

    def _index_summary(self) -> str:
        try:
            docs, chunks = self.services.index.counts()
        except Exception as exc:
            return f"Index unavailable: {escape(readable_error(exc))}"
        return f"{docs} document{'s' if docs != 1 else ''} · {chunks} chunks"

    # -- documents --
    def documents(self) -> tuple[Any, Any, str]:
        """The documents table, the removal menu and a summary line."""
        try:
            docs = self.services.index.catalog.documents()
        except Exception as exc:
            return gr.skip(), gr.skip(), notice_html("error", [readable_error(exc)])
        summary = (
            f'<div class="docs-summary">{len(docs)} indexed document{"s" if len(docs) != 1 else ""}. '
            f"Uploaded files are kept in <code>{escape(str(self.uploads_dir))}</code>.</div>"
        )
        choices = [(f"{d.title[:80]} ({d.doc_id})", d.doc_id) for d in docs]
        return documents_table(docs), gr.update(choices=choices, value=None), summary

    def upload(
        self,
        files: list[str] | None,
        model_choice: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (gradio's way to report progress)
    ) -> tuple[Any, ...]:
        """Copy the uploaded files into the uploads folder and sync it, as ``assistant ingest`` does."""

        def report_progress(name: str, done: int, total: int, chunks: int) -> None:
            progress((done, total), desc=f"Indexing {name}", unit="files")

        saved: list[str] = []
        try:
            outcome = self.services.add_files(files or [], progress=report_progress)
            saved, lines = outcome.saved, outcome.rejected
            ok = bool(saved) and not lines
            if outcome.report is not None:
                done_lines, ok = report_lines(outcome.report, saved)
                lines, ok = done_lines + lines, ok and not outcome.rejected
        except Exception as exc:
            lines, ok = [readable_error(exc)], False
        kind: Notice = "ok" if ok else ("warn" if saved else "error")
        notice = notice_html(kind, lines or ["No file selected."])
        return (notice, None, *self.documents(), self.status(model_choice))

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
                lines = removal_lines(info, self.uploads_dir)
        except Exception as exc:
            lines, kind = [readable_error(exc)], "error"
        return (notice_html(kind, lines), *self.documents(), self.status(model_choice))

    def pick_document(self, table: Any, event: gr.SelectData) -> Any:
        """Clicking a row of the table chooses that document for removal."""
        row = event.row_value or []
        return gr.update(value=row[1]) if len(row) > 1 else gr.skip()


def settle(turns: Sequence[Turn]) -> list[Turn]:
    """The turns as a new list, an answer left pending (interrupted by the stop button) marked as stopped."""
    for turn in turns:
        if turn.state == "pending":
            turn.state = "stopped"
    return list(turns)


def turn_json(turn: Turn) -> dict[str, Any]:
    """The final answer as JSON for API clients (a failed answer carries its error and partial text).

    Server paths are left out: they are nobody's business, and gradio_client takes a dict with a
    ``path`` key for a file to download.
    """
    if turn.answer is not None:
        return turn.answer.model_dump(mode="json", exclude={"sources": {"__all__": {"path"}}})
    return {"question": turn.question, "status": "failed", "error": turn.error, "text": turn.text, "sources": []}


def documents_table(docs: Sequence[DocumentInfo]) -> Any:
    """The documents as a table value."""
    import pandas as pd

    return pd.DataFrame(documents_rows(docs), columns=DOC_HEADERS)


def removal_lines(info: DocumentInfo, uploads: Path) -> list[str]:
    """What removing a document did, and whether it can come back."""
    path = Path(info.path)
    if is_upload(info, uploads):
        return [f"Removed `{info.doc_id}` from the index and deleted the uploaded file."]
    return [
        f"Removed `{info.doc_id}` from the index.",
        f"The file is still in `{path.parent}`: the next `assistant ingest` of that folder adds it again.",
    ]


# -- the app ---------------------------------------------------------------------------------------


def build_app(services: Services) -> gr.Blocks:
    """The Blocks app over ``services``. Launch it with :func:`launch` (or ``launch_options``)."""
    settings = services.settings
    cb = Callbacks(services)
    extensions = [e.lower() for e in settings.ingest.extensions]
    # uploads are copied into the data folder: gradio's temporary copies go after ten minutes
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(600, 600)) as app:
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
                            js_on_load=CONVERSATION_JS,
                            apply_default_css=False,
                        )
                        question = gr.Textbox(
                            show_label=False,
                            placeholder="Ask a question about your documents…",
                            lines=1,
                            max_lines=6,
                            autofocus=True,
                            elem_id="question",
                            **ASK_BUTTON,
                        )
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
                    with gr.Column(scale=5, min_width=320, elem_id="sources-column"):
                        sources = gr.HTML(sources_html([]), elem_id="sources-panel", apply_default_css=False)
                last_answer = gr.JSON(visible=False)
            with gr.Tab("Documents", id="documents"):
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

        documents_out = [table, to_remove, docs_summary]
        ask_event = question.submit(
            cb.ask,
            [question, model, k, strict, turns],
            [conversation, sources, turns, question, last_answer],
            api_name="ask",
            show_progress="hidden",
            concurrency_limit=ASK_CONCURRENCY,
            concurrency_id="ask",
        )
        question.stop(cb.stop, [turns], [conversation, turns, question], cancels=[ask_event], api_visibility="private")
        clear.click(cb.clear, None, [conversation, sources, turns, last_answer], api_name="clear")
        model.change(cb.status, [model], [status], api_name="status", show_progress="hidden")
        files.upload(
            cb.upload,
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
        table.select(cb.pick_document, [table], [to_remove], api_visibility="private")
        app.load(cb.refresh, [model], [status, model, *documents_out], api_visibility="private")
    app.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)
    return app


# -- serving ---------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def launch_options(
    settings: Settings, host: str | None = None, port: int | None = None, share: bool | None = None
) -> dict[str, Any]:
    """The keyword arguments of ``Blocks.launch``: safe defaults, login when exposed, blocked data paths.

    Raises :class:`ConfigError` for a non-loopback host or a share link without a user name and password.
    """
    ui = settings.ui
    host = host or ui.host
    share = ui.share if share is None else share
    auth = (ui.username, ui.password) if ui.username and ui.password else None
    if (share or not is_loopback(host)) and auth is None:
        where = "a public share link" if share else f"{host} (reachable from other machines)"
        raise ConfigError(
            f"refusing to serve the UI on {where} without a login: set ASSISTANT_UI__USERNAME and "
            "ASSISTANT_UI__PASSWORD, or listen on 127.0.0.1"
        )
    blocked = [settings.data_dir, settings.chroma_path, settings.index_dir]
    if settings.config_file is not None:
        blocked.append(settings.config_file)
    return {
        "server_name": host,
        "server_port": port or ui.port,
        "share": share,
        "auth": auth,
        "max_file_size": int(ui.max_upload_mb * 1024 * 1024),
        "blocked_paths": sorted({str(p.resolve()) for p in blocked}),
        "allowed_paths": [],
        "show_error": False,
        "footer_links": [],
        "run_history": False,
        "ssr_mode": False,
        "mcp_server": False,
        "pwa": False,
        "enable_monitoring": False,
        "css": CSS,
        "theme": gr.themes.Default(primary_hue="indigo", neutral_hue="slate"),
    }


def launch(services: Services, host: str | None = None, port: int | None = None, share: bool | None = None) -> None:
    """Serve the UI until interrupted (loopback by default; a login is required anywhere else)."""
    options = launch_options(services.settings, host, port, share)
    build_app(services).launch(**options)
