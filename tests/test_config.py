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
