"""The UI's kept conversations without a browser: save once per answer, per-user lists, reopen, exports.

The handlers run over real services (a real index of the shipped corpus, the embedded model); the
browser test (test_history_browser.py) drives the same panel through the page.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from assistant.conversations.export import read_bundle
from assistant.services import Services
from assistant.web.conversation import Turn
from assistant.web.history import EXPORTS, HistoryPanel, choice_label, restored_turns, user_of

QUESTION = "Chi ha detto che Sora è stato lanciato troppo presto?"


def panel(services: Services, exports: Path) -> HistoryPanel:
    """The panel's handlers (its components are not needed without a page)."""
    return HistoryPanel(services, exports, *([None] * 6), downloads=[None] * 4, current=None)  # type: ignore[misc]


def value(update: Any) -> Any:
    return update.get("value") if isinstance(update, dict) else update


def test_whose_conversations_these_are() -> None:
    assert user_of(None) == "local"
    assert user_of(SimpleNamespace(username=None)) == "local"
    assert user_of(SimpleNamespace(username="alice")) == "alice"


def test_an_answer_is_saved_once_per_user_and_reopens_with_its_sources(
    corpus_services: Services, tmp_path: Path
) -> None:
    history = panel(corpus_services, tmp_path / "exports")
    answer = corpus_services.ask(QUESTION)
    assert answer.sources and "Lightcap" in answer.text
    turns = [Turn(question=QUESTION, text=answer.text, answer=answer, state="done")]

    current, listing, notice, *downloads = history.save({}, turns, {"k": 5}, "alice-history")
    assert notice == "" and current["id"] and all(value(d) for d in downloads)
    assert [label for label, _ in listing["choices"]] == [choice_label(corpus_services.conversations.list(
        "alice-history")[0])]
    again = history.save(current, turns, {"k": 5}, "alice-history")  # the same turn (an empty question after it)
    assert again[0] == current
    kept = corpus_services.conversations.get(current["id"], "alice-history")
    assert kept is not None and len(kept.turns) == 1 and kept.turns[0].options == {"k": 5}

    assert corpus_services.conversations.list("bob-history") == [], "another user sees nothing"
    assert "no longer kept" in history.open(current["id"], "bob-history")[6]
    history.delete_current(current, "bob-history")
    assert corpus_services.conversations.get(current["id"], "alice-history") is not None

    reopened = history.open(current["id"], "alice-history")
    restored: list[Turn] = reopened[2]
    assert restored[0].answer == answer and restored[0].state == "done"
    assert "src-0-1" in reopened[1] and answer.sources[0].doc_id in reopened[1], "the source cards come back"
    assert reopened[3]["sources"][0]["quote"] == answer.sources[0].quote
    assert reopened[5] == QUESTION

    files = [Path(value(d)) for d in reopened[7:]]
    assert len(files) == len(EXPORTS) and all(f.is_file() for f in files)
    assert "[^1]" in files[0].read_text()
    bundle = read_bundle(files[3])
    assert bundle.conversation_id == current["id"] and bundle.answers[0].question == QUESTION
    assert json.loads(files[1].read_text())["answers"][0]["quotes"][0]["sha256"] == answer.sources[0].sha256
    check = corpus_services.verify_bundle(files[3])
    assert check.holds and len(check.quotes) == len(answer.sources)

    follow = corpus_services.ask("E cosa ha annunciato Sam Altman?", history=[(QUESTION, answer.text)])
    more = [*restored, Turn(question="E cosa ha annunciato Sam Altman?", answer=follow, state="done")]
    current2, *_ = history.save(reopened[4], more, {}, "alice-history")
    assert current2["id"] == current["id"], "a reopened conversation goes on"
    assert corpus_services.conversations.get(current["id"], "alice-history").summary.turns == 2  # type: ignore[union-attr]

    listing, notice = history.rename_current(current2, "Sora", "alice-history")
    assert "Renamed" in notice and listing["choices"][0][0].startswith("Sora · 2 questions")
    fresh = history.delete_current(current2, "alice-history")
    assert "Deleted" in fresh[7] and fresh[2] == [] and corpus_services.conversations.list("alice-history") == []


def test_failed_and_pending_turns_are_not_saved(corpus_services: Services, tmp_path: Path) -> None:
    history = panel(corpus_services, tmp_path)
    for turn in (Turn(question="q", state="failed", error="x"), Turn(question="q")):
        current, *_ = history.save({}, [turn], {}, "carol-history")
        assert current == {}
    assert history.save({}, [], {}, "carol-history")[0] == {}
    assert corpus_services.conversations.list("carol-history") == []
    assert restored_turns([]) == []
