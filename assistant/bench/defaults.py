"""The benchmark's defaults and targets: plain values, so that the CLI can import them cheaply when it starts."""

DEFAULT_SIZES = (1000, 10_000, 100_000)
DEFAULT_REAL_CHUNKS = 2000
DEFAULT_SAMPLE_CHUNKS = 150
STARTUP_RUNS = 5
"""Measured runs of each start-up command (after one warm-up run)."""

TARGETS = {
    "ingest_ratio": 0.8,
    "reingest_s_10k": 2.0,
    "hybrid_p95_ms_10k": 50.0,
    "hybrid_p95_ms_100k": 150.0,
    "help_s": 0.3,
    "search_s_10k": 1.0,
    "ask_s_10k": 1.5,
}
"""The issues' targets (11: ingest, re-ingest, latency; 12: whole-process start-up)."""
