"""py3langid's model cut to the languages the assistant tells apart, kept unpacked in the user cache.

py3langid ships its model as an LZMA-compressed ``.npz`` (68 MB unpacked): unpacking it took
0.3-0.7 s in every new process, more than the rest of a search. The model restricted to a few
languages (the byte automaton unchanged, the per-language tables cut to their columns, exactly what
``LanguageIdentifier.set_languages`` keeps) is written once to ``<user cache>/langid/`` as a plain
``.npz``, named after py3langid's model file (path, size and time) and the languages, and
loaded from there in a few tens of milliseconds. It gives the same probabilities as the original;
when the cache cannot be written or read the original is loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_TYPECODES = {2: "H", 4: "I", 8: "Q"}


def _as_array(values: np.ndarray) -> array[int]:
    """A numpy vector of unsigned integers as the stdlib array py3langid's automaton walks."""
    found = array(_TYPECODES[values.dtype.itemsize])
    found.frombytes(np.ascontiguousarray(values).data.cast("B"))  # one copy, not two
    return found


def _as_numpy(values: array[int]) -> np.ndarray:
    return np.frombuffer(values, dtype=f"u{values.itemsize}")


def cached_model_path(cache_dir: Path, languages: Sequence[str]) -> Path:
    """Where the model restricted to ``languages`` is kept for the installed py3langid."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    model = MODEL_DIR / MODEL_FILE
    source = model.stat()  # a new py3langid installs a new file (no package metadata read: it costs a scan)
    key = f"{model}\0{source.st_size}\0{source.st_mtime_ns}\0{','.join(languages)}"
    return cache_dir / "langid" / f"model-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def load_identifier(languages: Sequence[str], cache_dir: Path | None) -> Any:
    """py3langid's ``LanguageIdentifier`` (normalised probabilities) restricted to ``languages``.

    Read from the unpacked copy in ``cache_dir`` when there is one; otherwise built from py3langid's
    own model and, when ``cache_dir`` can be written, saved there for the next process.
    """
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    path = cached_model_path(cache_dir, languages) if cache_dir is not None else None
    if path is not None:
        unreadable = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)  # missing or damaged
        with contextlib.suppress(*unreadable), np.load(path, allow_pickle=False) as data:
            return LanguageIdentifier(
                data["ptc"],
                data["pc"],
                data["classes"].tolist(),
                _as_array(data["nextmove"]),
                data["out_feat"].tolist(),
                norm_probs=True,
                tk_row=_as_array(data["nextmove_row"]),
            )
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(languages))
    if path is not None:
        with contextlib.suppress(OSError):  # a read-only or full cache: the next process unpacks it again
            _save(identifier, path)
    return identifier


def _save(identifier: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as handle:
            np.savez(
                handle,
                ptc=np.ascontiguousarray(identifier.nb_ptc),
                pc=np.asarray(identifier.nb_pc),
                classes=np.asarray(identifier.nb_classes),
                nextmove=_as_numpy(identifier.tk_nextmove),
                nextmove_row=_as_numpy(identifier.tk_row),
                out_feat=np.asarray(identifier.tk_output, dtype=np.int32),
            )
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
