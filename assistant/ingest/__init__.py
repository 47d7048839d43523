"""Ingestion: find files, read them, cut them into passages, sync the index."""
