"""The benchmark: deterministic corpora, synthetic vectors, the llama-index adapter, a tiny end-to-end run."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.bench import baseline, corpora, report
from assistant.bench.command import parse_sizes
from assistant.bench.results import BenchError, Latency
from assistant.bench.run import BenchOptions, run_bench
from assistant.bench.vectors import ScaledEmbedder
from assistant.config import load_settings
from assistant.index.embedding import CachedEmbedder
from tests.conftest import CORPUS


class WordLengthEmbedder:
    """A small meaningful embedder: a text is the histogram of its word lengths (normalised)."""

    name = "test/word-lengths"
    dim = 16

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in text.split():
            vector[min(len(word), self.dim - 1)] += 1
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


def test_sizes_accept_thousands() -> None:
    assert parse_sizes("1000, 10k,100K") == [1000, 10_000, 100_000]
    with pytest.raises(ValueError):
        parse_sizes("0")
    with pytest.raises(ValueError):
        parse_sizes(",")


def test_remixed_documents_depend_only_on_seed_and_number() -> None:
    pools = corpora.sentence_pools(corpora.source_texts(CORPUS))
    assert set(pools) == {"en", "it", "fr"}
    first = [corpora.remix_document(n, pools, seed=7) for n in range(100, 130)]
    assert first == [corpora.remix_document(n, pools, seed=7) for n in range(100, 130)]
    assert first != [corpora.remix_document(n, pools, seed=8) for n in range(100, 130)]
    assert set(Counter(language for language, _ in first)) == {"en", "it", "fr"}
    assert len({text for _, text in first}) == len(first)


def test_corpora_are_deterministic_prefixes(tmp_path: Path) -> None:
    settings = load_settings()
    a = corpora.build_corpora([150, 300], tmp_path / "a", settings, CORPUS, seed=7)
    b = corpora.build_corpora([300], tmp_path / "b", settings, CORPUS, seed=7)
    small, large, again = corpora.corpus_info(a[150]), corpora.corpus_info(a[300]), corpora.corpus_info(b[300])
    assert small.chunks >= 150 and large.chunks >= 300
    assert large.files[: len(small.files)] == small.files  # a smaller corpus is a prefix of a larger one
    assert again.files == large.files
    for name, _ in large.files:
        assert (a[300] / name).read_bytes() == (b[300] / name).read_bytes()
    names, texts = corpora.leading_chunks(a[300], 40, settings)
    assert len(texts) >= 40 and names == [name for name, _ in large.files[: len(names)]]
    modified = (a[300] / "corpus.json").stat().st_mtime_ns
    corpora.build_corpora([300], tmp_path / "a", settings, CORPUS, seed=7)  # current: reused, not rewritten
    assert (a[300] / "corpus.json").stat().st_mtime_ns == modified


def test_scaled_embedder_keeps_real_vectors_and_perturbs_the_rest(tmp_path: Path) -> None:
    inner = WordLengthEmbedder()
    real = CachedEmbedder(inner, tmp_path / "cache.sqlite")
    real_texts = ["the cat sat on the mat", "a much longer sentence with several words", "short one"]
    scaled = ScaledEmbedder(real, real_texts, noise=0.5)
    others = ["an unseen text of the corpus", "another unseen passage"]
    vectors = scaled.embed_passages([real_texts[1], *others])
    assert np.allclose(vectors[0], inner.embed_passages([real_texts[1]])[0])
    assert scaled.synthetic_count == 2
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[1:], scaled.embed_passages(others))  # deterministic
    pool = inner.embed_passages(real_texts)
    assert (pool @ vectors[1:].T).max(axis=0).min() > 0.8  # each lies near one real vector
    assert real.embedded_count == len(real_texts)  # the model saw only the real texts
    with pytest.raises(BenchError):
        ScaledEmbedder(real, [])


def test_llama_index_adapter_serves_a_vector_store_index() -> None:
    from llama_index.core import Document, VectorStoreIndex

    adapter = baseline.llama_index_embedding(WordLengthEmbedder(), batch_size=2)
    docs = [Document(text="tiny cat"), Document(text="extraordinarily sophisticated conversations")]
    index = VectorStoreIndex.from_documents(docs, embed_model=adapter)
    assert len(adapter.texts) == 2
    # shares a 13-letter word with the second document and no word length with the first
    found = index.as_retriever(similarity_top_k=1).retrieve("unquestionably sophisticated")
    assert found[0].node.get_content() == "extraordinarily sophisticated conversations"


def test_latency_percentiles() -> None:
    figures = Latency.of([float(x) for x in range(1, 101)])
    assert figures.n == 100 and figures.p50_ms == pytest.approx(50.5) and figures.p95_ms == pytest.approx(95.05)
    assert Latency.of([]).n == 0


@pytest.mark.slow
def test_tiny_benchmark_end_to_end(tmp_path: Path) -> None:
    settings = load_settings(eval={"questions": CORPUS / "questions.jsonl"})
    options = BenchOptions(
        sizes=[200],
        out_dir=tmp_path / "out",
        work_dir=tmp_path / ".data" / "bench",  # as by default: under a hidden folder
        corpus_dir=CORPUS,
        real_chunks=12,
        sample_chunks=6,
        rounds=1,
        ask_modes=("extractive",),
        startup_runs=1,
    )
    result = run_bench(settings, options)

    assert [t.pipeline for t in result.throughput] == [
        "raw embedding engine",
        "assistant ingest",
        "llama-index VectorStoreIndex",
    ]
    raw, ours, _ = result.throughput
    assert raw.ratio_to_raw == 1.0 and ours.chunks == raw.chunks == result.sample_chunks
    for run in result.throughput:
        assert run.seconds > 0 and run.tokens > run.chunks > 0 and run.peak_rss_mb > 50
        assert len(run.run_seconds) == 2 and run.seconds == pytest.approx(sum(run.run_seconds) / 2)
        assert run.tokens_per_s == pytest.approx(run.tokens / run.seconds)
    assert result.llama_index_ratio is not None and result.llama_index_ratio > 0

    (size,) = result.sizes
    assert size.chunks >= 200 and size.real_vectors >= 12 and size.synthetic_vectors > 0
    assert size.real_vectors + size.synthetic_vectors == size.chunks
    assert size.ingest.seconds > 0 and 0 < size.ingest.projected_cold_ratio < 1
    assert size.reingest_embedded == 0 and 0 < size.reingest_seconds <= size.reingest_process_seconds
    for figures in (size.query_embedding, size.dense, size.bm25, size.hybrid, size.hybrid_with_embedding):
        assert figures.n > 0 and 0 < figures.p50_ms <= figures.p95_ms
    assert size.hybrid_with_embedding.p50_ms > size.hybrid.p50_ms
    assert [(a.mode, a.state) for a in size.ask] == [("extractive", "cold"), ("extractive", "warm")]
    assert all(a.total_ms > 0 for a in size.ask)
    assert [s.name for s in size.startup] == ["help", "search", "ask", "doctor", "search_chroma", "ask_chroma"]
    assert all(len(s.run_seconds) == 1 and s.median_s > 0 for s in size.startup)
    assert result.startup_launcher and "assistant" in result.startup_launcher

    paths = report.write_reports(result, options.out_dir)
    markdown = paths.markdown.read_text(encoding="utf-8")
    assert "SYNTHETIC" in markdown and "| raw embedding engine |" in markdown
    assert "## Start-up: whole-process wall time" in markdown
    payload = json.loads(paths.json.read_text(encoding="utf-8"))
    assert payload["sizes"][0]["chunks"] == size.chunks and len(payload["targets"]) == 9
    assert payload["sizes"][0]["startup"][0]["command"] == "assistant --help"
    help_check = next(t for t in payload["targets"] if "--help" in t["target"])
    assert help_check["figure"] == size.startup[0].median_s  # measured at any size; search and ask need 10k
    assert paths.chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
