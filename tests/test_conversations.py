"""The conversation store: migrations, per-user lists, turns with their full answers, rename and delete."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assistant.conversations.store import (
    LOCAL_USER,
    MAX_TITLE_CHARS,
    MIGRATIONS,
    STORE_FILE,
    ConversationStore,
    migrate,
)
from assistant.errors import CannotWriteError, ConversationStoreError
from assistant.models import Answer, AnswerSentence, Locator, Source
from tests.test_index_storage import read_only_view


def answer(text: str = "Brad Lightcap said so [1].", quote: str = "Brad Lightcap") -> Answer:
    """An answer with one source, its locator and sha256 (what reopening must give back)."""
    source = Source(
        number=1, doc_id="a/b.txt", title="B", path="/x/a/b.txt", quote=quote, start=10, end=10 + len(quote),
        passage=f"0123456789{quote} and more", passage_start=0,
        locator=Locator(line=3, label="line 3"), sha256="ab" * 32,
    )
    return Answer(
        question="Who?", text=text, language="en", sources=[source],
        sentences=[AnswerSentence(text=text, citations=[1])], mode="extractive", model="extractive",
    )


def test_reading_a_store_that_was_never_written_creates_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = ConversationStore(data_dir)
    assert store.list() == []
    assert store.get("nope") is None
    assert store.delete("nope") is False
    assert not data_dir.exists(), "a read must not create the data directory"


def test_a_conversation_keeps_its_turns_and_full_answers(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    summary = store.create()
    assert summary.title == "" and summary.user == LOCAL_USER
    first = store.append(summary.id, "Who said Sora launched too early?", answer(), options={"k": 5})
    second = store.append(summary.id, "And what did Altman announce?", answer("Altman [1].", "Altman"))
    assert (first.number, second.number) == (1, 2)

    kept = store.get(summary.id)
    assert kept is not None
    assert kept.summary.title == "Who said Sora launched too early?", "titled by the first question"
    assert kept.summary.turns == 2
    assert [t.question for t in kept.turns] == ["Who said Sora launched too early?", "And what did Altman announce?"]
    assert kept.turns[0].answer == answer(), "the whole Answer comes back, sources and locators included"
    assert kept.turns[0].answer.sources[0].locator == Locator(line=3, label="line 3")
    assert kept.turns[0].options == {"k": 5}
    assert (tmp_path / STORE_FILE).is_file()


def test_the_list_is_newest_first_with_titles_and_counts(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    old, new = store.create(title="old one"), store.create()
    store.append(new.id, "  a   question\nover lines ", answer())
    store.append(old.id, "a later question", answer())  # updating moves it up
    listed = store.list()
    assert [c.id for c in listed] == [old.id, new.id]
    assert [c.title for c in listed] == ["old one", "a question over lines"]
    assert [c.turns for c in listed] == [1, 1]
    long = store.create(title="x" * 500)
    assert len(long.title) == MAX_TITLE_CHARS and long.title.endswith("…")


def test_each_user_sees_only_their_own(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    alice = store.create("alice", "alice's")
    bob = store.create("bob", "bob's")
    store.append(alice.id, "q", answer(), user="alice")
    assert [c.id for c in store.list("alice")] == [alice.id]
    assert [c.id for c in store.list("bob")] == [bob.id]
    assert store.list(LOCAL_USER) == []
    assert store.get(alice.id, "bob") is None
    assert store.rename(alice.id, "stolen", "bob") is False
    assert store.delete(alice.id, "bob") is False
    with pytest.raises(ConversationStoreError):
        store.append(alice.id, "q", answer(), user="bob")
    kept = store.get(alice.id, "alice")
    assert kept is not None and kept.summary.title == "alice's" and len(kept.turns) == 1


def test_rename_and_delete(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    kept, other = store.create(), store.create()
    store.append(kept.id, "first question", answer())
    store.append(other.id, "other question", answer())
    assert store.rename(kept.id, "  Sora, the launch  ") is True
    assert store.get(kept.id).summary.title == "Sora, the launch"  # type: ignore[union-attr]
    assert store.rename(kept.id, "   ") is False, "a blank title is refused"
    assert store.rename("missing", "x") is False
    assert store.delete(kept.id) is True
    assert store.get(kept.id) is None and store.delete(kept.id) is False
    assert [c.id for c in store.list()] == [other.id]
    with sqlite3.connect(tmp_path / STORE_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM turns WHERE conversation_id = ?", (kept.id,)).fetchone() == (0,)


def test_migrations_run_in_order_and_keep_the_data_of_an_older_schema(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE
    with sqlite3.connect(path) as db:  # a store written when only the first migration existed
        MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO conversations VALUES ('c1', 'local', 'kept before', '2026-01-01', '2026-01-01')")
        db.execute("INSERT INTO turns VALUES ('c1', 1, 'q', ?, '2026-01-01')", (answer().model_dump_json(),))
    db.close()
    store = ConversationStore(tmp_path)
    kept = store.get("c1")  # a read goes through a migrated copy in memory: the file is not written
    assert kept is not None and kept.turns[0].answer == answer() and kept.turns[0].options == {}
    assert [c.title for c in store.list()] == ["kept before"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,), "a read never writes"
    db.close()
    assert store.rename("c1", "renamed")  # the first write migrates the file
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        columns = [row[1] for row in db.execute("PRAGMA table_info(turns)")]
        assert "options" in columns
        assert migrate(db) == 0, "nothing runs twice"
    db.close()


def test_an_older_store_in_a_read_only_directory_is_read(tmp_path: Path) -> None:
    """A real read-only bind mount (root ignores ``chmod``): reading an older schema writes nothing."""
    source = tmp_path / "data"
    source.mkdir()
    with sqlite3.connect(source / STORE_FILE) as db:
        MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO conversations VALUES ('c1', 'local', 'kept before', '2026-01-01', '2026-01-01')")
        db.execute("INSERT INTO turns VALUES ('c1', 1, 'q', ?, '2026-01-01')", (answer().model_dump_json(),))
    db.close()
    with read_only_view(source, tmp_path / "ro") as view:
        store = ConversationStore(view)
        kept = store.get("c1")
        assert kept is not None and kept.turns[0].answer == answer()
        assert [c.title for c in store.list()] == ["kept before"]
        with pytest.raises(CannotWriteError, match="read-only"):
            store.rename("c1", "renamed")
    assert sorted(p.name for p in source.iterdir()) == [STORE_FILE], "nothing was added beside the store"


def test_a_store_of_a_newer_version_or_a_damaged_one_is_one_clear_error(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    store.create()
    with sqlite3.connect(tmp_path / STORE_FILE) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(ConversationStoreError, match="newer version"):
        store.list()
    with pytest.raises(ConversationStoreError, match="newer version"):
        store.create()
    (tmp_path / STORE_FILE).write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConversationStoreError, match="cannot be read"):
        store.list()


def test_writers_at_once_number_the_turns_without_gaps_or_repeats(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = ConversationStore(tmp_path)
    kept = store.create()
    with ThreadPoolExecutor(max_workers=8) as pool:  # each append opens its own connection, as two processes do
        turns = list(pool.map(lambda n: store.append(kept.id, f"q{n}", answer()), range(40)))
    assert sorted(t.number for t in turns) == list(range(1, 41))
    conversation = store.get(kept.id)
    assert conversation is not None and [t.number for t in conversation.turns] == list(range(1, 41))
    assert conversation.summary.turns == 40


def test_restored_ui_turns_are_bounded(tmp_path: Path) -> None:
    from assistant.web.conversation import MAX_TURNS
    from assistant.web.history import restored_turns

    store = ConversationStore(tmp_path)
    kept = store.create()
    for n in range(MAX_TURNS + 5):
        store.append(kept.id, f"q{n}", answer())
    conversation = store.get(kept.id)
    assert conversation is not None
    restored = restored_turns(conversation.turns)
    assert len(restored) == MAX_TURNS and restored[-1].question == f"q{MAX_TURNS + 4}"
    assert all(t.state == "done" and t.answer == answer() for t in restored)


def test_a_misused_connection_is_a_bug_not_a_damaged_store(tmp_path: Path) -> None:
    """A wrong number of bindings is the code's error: it must not tell the user to move the store away."""
    store = ConversationStore(tmp_path)
    store.create()
    with pytest.raises(sqlite3.ProgrammingError), store._reading() as conn:
        assert conn is not None
        conn.execute("SELECT ?", ())
    with pytest.raises(sqlite3.ProgrammingError), store._writing() as conn:
        conn.execute("SELECT ?", ())
    assert len(store.list()) == 1, "nothing was lost, and the store still reads"
