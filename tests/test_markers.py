"""Citation markers as small models write them, normalised to ``[n]``; the one module that reads them."""

from __future__ import annotations

import pytest

from assistant.answer.markers import (
    RENDERED_MARKER,
    extract_markers,
    is_marker_label,
    marker_numbers,
    normalize_markers,
    strip_markers,
)


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("presto [1].", "presto [1]."),
        ("presto【1】.", "presto[1]."),
        ("presto 【4†source】.", "presto [4]."),
        ("presto [1][2].", "presto [1][2]."),
        ("presto [1, 2].", "presto [1][2]."),
        ("presto [1 ; 3].", "presto [1][3]."),
        ("presto [1-3].", "presto [1][2][3]."),
        ("presto [2–3].", "presto [2][3]."),
        ("presto [^1].", "presto [1]."),
        ("presto^1.", "presto[1]."),
        ("presto¹.", "presto[1]."),
        ("presto¹,².", "presto[1][2]."),
        ("presto (source 1).", "presto [1]."),
        ("presto (sources 1 and 3).", "presto [1][3]."),
        ("presto (fonte 2).", "presto [2]."),
        ("presto (fonti 1 e 2).", "presto [1][2]."),
        ("presto (Fonte: passaggio 1).", "presto [1]."),
        ("presto (see passage 2).", "presto [2]."),
        ("presto (cf. document 2).", "presto [2]."),
        ("presto [Passage 2].", "presto [2]."),
        ("presto [passaggio 2].", "presto [2]."),
        ("presto [passaggi 1-2].", "presto [1][2]."),
        ("presto [doc 1].", "presto [1]."),
        ("presto [Documento 3].", "presto [3]."),
        ("presto [Source 1: OpenAI e Hollywood].", "presto [1]."),
        ("tôt (extrait 2).", "tôt [2]."),
    ],
)
def test_marker_variants_become_our_markers(written: str, normalised: str) -> None:
    assert normalize_markers(written) == normalised


@pytest.mark.parametrize(
    "text",
    [
        "in [2024] the film",  # a year in brackets is not a marker
        "a surface of 10 m² and 3 km²",  # units keep their exponents
        "2^10 bytes",
        "options (1) and (2)",  # bare numbers in parentheses are list items
        "qwen2.5:3b and gemma3:4b",
        "see the passage 2 above",  # a reference in prose, not a marker
    ],
)
def test_text_that_only_looks_like_a_marker_is_left_alone(text: str) -> None:
    assert normalize_markers(text) == text
    assert extract_markers(text) == []


def test_extract_markers_reads_every_variant_in_order_of_first_use() -> None:
    text = "a [1] b [1, 2][3] c [4-6] d 【7】 e [^8] f [source 9] g (fonte 10) h¹¹ (in [2024])"
    assert extract_markers(text) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]


def test_out_of_range_numbers_are_kept_for_verification_to_remove() -> None:
    assert normalize_markers("presto [42].") == "presto [42]."
    assert marker_numbers("1-40") == [1, 40]  # too wide to be a range: its two ends
    assert marker_numbers("3-1") == [3, 1]


def test_strip_markers_removes_markers_and_their_space() -> None:
    assert strip_markers("Sora fu presentato il 15 febbraio [1][2].") == "Sora fu presentato il 15 febbraio."
    assert strip_markers("Sora fu presentato (fonte 1) il 15 febbraio【2】.") == "Sora fu presentato il 15 febbraio."
    assert strip_markers("a    [1] b") == "a b"


def test_link_labels_and_rendered_markers() -> None:
    assert is_marker_label("1") and is_marker_label("1, 2") and is_marker_label("Passage 2")
    assert not is_marker_label("the report") and not is_marker_label("2024")
    assert [m.group(1) for m in RENDERED_MARKER.finditer("a [1] b [2, 3] c [x]")] == ["1", "2, 3"]
