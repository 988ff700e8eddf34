#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan) in build-sanitized/ (reusing the
# build of scripts/test_sanitized.sh when there is one: scripts/build_sanitized.sh) and runs each
# for SECONDS (default 30), as many at a time as there are cores, from seed corpora made of the
# repository's real files. Fails if any target has a finding (the others still run): libFuzzer's
# report is printed, with the path of the input that caused it
# (build-sanitized/findings/<target>/crash-*, leak-*, timeout-* or oom-*). docs/RELIABILITY.md.
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: safetensors, llm_config, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
build=build-sanitized
fixtures=tests/fixtures
shared=../shared

bash scripts/build_sanitized.sh fuzzers

# Seeds: real files (small ones), copied fresh each run. The corpus libFuzzer grows is kept in
# $build/corpus/<target> between runs.
seeds="$build/seeds"
rm -rf "$seeds"
seed() {  # seed TARGET FILE... (missing files, e.g. ../shared on a machine without it, are skipped)
  mkdir -p "$seeds/$1"
  local target=$1
  shift
  for file in "$@"; do
    [ -f "$file" ] && cp "$file" "$seeds/$target/$(echo "$file" | tr '/' '_')"
  done
  return 0
}
mkdir -p "$seeds/safetensors"
for model in "$fixtures"/llama/model "$fixtures"/qwen2/model "$fixtures"/llava/model; do
  python3 fuzz/small_safetensors.py "$model/model.safetensors" \
    "$seeds/safetensors/$(basename "$(dirname "$model")").safetensors"
done
python3 fuzz/small_safetensors.py "$fixtures/images/clip/expected.safetensors" \
  "$seeds/safetensors/clip_expected.safetensors"
seed llm_config "$fixtures"/{llama,llama/llama3,qwen2,llava}/model/config.json \
  "$shared/models/stories260k/config.json"
seed preprocessor_config "$fixtures"/images/clip/{fixed_nearest,no_resize,old_format,pad_bilinear,photo_lanczos,tall,upscale_crop32}.json \
  "$fixtures/llava/model/preprocessor_config.json" "$fixtures/smolvlm/model/processor_config.json"
seed image "$fixtures"/images/decode/* "$fixtures/eval/red_disc.png" \
  "$fixtures"/images/clip/odd_*.png "$shared/images/mmbench_503.jpg"
rm -f "$seeds"/image/*.safetensors
seed tokenizer_json "$fixtures/tokenizers/bytelevel_tiny.json" \
  "$shared/models/stories260k/tokenizer.json" "$fixtures/llama/model/tokenizer.json"
# tokenizer_encode: the first byte picks the tokenizer and the flags, the rest is the text.
mkdir -p "$seeds/tokenizer_encode"
i=0
for text in "Once upon a time, there was a cat." "<s>Hello</s> wörld 123 " $'tab\tnew\nline  ' \
  "日本語のテキスト" "<|begin_of_text|>user: hi<|eot_id|>" "   leading and trailing   "; do
  for flags in 0 1 2 5; do
    printf "\\x$(printf %02x "$flags")%s" "$text" >"$seeds/tokenizer_encode/$i"
    i=$((i + 1))
  done
done
# vocab_merges: vocab.json, a NUL byte, merges.txt.
mkdir -p "$seeds/vocab_merges"
qwen2_files="$fixtures/tokenizers/qwen2_vocab_merges"
{ cat "$qwen2_files/vocab.json"; printf '\0'; cat "$qwen2_files/merges.txt"; } \
  >"$seeds/vocab_merges/qwen2"
printf '{"a": 0, "b": 1, "ab": 2}\0#version: 0.2\na b\n' >"$seeds/vocab_merges/tiny"
seed jsonl "$fixtures/eval/questions.jsonl"
seed gguf "$fixtures"/gguf/*.gguf
# chat_template: the template text of each fixture (shipped templates and the feature test).
mkdir -p "$seeds/chat_template"
for file in "$fixtures"/chat_templates/*.json; do
  [ "$(basename "$file")" = snippets.json ] && continue
  python3 -c 'import json, sys; sys.stdout.write(json.load(open(sys.argv[1]))["template"])' \
    "$file" >"$seeds/chat_template/$(basename "$file" .json).jinja"
done
printf '%s\n' '{"prompt": "Describe the image.", "image": "a.png", "max_tokens": 8}' '' \
  '{"prompt": "Once upon a time"}' >"$seeds/jsonl/requests.jsonl"

# Bounds per input: the parsers must refuse what is too large before allocating it, so a single
# input that needs over 2 GB (or one allocation over 1 GB) or 10 s is a finding.
declare -A max_len=([safetensors]=16384 [tokenizer_json]=65536 [vocab_merges]=65536 [image]=65536
  [gguf]=65536)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors llm_config preprocessor_config image tokenizer_json
  tokenizer_encode vocab_merges jsonl gguf chat_template)
# One target per core at a time (each fuzzer is one process); each writes its log and exit status.
fuzz_target() {  # fuzz_target TARGET
  local target=$1
  local corpus="$build/corpus/$target" findings="$build/findings/$target"
  mkdir -p "$corpus" "$findings"
  local status=0
  "$build/fuzz/${target}_fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -timeout=10 -max_len="${max_len[$target]:-8192}" -print_final_stats=1 \
    -artifact_prefix="$findings/" "$corpus" "$seeds/$target" >"$findings.log" 2>&1 || status=$?
  echo "$status" >"$findings.status"
}
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do
    wait -n || true
  done
  echo "fuzz: $target for ${seconds}s"
  rm -f "$build/findings/$target.status"
  fuzz_target "$target" &
done
wait
status=0
for target in "${targets[@]}"; do
  findings="$build/findings/$target"
  if [ "$(cat "$findings.status")" != 0 ]; then
    tail -n 60 "$findings.log"
    echo "fuzz: FINDING in $target; input: $(ls -t "$findings"/crash-* "$findings"/leak-* \
      "$findings"/timeout-* "$findings"/oom-* 2>/dev/null | head -1)" >&2
    status=1
    continue
  fi
  echo "fuzz: $target: $(grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$findings.log" |
    tr '\n' ' ')"
done
exit $status
