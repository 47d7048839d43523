"""The page's HTML: answers, source cards, the status line and notices.

Model and document text is never rendered as HTML or markdown: every function here escapes what it
did not write itself (model text is sanitized first), and the only markup on the page is the markup
these functions write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from assistant.answer.markers import RENDERED_MARKER
from assistant.models import Answer, Source
from assistant.text.sanitize import escape, sanitize_model_text
from assistant.web.conversation import Turn

CONTEXT_CHARS = 320
"""Characters of the passage shown on each side of a highlighted quote."""
Notice = Literal["ok", "warn", "error"]



def message_html(text: str) -> str:
    """Escaped text of the assistant's own messages, with line breaks and `code` spans."""
    safe = re.sub(r"`([^`\n]{1,200})`", r"<code>\1</code>", escape(text))
    return safe.replace("\n", "<br>")


def text_html(text: str) -> str:
    """Model text: links, images and markup removed, then escaped."""
    return message_html(sanitize_model_text(text))


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

    return RENDERED_MARKER.sub(link, safe_html)


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
        code = f' data-code="{escape(turn.error_code)}"' if turn.error_code else ""
        parts.append(f'<div class="error" role="alert"{code}>{message_html(turn.error or "the answer failed")}</div>')
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
    """One cited source: number (opens the evidence viewer), title, file, locator, language, date, the quote."""
    where = source.locator.label if source.locator else ""
    meta = [source.doc_id, where, source.language.upper() if source.language else "", source.date or ""]
    opener = f'data-turn="{index}" data-n="{source.number}" title="Open the document at this quote"'
    return (
        f'<article class="src-card" id="src-{index}-{source.number}">'
        f'<header><a class="num cite" href="#" {opener}>{source.number}</a><div>'
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
        f'<span class="chip">{escape(index)}</span>',
    ]
    if warning:
        chips.append(f'<span class="chip warn" role="status">⚠ {message_html(warning)}</span>')
    return '<div class="status">' + "".join(chips) + "</div>"


def notice_html(kind: Notice, lines: Sequence[str]) -> str:
    """A message box (upload and removal results)."""
    items = "".join(f"<li>{message_html(line)}</li>" for line in lines)
    return f'<div class="notice {kind}"><ul>{items}</ul></div>'
