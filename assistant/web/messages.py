"""Errors as one line a person can act on, read from the one error table (:mod:`assistant.errors`)."""

from __future__ import annotations

import logging

from assistant.errors import error_code

log = logging.getLogger("assistant.web")

MAX_ERROR_CHARS = 600
EMBEDDED_HINT = "In this page: choose “Embedded model (offline)” under Model."


def readable_error(exc: BaseException) -> str:
    """One line for ``exc``: its own message for the assistant's errors, a short note for a bug.

    An exception that is not in the error table is a bug of ours: it is logged with its traceback
    (the server log keeps it) and never shown as one of the documented errors.
    """
    code = error_code(exc)
    if code is None:
        log.error("unexpected error in the web UI", exc_info=exc)
        message = f"unexpected error ({type(exc).__name__}: {exc}); the details are in the server log"
    elif code == "model_unreachable":
        message = f"{exc}. {EMBEDDED_HINT}"
    else:
        message = str(exc)
    return " ".join(message.split())[:MAX_ERROR_CHARS]
