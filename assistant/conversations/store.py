"""Kept conversations: each a titled list of turns (a question and its full :class:`Answer`), per user.

One SQLite file in the data directory (``conversations.sqlite``), its schema made by an ordered list
of migrations (``PRAGMA user_version`` counts the ones applied). Reading never writes: it creates
neither the file nor the data directory (a store that was never written lists nothing), and a store
of an older schema is read through a migrated copy in memory (the first write migrates the file), so
a read-only data directory can be read. Every call opens its own short connection, so the UI's
threads, ``assistant chat`` and another process may use the store at once.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.errors import ConversationStoreError
from assistant.index.storage import writing
from assistant.models import Answer

STORE_FILE = "conversations.sqlite"
LOCAL_USER = "local"
"""The owner of the conversations kept without a login: the people of this machine."""
MAX_TITLE_CHARS = 120
BUSY_TIMEOUT = 10.0
"""Seconds a write waits for another writer (another process's turn) before it gives up."""


class ConversationSummary(BaseModel):
    """One conversation in the list: its title, when it was last added to, how many turns it has."""

    id: str
    user: str
    title: str
    created: str = Field(description="ISO time (UTC) the conversation was started.")
    updated: str = Field(description="ISO time (UTC) of its last turn or rename.")
    turns: int = 0


class StoredTurn(BaseModel):
    """A question and the answer it got, as they were shown."""

    number: int = Field(description="1-based position in the conversation.")
    question: str
    answer: Answer
    options: dict[str, Any] = Field(default_factory=dict, description="The options the question was asked with.")
    created: str = ""


class Conversation(BaseModel):
    """A conversation and its turns, oldest first."""

    summary: ConversationSummary
    turns: list[StoredTurn] = Field(default_factory=list)


def _create_tables(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE conversations (id TEXT PRIMARY KEY, user TEXT NOT NULL, title TEXT NOT NULL, "
        "created TEXT NOT NULL, updated TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE turns (conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, "
        "number INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL, created TEXT NOT NULL, "
        "PRIMARY KEY (conversation_id, number))"
    )


def _add_turn_options(db: sqlite3.Connection) -> None:
    # the options a question was asked with (k, strict, model, scope): part of what shaped its answer
    db.execute("ALTER TABLE turns ADD COLUMN options TEXT NOT NULL DEFAULT '{}'")


def _index_by_user(db: sqlite3.Connection) -> None:
    db.execute("CREATE INDEX conversations_by_user ON conversations (user, updated)")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_create_tables, _add_turn_options, _index_by_user]
"""The schema's history, in order: never edit one, only append (``user_version`` = how many ran)."""


def now() -> str:
    """The current time, ISO 8601 in UTC, to the microsecond (so that the newest sorts first)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def title_from(question: str) -> str:
    """A conversation's title from its first question: on one line, at most :data:`MAX_TITLE_CHARS`."""
    title = " ".join(question.split())
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1].rstrip() + "…"


