#!/usr/bin/env bash
# Records llama.cpp's greedy decoding of SmolLM2-135M-Instruct (Q4_1 GGUF) as an independent
# reference for lightvlm's GGUF loader: tests/fixtures/smollm2/llama_cpp_reference.json.
# llama.cpp comes from the llama-cpp-python SOURCE package on PyPI (its sdist vendors llama.cpp),
# built CPU-only with cmake: only libllama, then tools/llama_cpp_reference_driver.cpp against it.
#   usage: tools/llama_cpp_reference.sh [WORK_DIR]   (default /work/llama.cpp-build, outside the
#          repository; the build takes ~20 minutes on 2 cores and is reused on later runs)
# Needs: python3 -m pip, cmake, ninja, g++ with OpenMP; the model from scripts/get_models.sh.
set -euo pipefail

pin=0.3.16
# The llama.cpp commit that llama-cpp-python 0.3.16 vendors (its CHANGELOG.md).
llama_cpp_commit=4227c9be4268ac844921b90f31595f81236bd317
steps=20

root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/work/llama.cpp-build}"
model="$root/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
out="$root/tests/fixtures/smollm2/llama_cpp_reference.json"
[ -f "$model" ] || { echo "$model is absent: run scripts/get_models.sh" >&2; exit 1; }

mkdir -p "$work"
cd "$work"
sdist="llama_cpp_python-$pin.tar.gz"
if [ ! -f "$sdist" ]; then
  python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$pin" -d .
fi
src="llama_cpp_python-$pin/vendor/llama.cpp"
[ -d "$src" ] || tar xzf "$sdist"

if [ ! -f build/src/libllama.a ]; then
  cmake -S "$src" -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF >configure.log
  cmake --build build -j2 --target llama >build.log
fi
g++ -std=c++17 -O2 -fopenmp -I "$src/include" -I "$src/ggml/include" \
  "$root/tools/llama_cpp_reference_driver.cpp" build/src/libllama.a build/ggml/src/libggml.a \
  build/ggml/src/libggml-cpu.a build/ggml/src/libggml-base.a -lpthread -o reference_driver

# Plain text (no chat template); BOS only where the model's metadata asks for it.
cat >prompts.txt <<'PROMPTS'
The capital of France is
Once upon a time, there was a little robot who
def fibonacci(n):
The three primary colors are
Water boils at a temperature of
Here is a list of fruits: apple, banana,
The quick brown fox jumps over the lazy dog. The quick brown fox
In 1969, the first humans landed on
PROMPTS

OMP_WAIT_POLICY=PASSIVE ./reference_driver "$model" prompts.txt "$steps" >driver.json
mkdir -p "$(dirname "$out")"
python3 - driver.json "$out" "$pin" "$llama_cpp_commit" "$model" <<'PY'
import hashlib, json, os, sys
driver, out, pin, commit, model = sys.argv[1:]
with open(driver) as f:
    data = json.load(f)
with open(model, "rb") as f:
    sha256 = hashlib.sha256(f.read()).hexdigest()
record = {
    "generator": "tools/llama_cpp_reference.sh",
    "llama_cpp_python": pin,
    "llama_cpp_commit": commit,
    "model": os.path.basename(model),
    "model_sha256": sha256,
    "decoding": "greedy (argmax of the last logits), tokenize(add_special=true, parse_special=false)",
    **data,
}
with open(out, "w") as f:
    json.dump(record, f, indent=1)
    f.write("\n")
PY
echo "llama_cpp_reference: wrote $out"
