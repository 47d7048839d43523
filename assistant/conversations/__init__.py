"""Conversations that are kept: the store (SQLite in the data directory), Markdown and evidence-bundle
export, and the verifier that re-checks a bundle's quotes against the files.

The room: :mod:`~assistant.conversations.store` (conversations and their turns, per user),
:mod:`~assistant.conversations.export` (Markdown with footnotes, the JSON evidence bundle) and
:mod:`~assistant.conversations.verify` (every quote of a bundle re-read through the ingest readers).
"""
