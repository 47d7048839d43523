"""Exports: Markdown with footnotes, the JSON evidence bundle, `ask --export` and `assistant verify`.

The bundle test asks a real question over a real index of the shipped corpus, re-verifies every
quote of the exported bundle against the files, then edits, rewrites and deletes the cited file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli.app import Exit, app
from assistant.config import load_settings
from assistant.conversations.export import (
    BUNDLE_FORMAT,
    answer_markdown,
    conversation_markdown,
    export_format,
    read_bundle,
)
from assistant.conversations.store import StoredTurn
from assistant.errors import BundleError, UsageError
from assistant.ingest.discovery import FileRef
from assistant.ingest.readers import read_document
from assistant.models import Answer, AnswerSentence, Locator, Source

runner = CliRunner()
QUESTION = "Chi ha detto che Sora è stato lanciato troppo presto?"


def two_source_answer() -> Answer:
    sources = [
        Source(number=1, doc_id="docs/a.md", title="A *title*", quote="first [quote] with <b>markup</b>",
               start=5, end=37, locator=Locator(heading=["Procédure", "Coût"], label="§ Procédure › Coût")),
        Source(number=2, doc_id="b.pdf", title="B", quote="second quote", start=100, end=112,
               locator=Locator(page=3, label="p. 3")),
    ]
    text = "It costs ten euros [1, 2]. It is paid at once [2]. A stray [7] stays as it is."
    return Answer(question="How much?", text=text, language="en", sources=sources,
                  sentences=[AnswerSentence(text=text, citations=[1, 2])], mode="extractive", model="extractive")


def test_markdown_has_a_footnote_per_source_with_quote_document_and_locator() -> None:
    markdown = answer_markdown("How *much*?", two_source_answer())
    assert markdown.startswith("## How \\*much\\*?")
    assert "It costs ten euros [^1][^2]. It is paid at once [^2]. A stray [7] stays as it is." in markdown
    lines = markdown.splitlines()
    first = next(line for line in lines if line.startswith("[^1]: "))
    assert "“first \\[quote\\] with \\<b\\>markup\\</b\\>”" in first, "document text is never markup"
    assert "`docs/a.md`" in first and "§ Procédure › Coût" in first and "chars 5–37" in first
    second = next(line for line in lines if line.startswith("[^2]: "))
    assert "“second quote”" in second and "p. 3" in second and "`b.pdf`" in second
    turns = [StoredTurn(number=n, question=f"q{n}", answer=two_source_answer()) for n in (1, 2)]
    whole = conversation_markdown("Costs", turns)
    assert whole.startswith("# Costs")
    assert "[^2-1]: " in whole and "[^1-2]: " in whole, "footnotes are numbered per turn in a conversation"
    assert whole.count("[^1-1]: ") == 1


def test_export_formats_come_from_the_extension() -> None:
    assert export_format(Path("a.md")) == "markdown" and export_format(Path("A.JSON")) == "json"
    with pytest.raises(UsageError, match=r"\.md or \.json"):
        export_format(Path("a.txt"))


def test_a_file_that_is_not_a_bundle_is_one_clear_error(tmp_path: Path) -> None:
    cases = {"not-json.json": "{", "other.json": '{"format": "x"}', "list.json": "[1]",
             "version.json": json.dumps({"format": BUNDLE_FORMAT, "version": 99, "answers": []}),
             "broken.json": json.dumps({"format": BUNDLE_FORMAT, "version": 1, "answers": [{"question": 1}]})}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(BundleError):
            read_bundle(tmp_path / name)
        result = runner.invoke(app, ["verify", str(tmp_path / name)])
        assert result.exit_code == Exit.USAGE, (name, result.output)
        assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
    missing = runner.invoke(app, ["verify", str(tmp_path / "nope.json")])
    assert missing.exit_code == Exit.USAGE and "no such bundle" in missing.output


def test_ask_export_with_an_unknown_extension_fails_before_asking(tmp_path: Path, clean_env: Path) -> None:
    result = runner.invoke(app, ["ask", "anything", "--export", str(tmp_path / "answer.txt")])
    assert result.exit_code == Exit.USAGE and ".md or .json" in result.output
    assert not clean_env.exists(), "nothing was opened or created"


def current_text(path: Path, doc_id: str) -> str:
    settings = load_settings()
    return read_document(FileRef(path.parent, path, doc_id), int(settings.ingest.max_file_mb * 2**20)).text


def test_an_exported_bundle_re_verifies_and_edits_are_reported(corpus: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus), "--quiet"]).exit_code == 0
    bundle_path, markdown_path = tmp_path / "answer.json", tmp_path / "answer.md"
    asked = runner.invoke(app, ["ask", QUESTION, "-k", "4", "--in", "000_*", "--export", str(bundle_path)])
    assert asked.exit_code == 0, asked.output
    assert runner.invoke(app, ["ask", QUESTION, "--export", str(markdown_path)]).exit_code == 0

    bundle = read_bundle(bundle_path)
    (entry,) = bundle.answers
    assert entry.question == QUESTION and "Lightcap" in entry.answer and entry.quotes
    assert entry.mode == "extractive" and entry.backend == "embedded"
    assert entry.options == {"k": 4, "scope": {"globs": ["000_*"], "doc_ids": [], "languages": []}}
    assert all(q.doc_id.startswith("000_") for q in entry.quotes), "a scoped answer cites only its scope"
    assert any(s.citations for s in entry.sentences)
    assert set(bundle.settings) >= {"retrieval", "answer", "chunking", "llm", "embedding"}
    assert bundle.settings["retrieval"]["top_k"] == 5
    assert bundle.versions["packages"]["local-doc-assistant"] and bundle.versions["index"]["embedding_model"]
    for quote in entry.quotes:  # every quote is where the bundle says, in the file's text as ingest reads it
        assert quote.sha256 and len(quote.sha256) == 64 and quote.locator is not None
        assert current_text(Path(quote.path), quote.doc_id)[quote.start : quote.end] == quote.quote

    markdown = markdown_path.read_text()
    assert markdown.startswith(f"# {QUESTION}") and "[^1]" in markdown
    assert f"[^1]: “{entry.quotes[0].quote[:20]}" in markdown.replace("\\", "")

    verified = runner.invoke(app, ["verify", str(bundle_path)])
    assert verified.exit_code == 0, verified.output
    assert "every quote holds" in verified.output and verified.output.count("ok ") == len(entry.quotes)

    cited = Path(entry.quotes[0].path)
    original = cited.read_text(encoding="utf-8")
    cited.write_text("Una riga nuova in cima.\n" + original, encoding="utf-8")  # the quote moves
    moved = runner.invoke(app, ["verify", str(bundle_path), "--json"])
    assert moved.exit_code == Exit.EVIDENCE_CHANGED == 11
    check = json.loads(moved.stdout)["quotes"][0]
    assert check["state"] == "moved" and check["now_start"] == check["start"] + len("Una riga nuova in cima.\n")
    assert check["sha256_matches"] is False

    cited.write_text(original.replace(entry.quotes[0].quote, "testo riscritto"), encoding="utf-8")
    changed = runner.invoke(app, ["verify", str(bundle_path)])
    assert changed.exit_code == 11 and "CHANGED" in changed.output and "no longer in the file" in changed.output

    cited.write_text(original, encoding="utf-8")
    assert runner.invoke(app, ["verify", str(bundle_path)]).exit_code == 0, "the original file holds again"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / entry.quotes[0].doc_id).write_text(original, encoding="utf-8")
    cited.unlink()
    assert runner.invoke(app, ["verify", str(bundle_path), "--root", str(elsewhere)]).exit_code == 0
    missing = runner.invoke(app, ["verify", str(bundle_path)])
    assert missing.exit_code == 11 and "MISSING" in missing.output


def test_verify_creates_nothing_and_reports_a_file_that_is_gone(tmp_path: Path, clean_env: Path) -> None:
    quote = {"number": 1, "doc_id": "gone.txt", "title": "Gone", "path": str(tmp_path / "gone.txt"),
             "quote": "a quote", "start": 0, "end": 7}
    bundle = {"format": BUNDLE_FORMAT, "version": 1,
              "answers": [{"question": "q", "answer": "a [1]", "language": "en", "quotes": [quote]}]}
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    result = runner.invoke(app, ["verify", str(tmp_path / "b.json"), "--json"])
    assert result.exit_code == Exit.EVIDENCE_CHANGED, result.output
    (check,) = json.loads(result.stdout)["quotes"]
    assert check["state"] == "missing" and "no file at" in check["detail"]
    (tmp_path / "gone.txt").write_text("here is a quote, not at the start\n")
    moved = json.loads(runner.invoke(app, ["verify", str(tmp_path / "b.json"), "--json"]).stdout)["quotes"][0]
    assert moved["state"] == "moved" and (moved["now_start"], moved["now_end"]) == (8, 15)
    assert not moved["sha256_matches"], "no sha256 was recorded: nothing to match"
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({**bundle, "answers": []}))
    none = runner.invoke(app, ["verify", str(empty)])
    assert none.exit_code == 0 and "0 quotes" in none.output
    assert not clean_env.exists(), "verify is a read-only command: no data directory is created"


def test_a_document_id_never_leads_out_of_the_root(tmp_path: Path) -> None:
    root, secret = tmp_path / "root", tmp_path / "secret.txt"
    root.mkdir()
    secret.write_text("a quote outside the root\n")
    quote = {"number": 1, "doc_id": "../secret.txt", "title": "x", "quote": "a quote", "start": 0, "end": 7}
    bundle = {"format": BUNDLE_FORMAT, "version": 1,
              "answers": [{"question": "q", "answer": "a [1]", "language": "en", "quotes": [quote]}]}
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    result = runner.invoke(app, ["verify", str(tmp_path / "b.json"), "--root", str(root), "--json"])
    assert result.exit_code == Exit.EVIDENCE_CHANGED
    (check,) = json.loads(result.stdout)["quotes"]
    assert check["state"] == "missing" and check["path"] == "" and "not a file under" in check["detail"]
