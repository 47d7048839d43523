"""Chroma 1.5's own BM25 (its sparse embedding function) against ours, on the Sora set and qa-dev.

Chroma 1.5.9 cannot run its sparse index or its ``Search`` API outside Chroma Cloud: creating a
collection with a sparse index fails with "Sparse vector indexing is not enabled in local", and
``collection.search`` with "Search operation is not implemented for local executor" (embedded and
``chroma run`` alike; this script checks both again). So its ranking is computed here as its server
would: documents as ``ChromaBm25EmbeddingFunction`` weights them (its tokenizer: English stemmer and
stop words, murmur3 hashes), scored by the sum over the question's terms of IDF x weight. Ours is the
assistant's BM25 index (per-language stemmers and stop words). Same chunks (the ingest's chunking),
same questions; document-level hit@5 and MRR@10 of the answerable questions, per language.

Usage: ``.venv/bin/python scripts/chroma_sparse.py [--out reports/chroma_sparse.md]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QA_DEV = REPO.parent / "shared" / "data" / "qa-dev"
SETS = {
    "Sora set": (REPO / "corpus", REPO / "corpus" / "questions.jsonl"),
    "qa-dev": (QA_DEV / "corpus", QA_DEV / "questions.jsonl"),
}


def local_sparse_refusals() -> list[str]:
    """What Chroma answers when asked for its sparse index and its Search API locally."""
    import chromadb
    from chromadb import K, Knn, Schema, Search, SparseVectorIndexConfig
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    client = chromadb.EphemeralClient()
    schema = Schema()
    config = SparseVectorIndexConfig(source_key=K.DOCUMENT, embedding_function=ChromaBm25EmbeddingFunction(), bm25=True)
    schema.create_index(config=config, key="sparse")
    found = []
    try:
        client.create_collection("sparse-probe", schema=schema, embedding_function=None)
        found.append("sparse index: created")
    except Exception as exc:
        found.append(f"sparse index: {exc}")
    plain = client.create_collection("search-probe", embedding_function=None)
    plain.add(ids=["a"], documents=["a"], embeddings=[[0.1, 0.2]])
    try:
        plain.search(Search().rank(Knn(query=[0.1, 0.2])).limit(1))
        found.append("Search API: ran")
    except Exception as exc:
        found.append(f"Search API: {exc}")
    return found


def chunks_of(folder: Path) -> list[tuple[str, str, str]]:
    """(chunk id, document id, text, language) of every chunk, as the ingest cuts them."""
    from assistant.config import Settings
    from assistant.ingest.chunking import chunk_document
    from assistant.ingest.discovery import FileRef
    from assistant.ingest.readers import read_document

    settings = Settings()
    rows = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".txt", ".md", ".html", ".pdf", ".docx"):
            continue
        loaded = read_document(FileRef(folder, path, path.name), 10**8)
        for chunk in chunk_document(loaded, settings.chunking.chunk_size, settings.chunking.chunk_overlap):
            rows.append((chunk.chunk_id, chunk.doc_id, chunk.text, chunk.language))
    return rows  # type: ignore[return-value]


class ChromaBM25:
    """Chroma's BM25 weights of the chunks, scored as its server scores a ``bm25=True`` sparse index."""

    def __init__(self, texts: list[str]) -> None:
        from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

        self.ef = ChromaBm25EmbeddingFunction()
        self.docs = [dict(zip(v.indices, v.values, strict=True)) for v in self.ef(texts)]
        frequency = Counter(term for doc in self.docs for term in doc)
        n = len(self.docs)
        self.idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1) for t, f in frequency.items()}

    def search(self, question: str, k: int) -> list[int]:
        terms = self.ef.embed_query([question])[0].indices
        scores = [sum(self.idf.get(t, 0.0) * doc.get(t, 0.0) for t in terms) for doc in self.docs]
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [i for i in ranked[:k] if scores[i] > 0]


def measure(folder: Path, questions_path: Path) -> dict[str, dict[str, dict[str, float]]]:
    from assistant.evaluation.metrics import first_relevant_rank, hit_at, rank_documents, reciprocal_rank
    from assistant.index.bm25 import BM25Index, query_terms, tokenize

    rows = chunks_of(folder)
    ours = BM25Index([r[0] for r in rows], [tokenize(r[2], r[3]) for r in rows])
    owner = {r[0]: r[1] for r in rows}
    chroma = ChromaBM25([r[2] for r in rows])
    results: dict[str, dict[str, list[int | None]]] = defaultdict(lambda: defaultdict(list))
    for line in questions_path.read_text(encoding="utf-8").splitlines():
        question = json.loads(line)
        if not question.get("answerable", True) or not question.get("sources"):
            continue
        mine = rank_documents(owner[cid] for cid, _ in ours.search(query_terms(question["question"]), 30))
        theirs = rank_documents(rows[i][1] for i in chroma.search(question["question"], 30))
        for name, ranking in (("ours", mine), ("chroma", theirs)):
            rank = first_relevant_rank(ranking, question["sources"])
            results[question["lang"]][name].append(rank)
            results["all"][name].append(rank)
    return {
        lang: {
            name: {
                "n": len(ranks),
                "hit5": sum(hit_at(r, 5) for r in ranks) / len(ranks),
                "mrr10": sum(reciprocal_rank(r, 10) for r in ranks) / len(ranks),
            }
            for name, ranks in by_name.items()
        }
        for lang, by_name in sorted(results.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "chroma_sparse.md")
    args = parser.parse_args()
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    lines = ["# Chroma's BM25 against ours", "", *[f"- {line}" for line in local_sparse_refusals()], ""]
    lines += ["| set | language | questions | ours hit@5 | Chroma hit@5 | ours MRR@10 | Chroma MRR@10 |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for set_name, (folder, questions) in SETS.items():
        for lang, by_name in measure(folder, questions).items():
            ours, chroma = by_name["ours"], by_name["chroma"]
            lines.append(
                f"| {set_name} | {lang} | {ours['n']} | {ours['hit5']:.3f} | {chroma['hit5']:.3f} | "
                f"{ours['mrr10']:.3f} | {chroma['mrr10']:.3f} |"
            )
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
