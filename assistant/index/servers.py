"""The servers of the server mode: what `assistant doctor` reports of them, and a server that went away.

The checks are read-only: nothing is created on either server (an empty database is reported, not
migrated).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from assistant.config import Settings
from assistant.errors import AssistantError, StoreUnavailableError

Status = Literal["ok", "warn", "fail"]


def chroma_server_check(settings: Settings) -> tuple[str, Status, str]:
    """Whether the Chroma server answers, and the version it reports."""
    import httpx

    chroma = settings.chroma
    base = f"{'https' if chroma.ssl else 'http'}://{chroma.host}:{chroma.port}"
    try:
        reply = httpx.get(f"{base}/api/v2/version", timeout=settings.catalog.connect_timeout)
        reply.raise_for_status()
    except httpx.HTTPError as exc:
        return "chroma server", "fail", f"cannot reach the Chroma server at {base}: {exc}"
    return "chroma server", "ok", f"reachable at {base}, API version {reply.json()}, collection {chroma.collection}"


def postgres_check(settings: Settings, url: str) -> tuple[str, Status, str]:
    """Whether the PostgreSQL server answers, its version, the catalog's schema version and revision."""
    from assistant.index.migrations import POSTGRES_MIGRATIONS, postgres_version
    from assistant.index.pg_catalog import address, connect, unreachable

    where = address(url)
    try:
        conn = connect(url, settings.catalog.connect_timeout)
    except AssistantError as exc:
        return "postgresql", "fail", str(exc)
    try:
        server = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]
        schema = postgres_version(conn)
        rows = dict(conn.execute("SELECT key, value FROM manifest").fetchall()) if schema else {}
    except Exception as exc:  # psycopg's errors: the server went away while asked
        return "postgresql", "fail", str(unreachable(url, exc))
    finally:
        conn.close()
    detail = f"reachable at {where}, PostgreSQL {server}, schema version {schema} of {len(POSTGRES_MIGRATIONS)}"
    if schema > len(POSTGRES_MIGRATIONS):
        return "postgresql", "fail", f"{detail}: written by a newer assistant, upgrade this one"
    if "catalog_id" not in rows:
        return "postgresql", "warn", f"{detail}, no catalog yet: run `assistant ingest PATH`"
    return "postgresql", "ok", f"{detail}, catalog {rows['catalog_id']} at revision {rows.get('revision', '0')}"


@contextmanager
def chroma_reachable(location: str) -> Iterator[None]:
    """Report a Chroma server that cannot be reached, or went away mid-call, as one line (exit 3).

    httpx's transport errors are recognised by name, so that the embedded mode never imports httpx.
    """
    try:
        yield
    except Exception as exc:
        transport = any(c.__name__ == "TransportError" and c.__module__.startswith("httpx") for c in type(exc).__mro__)
        if transport or isinstance(exc, ConnectionError):
            raise StoreUnavailableError(f"cannot reach the Chroma server at {location}: {exc}") from exc
        raise
