"""Fixtures of corpus passages for the citation tests (load with ``pytest_plugins``)."""

from __future__ import annotations

import pytest

from assistant.models import Hit
from fakes.passages import FR_DOC, IT_DOC, paragraph_hit


@pytest.fixture
def lightcap() -> Hit:
    return paragraph_hit(IT_DOC, "Brad Lightcap")


@pytest.fixture
def dates() -> Hit:
    return paragraph_hit(IT_DOC, "15 febbraio 2024")


@pytest.fixture
def unions() -> Hit:
    return paragraph_hit(IT_DOC, "sindacati cinematografici")


@pytest.fixture
def security() -> Hit:
    return paragraph_hit(FR_DOC, "risques de sécurité", language="fr")
