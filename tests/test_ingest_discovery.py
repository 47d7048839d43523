"""Finding the files of a corpus: order, hidden files, symbolic links, names that cannot be shown as they are."""

import os
from pathlib import Path

import pytest

from assistant.ingest.discovery import escape_name, name_problem
from assistant.ingest.readers import SUPPORTED_EXTENSIONS, FileRef, SkippedFile, discover_files, read_document

LIMIT = 1024 * 1024
ITALIAN = "Il modello Sora è stato presentato da OpenAI il 15 febbraio 2024. Gli studi di Hollywood lo hanno provato."


def test_discover_is_recursive_sorted_and_skips_hidden_and_other_types(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ["b/z.txt", "b/a.MD", "a.txt", "page.HTML", ".secret.txt", ".hidden/x.txt", "questions.jsonl"]:
        (tmp_path / name).write_text("text", encoding="utf-8")

    refs, skipped = discover_files([tmp_path], SUPPORTED_EXTENSIONS)

    assert [ref.doc_id for ref in refs] == ["a.txt", "b/a.MD", "b/z.txt", "page.HTML"]
    assert all(ref.root == tmp_path for ref in refs)
    assert refs[1].path == tmp_path / "b" / "a.MD"
    assert skipped == []


def test_discover_accepts_extensions_with_or_without_dot(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    (tmp_path / "b.md").write_text("x", encoding="utf-8")
    refs, _ = discover_files([tmp_path], ["TXT"])
    assert [ref.doc_id for ref in refs] == ["a.txt"]


def test_discover_single_file_uses_its_folder_as_root(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("x", encoding="utf-8")
    refs, skipped = discover_files([path], SUPPORTED_EXTENSIONS)
    assert refs == [FileRef(tmp_path, path, "notes.txt")]
    assert skipped == []


def test_discover_reports_an_explicit_file_of_unknown_type(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b", encoding="utf-8")
    refs, skipped = discover_files([path], SUPPORTED_EXTENSIONS)
    assert refs == []
    assert skipped[0].path == path and ".csv" in skipped[0].reason


def test_discover_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        discover_files([tmp_path / "nowhere"], SUPPORTED_EXTENSIONS)


def test_discover_survives_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "doc.txt").write_text("x", encoding="utf-8")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "sub" / "self").symlink_to(tmp_path / "sub", target_is_directory=True)

    refs, skipped = discover_files([tmp_path], SUPPORTED_EXTENSIONS)

    assert [ref.doc_id for ref in refs] == ["sub/doc.txt"]
    assert {(s.path.name, s.reason) for s in skipped} == {("loop", "symlink loop"), ("self", "symlink loop")}


def _corpus_with_links(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.txt").write_text("x", encoding="utf-8")
    corpus = tmp_path / "corpus"
    (corpus / "inner").mkdir(parents=True)
    (corpus / "inner" / "near.txt").write_text("y", encoding="utf-8")
    (corpus / "linked").symlink_to(outside, target_is_directory=True)
    (corpus / "alias.txt").symlink_to(outside / "far.txt")
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    (corpus / "inner-link").symlink_to(corpus / "inner", target_is_directory=True)
    (corpus / "near-alias.txt").symlink_to(corpus / "inner" / "near.txt")
    (corpus / "broken.txt").symlink_to(corpus / "gone.txt")
    return corpus


def test_symlinks_are_followed_only_inside_the_folder(tmp_path: Path) -> None:
    corpus = _corpus_with_links(tmp_path)

    refs, skipped = discover_files([corpus], SUPPORTED_EXTENSIONS)

    assert [ref.doc_id for ref in refs] == ["inner/near.txt"]  # the inner links lead to it: listed once
    reasons = {s.path.name: s.reason for s in skipped}
    for name in ("linked", "alias.txt", "passwd.txt"):
        assert reasons[name].startswith("symbolic link to a "), (name, reasons)
        assert "outside" in reasons[name] and "follow_external_symlinks" in reasons[name]
    assert reasons["broken.txt"] == "broken link or not a regular file"
    assert {"inner-link", "near-alias.txt"} <= set(reasons)  # the same folder and file again


def test_external_symlinks_are_followed_when_allowed(tmp_path: Path) -> None:
    corpus = _corpus_with_links(tmp_path)

    refs, skipped = discover_files([corpus], SUPPORTED_EXTENSIONS, follow_external_symlinks=True)

    assert [ref.doc_id for ref in refs] == ["alias.txt", "inner/near.txt", "passwd.txt"]
    assert SkippedFile(corpus / "linked" / "far.txt", "same file as alias.txt") in skipped


def test_a_folder_given_through_a_symlink_is_its_own_inside(tmp_path: Path) -> None:
    corpus = _corpus_with_links(tmp_path)
    (tmp_path / "shortcut").symlink_to(corpus, target_is_directory=True)
    refs, _ = discover_files([tmp_path / "shortcut"], SUPPORTED_EXTENSIONS)
    assert [ref.doc_id for ref in refs] == ["inner/near.txt"]


def test_an_explicit_file_is_read_wherever_its_link_leads(tmp_path: Path) -> None:
    corpus = _corpus_with_links(tmp_path)
    refs, skipped = discover_files([corpus / "alias.txt"], SUPPORTED_EXTENSIONS)
    assert [ref.doc_id for ref in refs] == ["alias.txt"] and skipped == []


def test_discover_and_read_names_with_spaces_and_accents(tmp_path: Path) -> None:
    folder = tmp_path / "articoli città"
    folder.mkdir()
    path = folder / "perché è così.txt"
    path.write_text(ITALIAN, encoding="utf-8")

    refs, _ = discover_files([tmp_path], SUPPORTED_EXTENSIONS)

    assert [ref.doc_id for ref in refs] == ["articoli città/perché è così.txt"]
    document = read_document(refs[0], LIMIT)
    assert document.text == ITALIAN
    assert document.info.doc_id == "articoli città/perché è così.txt"
    assert document.info.path == str(path)


def test_names_with_control_characters_are_refused_and_shown_escaped(tmp_path: Path) -> None:
    (tmp_path / "fine.txt").write_text("x", encoding="utf-8")
    (tmp_path / "evil\nadded 99, updated 0.txt").write_text("x", encoding="utf-8")
    (tmp_path / "bell\x07.txt").write_text("x", encoding="utf-8")
    (tmp_path / os.fsdecode(b"caf\xe8.txt")).write_text("x", encoding="utf-8")

    refs, skipped = discover_files([tmp_path], SUPPORTED_EXTENSIONS)

    assert [ref.doc_id for ref in refs] == ["fine.txt"]
    shown = sorted((escape_name(s.path.name), s.reason) for s in skipped)
    assert shown == [
        ("bell\\x07.txt", "the file name holds control characters (shown escaped): rename it"),
        ("caf\\xe8.txt", "the file name is not valid UTF-8: rename it"),
        ("evil\\nadded 99, updated 0.txt", "the file name holds control characters (shown escaped): rename it"),
    ]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("plain name.txt", "plain name.txt"),
        ("two\nlines.txt", "two\\nlines.txt"),
        ("tab\tand\rreturn", "tab\\tand\\rreturn"),
        ("\x1b[2Jclear.txt", "\\x1b[2Jclear.txt"),
        ("\u202etxt.exe", "\\u202etxt.exe"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        (Path(os.fsdecode(b"/tmp/caf\xe8.txt")), "/tmp/caf\\xe8.txt"),
        ("città.txt", "città.txt"),
    ],
)
def test_escape_name_gives_one_printable_line(name: str | Path, shown: str) -> None:
    assert escape_name(name) == shown
    assert escape_name(escape_name(name)) == shown
    assert "\n" not in escape_name(name) and name_problem(escape_name(name)) is None
