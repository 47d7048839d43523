"""The benchmark tool (``assistant bench``): how fast the assistant is, and how that changes as the corpus grows.

- :mod:`~assistant.bench.corpora`: the scaled corpora, built deterministically, and the questions;
- :mod:`~assistant.bench.vectors`: real vectors for the first chunks, synthetic ones beyond them;
- :mod:`~assistant.bench.baseline`: a plain llama-index ``VectorStoreIndex`` to compare ingest with;
- :mod:`~assistant.bench.workers`: the heavy phases, each in a process of its own (peak memory, cold start);
- :mod:`~assistant.bench.startup`: whole-process wall time of ``assistant --help``, ``search``, ``ask``, ``doctor``;
- :mod:`~assistant.bench.run`: the driver; :mod:`~assistant.bench.results`: the figures (pydantic);
- :mod:`~assistant.bench.report`: Markdown, JSON with the target checks, the latency plot;
- :mod:`~assistant.bench.command`: the ``bench`` command (``register(app)``).
"""
