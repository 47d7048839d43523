"""`assistant chat` in a real process, driven through its stdin, over a real index of the shipped corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli.app import app
from assistant.cli.chat import ChatSession, describe, in_context
from assistant.conversations.store import ConversationStore
from assistant.models import Scope, Source

QUESTION = "Chi ha detto che Sora è stato lanciato troppo presto?"
FOLLOW_UP = "E cosa ha annunciato Sam Altman?"
SCOPED = "Chi ha presentato a Hollywood le potenzialità di Sora?"
SCOPE_DOC = "001_bfcfb1f07bcdb431.txt"


def chat(lines: list[str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``assistant chat`` in its own process with ``lines`` on stdin (the environment is the test's)."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", "chat", *args],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_chat_session_with_follow_up_sources_open_scope_and_export(
    corpus: Path, tmp_path: Path, clean_env: Path
) -> None:
    assert CliRunner().invoke(app, ["ingest", str(corpus), "--quiet"]).exit_code == 0
    exported, bundle = tmp_path / "chat.md", tmp_path / "chat.json"
    done = chat([
        QUESTION, FOLLOW_UP, "/sources", "/open 1", "/open 99", f'/scope in "{SCOPE_DOC[:4]}*"', "/scope lang it",
        "/scope", SCOPED, "/scope clear", f"/export {exported}", f"/export {bundle}", "/bogus", "/quit",
        "never read: the session ended",
    ])
    assert done.returncode == 0, done.stderr
    out, err = done.stdout, done.stderr
    assert "Traceback" not in out + err
    assert "Lightcap" in out, "the first answer"
    assert "Altman" in out.split("Lightcap", 1)[1], "the follow-up was answered in the conversation's context"
    assert out.count("Sources:") >= 3
    assert "»" in out and "«" in out, "/open 1 marks the quote inside its passage"
    assert "usage: /open N" in err and "unknown command /bogus" in err
    assert "scope: in 001_*; lang it" in err
    assert "exported 3 answer(s)" in err and "never read" not in out

    kept = ConversationStore(clean_env).list()
    assert len(kept) == 1 and kept[0].title == QUESTION and kept[0].turns == 3, "the session is kept, like the UI's"
    conversation = ConversationStore(clean_env).get(kept[0].id)
    assert conversation is not None
    first, second, scoped = conversation.turns
    assert "Lightcap" in first.answer.text
    assert "Altman" in second.answer.text and second.answer.sources
    assert scoped.options["scope"] == {"globs": ["001_*"], "doc_ids": [], "languages": ["it"]}
    assert scoped.answer.sources and all(s.doc_id == SCOPE_DOC for s in scoped.answer.sources)

    markdown = exported.read_text()
    assert markdown.startswith(f"# {QUESTION}") and "[^1-1]" in markdown and "[^3-1]" in markdown
    data = json.loads(bundle.read_text())
    assert [a["question"] for a in data["answers"]] == [QUESTION, FOLLOW_UP, SCOPED]
    assert data["conversation_id"] == kept[0].id
    verified = subprocess.run([sys.executable, "-m", "assistant", "verify", str(bundle)], capture_output=True,
                              text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    resumed = chat(["/sources", "E quando?", "/quit"], "--resume", "last")
    assert resumed.returncode == 0, resumed.stderr
    first_line = resumed.stdout.splitlines()[0]
    assert first_line.startswith("[1] ") and SCOPE_DOC in first_line, "/sources: the kept last answer's"
    assert ConversationStore(clean_env).list()[0].turns == 4
    assert f"--resume {kept[0].id}" in resumed.stderr, "the id to go on with is printed at the end"


def test_end_of_input_and_bad_options_end_cleanly(clean_env: Path, corpus: Path) -> None:
    assert CliRunner().invoke(app, ["ingest", str(corpus), "--quiet"]).exit_code == 0
    ended = chat(["/help"])  # no /quit: end of input ends the session
    assert ended.returncode == 0 and "/scope in GLOB" in ended.stdout and "Traceback" not in ended.stderr
    unknown = chat([], "--resume", "nope")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: there is no kept conversation")
    bad = chat([], "-k", "0")
    assert bad.returncode == 2 and "-k must be between" in bad.stderr


def test_no_index_exits_3_without_creating_the_data_directory(clean_env: Path) -> None:
    done = chat(["a question"])
    assert done.returncode == 3 and "no index" in done.stderr
    assert not clean_env.exists()


def test_the_quote_in_its_passage_and_the_scope_line() -> None:
    source = Source(number=1, doc_id="d", title="t", quote="quoted", start=14, end=20,
                    passage="the passage, a quoted bit.", passage_start=0)
    assert in_context(source) == ("", "quoted", ""), "offsets that miss the quote: the quote alone"
    before, quote, after = in_context(source.model_copy(update={"start": 15, "end": 21}))
    assert (before, quote, after) == ("the passage, a ", "quoted", " bit.")
    assert in_context(source.model_copy(update={"passage": ""})) == ("", "quoted", "")
    assert describe(Scope()) == "every document"
    assert describe(Scope(globs=["a/**"], languages=["it"])) == "in a/**; lang it"
    assert ChatSession.__doc__


def test_bad_scope_commands_are_explained(clean_env: Path, corpus: Path) -> None:
    assert CliRunner().invoke(app, ["ingest", str(corpus), "--quiet"]).exit_code == 0
    bad = ["/scope lang italian", "/scope in", "/scope nonsense x", '/scope in "unclosed']
    empty = ["/scope doc no-such-document.txt", QUESTION, "/scope clear"]  # a scope with no document: one line
    done = chat([*bad, *empty, "/scope", "/quit"])
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert done.stderr.count("usage: /scope") == 3 and "cannot read that command" in done.stderr
    assert "error: " in done.stderr and "no-such-document.txt" in done.stderr.split("error: ", 1)[1]
    assert done.stdout.strip() == "", "nothing was answered"
    assert done.stderr.rstrip().endswith("scope: every document")
    assert ConversationStore(clean_env).list() == []


def test_ctrl_c_ends_the_session_cleanly(clean_env: Path, corpus: Path) -> None:
    import signal

    from assistant.cli.chat import READY

    assert CliRunner().invoke(app, ["ingest", str(corpus), "--quiet"]).exit_code == 0
    with subprocess.Popen([sys.executable, "-m", "assistant", "chat"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as session:
        assert session.stderr is not None
        assert session.stderr.readline().strip() == READY, "the session is ready for a line"
        session.send_signal(signal.SIGINT)
        _out, err = session.communicate(timeout=60)
    assert session.returncode == 0, err
    assert "Traceback" not in err and "Aborted" not in err