class ConversationStore:
    """The conversations of one data directory (see the module's docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / STORE_FILE

    # -- reading (never creates anything) ------------------------------------------------------
    def list(self, user: str = LOCAL_USER, limit: int = 200) -> list[ConversationSummary]:
        """``user``'s conversations, the most recently updated first (at most ``limit``)."""
        with self._reading() as db:
            if db is None:
                return []
            rows = db.execute(
                "SELECT c.id, c.user, c.title, c.created, c.updated, "
                "(SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) "
                "FROM conversations c WHERE c.user = ? ORDER BY c.updated DESC, c.rowid DESC LIMIT ?",
                (user, limit),
            ).fetchall()
        return [_summary(row) for row in rows]

    def get(self, conversation_id: str, user: str = LOCAL_USER) -> Conversation | None:
        """The conversation with its turns, or None when ``user`` has none by that id."""
        with self._reading() as db:
            if db is None:
                return None
            summary = self._summary(db, conversation_id, user)
            if summary is None:
                return None
            rows = db.execute(
                "SELECT number, question, answer, options, created FROM turns WHERE conversation_id = ? "
                "ORDER BY number",
                (conversation_id,),
            ).fetchall()
        turns = [
            StoredTurn(
                number=n, question=q, answer=Answer.model_validate_json(a), options=_json(o), created=c
            )
            for n, q, a, o, c in rows
        ]
        return Conversation(summary=summary, turns=turns)

    # -- writing -------------------------------------------------------------------------------
    def create(self, user: str = LOCAL_USER, title: str = "") -> ConversationSummary:
        """A new, empty conversation of ``user`` (titled by its first question when ``title`` is empty)."""
        stamp = now()
        summary = ConversationSummary(
            id=secrets.token_hex(8), user=user, title=title_from(title), created=stamp, updated=stamp
        )
        with self._writing() as db:
            db.execute(
                "INSERT INTO conversations (id, user, title, created, updated) VALUES (?, ?, ?, ?, ?)",
                (summary.id, user, summary.title, stamp, stamp),
            )
        return summary

    def append(
        self,
        conversation_id: str,
        question: str,
        answer: Answer,
        user: str = LOCAL_USER,
        options: dict[str, Any] | None = None,
    ) -> StoredTurn:
        """Add a turn at the end of ``user``'s conversation (raises when it has none by that id).

        The first turn of an untitled conversation gives it its title.
        """
        import json

        stamp = now()
        with self._writing() as db:
            if self._summary(db, conversation_id, user) is None:
                raise ConversationStoreError(f"there is no conversation {conversation_id!r}")
            (last,) = db.execute(
                "SELECT COALESCE(MAX(number), 0) FROM turns WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            turn = StoredTurn(
                number=last + 1, question=question, answer=answer, options=options or {}, created=stamp
            )
            db.execute(
                "INSERT INTO turns (conversation_id, number, question, answer, options, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, turn.number, question, answer.model_dump_json(), json.dumps(turn.options), stamp),
            )
            db.execute(
                "UPDATE conversations SET updated = ?, title = CASE WHEN title = '' THEN ? ELSE title END "
                "WHERE id = ?",
                (stamp, title_from(question), conversation_id),
            )
        return turn

    def rename(self, conversation_id: str, title: str, user: str = LOCAL_USER) -> bool:
        """Give ``user``'s conversation a new title; False when there is none by that id (or the title is blank)."""
        if not title.strip():
            return False
        with self._writing() as db:
            cursor = db.execute(
                "UPDATE conversations SET title = ?, updated = ? WHERE id = ? AND user = ?",
                (title_from(title), now(), conversation_id, user),
            )
        return cursor.rowcount == 1

    def delete(self, conversation_id: str, user: str = LOCAL_USER) -> bool:
        """Delete ``user``'s conversation and its turns; False when there is none by that id."""
        if not self.path.is_file():
            return False
        with self._writing() as db:
            if self._summary(db, conversation_id, user) is None:
                return False
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        return True

    # -- connections ---------------------------------------------------------------------------
    def _summary(self, db: sqlite3.Connection, conversation_id: str, user: str) -> ConversationSummary | None:
        row = db.execute(
            "SELECT c.id, c.user, c.title, c.created, c.updated, "
            "(SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) "
            "FROM conversations c WHERE c.id = ? AND c.user = ?",
            (conversation_id, user),
        ).fetchone()
        return None if row is None else _summary(row)

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """A read-only connection, or None when the store was never written."""
        if not self.path.is_file():
            yield None
            return
        try:
            conn = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc
        with closing(conn):
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version < len(MIGRATIONS):
                    # written by an older version: read a migrated copy in memory, so that a read never
                    # writes (the data directory may be read-only); the first write migrates the file
                    with closing(sqlite3.connect(":memory:")) as copy:
                        conn.backup(copy)
                        migrate(copy)
                        yield copy
                    return
                self._check_version(version)
                yield conn
            except sqlite3.DatabaseError as exc:
                if not is_damage(exc):
                    raise
                raise self._damaged(exc) from exc

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A connection in one immediate transaction (committed when the block ends), schema migrated first."""
        what = f"the conversation store {self.path}"
        with writing(what, self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        with closing(conn), writing(what, self.path):
            try:
                conn.execute("BEGIN IMMEDIATE")
                migrate(conn)
                self._check_version(conn.execute("PRAGMA user_version").fetchone()[0])
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError) and is_damage(exc) and not isinstance(
                    exc, sqlite3.OperationalError
                ):
                    raise self._damaged(exc) from exc
                raise

    def _check_version(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise ConversationStoreError(
                f"the conversation store {self.path} was written by a newer version of the assistant "
                f"(schema {version}, this one knows {len(MIGRATIONS)}): upgrade the assistant"
            )

    def _damaged(self, exc: sqlite3.DatabaseError) -> ConversationStoreError:
        return ConversationStoreError(
            f"the conversation store {self.path} cannot be read ({exc}): move it away to start afresh"
        )


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether an SQLite error says the file is not a usable store (corrupt, not a database), rather
    than that the code misused the connection (``ProgrammingError``, ``InterfaceError``: a bug, which
    must not be reported to the user as a damaged store)."""
    return not isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError)


def migrate(db: sqlite3.Connection) -> int:
    """Apply the migrations ``db`` has not had yet, in order; return how many ran."""
    done = db.execute("PRAGMA user_version").fetchone()[0]
    for step in MIGRATIONS[done:]:
        step(db)
    if done < len(MIGRATIONS):
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    return max(0, len(MIGRATIONS) - done)


def _summary(row: tuple[Any, ...]) -> ConversationSummary:
    return ConversationSummary(id=row[0], user=row[1], title=row[2], created=row[3], updated=row[4], turns=row[5])


def _json(text: str) -> dict[str, Any]:
    import json

    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}
