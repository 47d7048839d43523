"""The index: catalog, vectors (Chroma), BM25, embeddings, the writer lock."""
