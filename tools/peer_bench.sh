#!/usr/bin/env bash
# lightvlm against llama.cpp, side by side on the same shaped checkpoints (issue 19).
#   usage: tools/peer_bench.sh [--work DIR] [--shapes "llava-smollm2-135m llava-1.5-7b"]
#                              [--repeats N] [--threads N] [--tests "ttft prefill decode-bf16-b1 ..."]
#                              [--prepare-only] [--with-transformers]
# 1. llama.cpp from the llama-cpp-python SOURCE package on PyPI (it vendors llama.cpp; the pin and
#    its commit are below), built CPU-only with cmake: llama-bench, llama-batched-bench,
#    llama-mtmd-cli, llama-quantize (~25 minutes on 2 cores, reused on later runs).
# 2. Each shape: tools/make_shaped_checkpoint.py (bf16), then llama.cpp's own converters:
#    convert_hf_to_gguf.py (BF16), llama-quantize (Q8_0, Q4_K_M or Q4_1) and the LLaVA image encoder
#    converter (tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py, f16).
# 3. tools/peer_bench.py run: both engines alternating process by process, same threads, same
#    prompt lengths (and transformers on PyTorch as a third, with --with-transformers)
#    -> docs/results/peers_<shape>.json; then the table in docs/RESULTS.md.
# Needs: .venv from scripts/setup.sh plus tools/requirements.txt (torch, transformers,
# sentencepiece: the converters import them), cmake, ninja, g++ with OpenMP, build/lightvlm.
# The 7B shape needs ~45 GB of disk in the work directory and ~16 GB of memory.
set -euo pipefail

pin=0.3.36
llama_cpp_commit=0c1e57098 # llama-cpp-python 0.3.36's CHANGELOG.md
root="$(cd "$(dirname "$0")/.." && pwd)"
work=/work/peer
shapes="llava-smollm2-135m llava-1.5-7b"
repeats=3
threads=2
tests=""
prepare_only=0
transformers=""
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --shapes) shapes="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    --prepare-only) prepare_only=1; shift ;;
    --with-transformers) transformers=--with-transformers; shift ;;
    *) echo "peer_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
python="$root/.venv/bin/python"
[ -x "$python" ] || { echo "$python is absent: make .venv from tools/requirements.txt" >&2; exit 1; }
[ -x "$root/build/lightvlm" ] || { echo "build/lightvlm is absent: build lightvlm first" >&2; exit 1; }

mkdir -p "$work"
cd "$work"
sdist="llama_cpp_python-$pin.tar.gz"
[ -f "$sdist" ] || python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$pin" -d .
src="$work/llama_cpp_python-$pin/vendor/llama.cpp"
[ -d "$src" ] || tar xzf "$sdist"
bin="$work/build/bin"
if [ ! -x "$bin/llama-mtmd-cli" ] || [ ! -x "$bin/llama-batched-bench" ]; then
  cmake -S "$src" -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF >configure.log
  cmake --build build -j2 --target llama-bench llama-batched-bench llama-mtmd-cli \
    llama-quantize >build.log
fi
convert() { PYTHONPATH="$src/gguf-py" "$python" "$@"; }

prepare_shape() { # $1 shape, $2 4-bit type: the checkpoint and its GGUF files, each made once
  local shape="$1" dir="$work/models/$1"
  mkdir -p "$dir/gguf"
  [ -f "$dir/hf/config.json" ] ||
    "$python" "$root/tools/make_shaped_checkpoint.py" --shape "$shape" --dtype bf16 --out "$dir/hf"
  if [ ! -f "$dir/gguf/BF16.gguf" ]; then
    "$python" "$root/tools/peer_bench.py" gguf-source --checkpoint "$dir/hf" --out "$dir/hf_for_gguf"
    convert "$src/convert_hf_to_gguf.py" "$dir/hf_for_gguf" --outtype bf16 --outfile "$dir/gguf/BF16.gguf" >"$dir/convert.log" 2>&1
  fi
  for type in Q8_0 "$2"; do
    [ -f "$dir/gguf/$type.gguf" ] ||
      "$bin/llama-quantize" "$dir/gguf/BF16.gguf" "$dir/gguf/$type.gguf" "$type" "$threads" >"$dir/quantize_$type.log" 2>&1
  done
  if [ ! -f "$dir/gguf/mmproj.gguf" ]; then
    "$python" "$root/tools/peer_bench.py" split --checkpoint "$dir/hf" --out "$dir/clip"
    convert "$src/tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py" -m "$dir/clip" \
      --llava-projector "$dir/clip/llava.projector" --output-dir "$dir/clip" --clip-model-is-vision >"$dir/clip.log"
    mv "$dir/clip/mmproj-model-f16.gguf" "$dir/gguf/mmproj.gguf"
    rm -rf "$dir/clip" # 4 bytes a weight, needed only by the converter
  fi
}

image="$root/../shared/images/mmbench_21.jpg"
for shape in $shapes; do
  # The image prompt is 230 tokens on the small shape and ~610 on LLaVA-1.5-7B's (576 image
  # tokens): decode runs after a prompt just past it, for both engines, and the prefill test
  # (lightvlm's is its image prompt lengthened with text) is 512 tokens, 640 on the 7B shape. Q4_K needs rows of 256
  # weights: on the small shape's 576-wide rows llama-quantize falls back to 5- and 6-bit types
  # for most matrices, so there the 4-bit peer is Q4_1 (groups of 32 with a scale and a min, the
  # grid of lightvlm's q4).
  case "$shape" in
    llava-1.5-7b) decode_prompt=640 prefill=640 q4_type=Q4_K_M ;;
    *) decode_prompt=256 prefill=512 q4_type=Q4_1 ;;
  esac
  prepare_shape "$shape" "$q4_type"
  [ "$prepare_only" = 0 ] || continue
  # shellcheck disable=SC2086
  "$python" "$root/tools/peer_bench.py" run --shape "$shape" --checkpoint "$work/models/$shape/hf" \
    --gguf-dir "$work/models/$shape/gguf" --llama-bin "$bin" \
    --llama-cpp-version "llama-cpp-python $pin (llama.cpp $llama_cpp_commit)" --image "$image" \
    --threads "$threads" --repeats "$repeats" --decode-prompt-tokens "$decode_prompt" --prefill-tokens "$prefill" --q4-type "$q4_type" \
    ${tests:+--tests $tests} $transformers --out "$root/docs/results/peers_$shape.json"
done
[ "$prepare_only" = 1 ] || "$python" "$root/tools/peer_bench.py" table "$root"/docs/results/peers_*.json
