"""The scaled corpora of the benchmark, built deterministically, and the questions it asks.

A corpus starts with the shipped articles (Italian, French) and the Python language reference that
Python ships in ``pydoc_data`` (English), then documents re-mixed from their sentences by a seeded
generator, until it holds the wanted number of chunks. A smaller corpus is a prefix of a larger one.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.config import Settings

GENERATOR_VERSION = 2
LANGUAGE_WEIGHTS = {"en": 0.6, "it": 0.25, "fr": 0.15}
"""Share of each language among the re-mixed documents."""

# English questions about the Python reference, so that BM25 and dense search also see English queries.
PYTHON_QUESTIONS = (
    "How does the with statement call __enter__ and __exit__?",
    "What does a yield expression do inside a generator function?",
    "When are default parameter values evaluated?",
    "What is the difference between the is operator and ==?",
    "How do formatted string literals convert their replacement fields?",
    "What does the nonlocal statement do?",
    "How are names resolved in nested function scopes?",
    "What happens when an exception is raised inside a finally clause?",
    "How are slice bounds computed for sequences?",
    "What does the del statement do to a name?",
    "How does the import statement find and load a module?",
    "What is the precedence of the not operator?",
    "How is an augmented assignment like x += 1 evaluated?",
    "Which string methods split text into words?",
    "How are two dictionaries compared for equality?",
    "When is __getattr__ called on an object?",
    "How does await suspend the execution of a coroutine?",
    "Can integer literals contain underscores?",
    "Are assert statements removed when Python runs with -O?",
    "What kind of expression can the body of a lambda be?",
)

Log = Callable[[str], None]


@dataclass(frozen=True)
class SourceText:
    """A text the scaled corpora are made from."""

    name: str
    language: str
    text: str


class CorpusInfo(BaseModel):
    """A scaled corpus on disk; ``files`` lists (file name, chunks) in generation order."""

    generator: int
    seed: int
    target_chunks: int
    chunk_size: int
    chunk_overlap: int
    sources_digest: str
    chunks: int = 0
    files: list[tuple[str, int]] = Field(default_factory=list)


def source_texts(corpus_dir: Path) -> list[SourceText]:
    """The shipped articles, then the Python language reference topics, in a fixed order."""
    from pydoc_data.topics import topics

    from assistant.text.language import detect_language

    texts = []
    for path in sorted(corpus_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        texts.append(SourceText(f"corpus-{path.stem}", detect_language(text), text))
    texts.extend(SourceText(f"pydoc-{key}", "en", topics[key]) for key in sorted(topics))
    return texts


def sentence_pools(sources: Sequence[SourceText]) -> dict[str, list[list[str]]]:
    """Per language, the sentence lists (of at least three words) of the sources that have four or more."""
    from assistant.text.sentences import split_sentences

    pools: dict[str, list[list[str]]] = {}
    for source in sources:
        sentences = [s.text for s in split_sentences(source.text) if len(s.text.split()) >= 3]
        if len(sentences) >= 4 and source.language in LANGUAGE_WEIGHTS:
            pools.setdefault(source.language, []).append(sentences)
    return pools


def remix_document(number: int, pools: dict[str, list[list[str]]], seed: int) -> tuple[str, str]:
    """(language, text) of the re-mixed document ``number``: paragraphs of consecutive sentences.

    It depends only on ``seed`` and ``number``, so a smaller corpus is a prefix of a larger one.
    """
    rng = random.Random(f"{seed}:{number}")
    languages = sorted(pools)
    language = rng.choices(languages, weights=[LANGUAGE_WEIGHTS[lang] for lang in languages])[0]
    paragraphs = []
    for _ in range(rng.randint(4, 10)):
        source = rng.choice(pools[language])
        start = rng.randrange(len(source))
        paragraphs.append(" ".join(_cut(sentence, rng) for sentence in source[start : start + rng.randint(2, 6)]))
    title = f"{number}. {paragraphs[0].split('.')[0][:80]}"
    return language, title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def _cut(sentence: str, rng: random.Random) -> str:
    """The sentence, or a prefix of at least 60% of its words (so that re-mixed chunks rarely repeat)."""
    words = sentence.split(" ")
    if len(words) < 8:
        return sentence
    return " ".join(words[: rng.randint(int(len(words) * 0.6), len(words))])


def _documents(sources: Sequence[SourceText], seed: int) -> Iterator[tuple[str, str]]:
    """(file name, text) of the corpus documents in order: the sources as they are, then re-mixes."""
    for number, source in enumerate(sources):
        yield f"{number:06d}-{source.name}.txt", source.text
    pools = sentence_pools(sources)
    number = len(sources)
    while True:
        language, text = remix_document(number, pools, seed)
        yield f"{number:06d}-remix-{language}.txt", text
        number += 1


def chunk_file(path: Path, name: str, settings: Settings) -> list[str]:
    """The chunk texts ingestion makes of one file (the same reader and chunker)."""
    from assistant.ingest.chunking import chunk_document
    from assistant.ingest.readers import FileRef, read_document

    loaded = read_document(FileRef(path.parent, path, name), max_bytes=1 << 30)
    return [c.text for c in chunk_document(loaded, settings.chunking.chunk_size, settings.chunking.chunk_overlap)]


def build_corpora(
    sizes: Sequence[int], root: Path, settings: Settings, corpus_dir: Path, seed: int, log: Log | None = None
) -> dict[int, Path]:
    """Write one corpus folder per size under ``root`` (reused when already built the same way)."""
    sources = source_texts(corpus_dir)
    digest = hashlib.sha256("\0".join(s.text for s in sources).encode()).hexdigest()[:16]
    folders = {size: root / f"corpus-{size}" for size in sizes}
    wanted = {
        size: CorpusInfo(
            generator=GENERATOR_VERSION,
            seed=seed,
            target_chunks=size,
            chunk_size=settings.chunking.chunk_size,
            chunk_overlap=settings.chunking.chunk_overlap,
            sources_digest=digest,
        )
        for size in sizes
    }
    todo = [size for size in sizes if not _corpus_is_current(folders[size], wanted[size])]
    for size in todo:
        shutil.rmtree(folders[size], ignore_errors=True)
        folders[size].mkdir(parents=True)
    if todo and log:
        log(f"building corpora of {', '.join(map(str, todo))} chunks")
    for name, text in _documents(sources, seed):
        open_sizes = [size for size in todo if wanted[size].chunks < size]
        if not open_sizes:
            break
        for size in open_sizes:
            (folders[size] / name).write_text(text, encoding="utf-8")
        chunks = len(chunk_file(folders[open_sizes[0]] / name, name, settings))
        for size in open_sizes:
            wanted[size].files.append((name, chunks))
            wanted[size].chunks += chunks
    for size in todo:
        (folders[size] / "corpus.json").write_text(wanted[size].model_dump_json(), encoding="utf-8")
    return folders


def _corpus_is_current(folder: Path, wanted: CorpusInfo) -> bool:
    manifest = folder / "corpus.json"
    if not manifest.is_file():
        return False
    found = CorpusInfo.model_validate_json(manifest.read_text(encoding="utf-8"))
    return found.model_dump(exclude={"chunks", "files"}) == wanted.model_dump(exclude={"chunks", "files"})


def corpus_info(folder: Path) -> CorpusInfo:
    """The manifest of a corpus written by :func:`build_corpora`."""
    return CorpusInfo.model_validate_json((folder / "corpus.json").read_text(encoding="utf-8"))


def leading_chunks(folder: Path, limit: int, settings: Settings) -> tuple[list[str], list[str]]:
    """(file names, chunk texts) of the first files of a corpus holding at least ``limit`` chunks."""
    names: list[str] = []
    texts: list[str] = []
    for name, _ in corpus_info(folder).files:
        if len(texts) >= limit:
            break
        names.append(name)
        texts.extend(chunk_file(folder / name, name, settings))
    return names, texts


def bench_queries(questions_file: Path) -> list[str]:
    """The shipped question set (all languages, answerable or not) and the English Python questions."""
    questions = []
    if questions_file.is_file():
        for line in questions_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(str(json.loads(line)["question"]))
    return [*questions, *PYTHON_QUESTIONS]


def ask_questions(questions_file: Path) -> list[str]:
    """Two answerable questions of the shipped set (or two Python questions): the cold and the warm ask."""
    answerable = []
    if questions_file.is_file():
        for line in questions_file.read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else {}
            if item.get("answerable"):
                answerable.append(str(item["question"]))
    return answerable[:2] or list(PYTHON_QUESTIONS[:2])
