#!/usr/bin/env bash
# How long a race takes to get ready (load a dataset, count tokens, build
# prompts) before its countdown, and the memory it takes: the two heavy
# cases of docs/DATASETS.md, timed as whole headless races of 1 s against a
# simulated engine (so the time beyond ~1.5 s is loading).
#
#   cargo build --release && bash benches/workload_load.sh [JSONL_MB]
#
# Needs ../shared/fixtures/tokenizers/qwen3/tokenizer.json (a real tokenizer).
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-200}
bin=target/release/llm-locust
tokenizer=$(realpath ../shared/fixtures/tokenizers/qwen3/tokenizer.json 2>/dev/null || true)
if [ ! -f "$tokenizer" ]; then
  echo "skipping: ../shared/fixtures/tokenizers/qwen3/tokenizer.json is absent" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

race() { # name dataset-line extra-lines -> race file
  cat >"$work/$1.yaml" <<EOF
race:
  name: $1
  countdown_s: 0
  duration: 1
  users: 2
  $2
$3
  engines:
    - name: sim
      tokenizer: $tokenizer
      max_tokens: 4
      simulate: {ttft_ms: 5, tpot_ms: 1}
EOF
  echo "$work/$1.yaml"
}

measure() { # label race-file
  /usr/bin/time -f "%e s wall  %M KiB max RSS" \
    "$bin" race "$2" --no-tui --no-save >/dev/null 2>"$work/err" || true
  echo "$1: $(tail -1 "$work/err")  ($(grep '^prompts:' "$work/err" || echo 'no prompts line'))"
}

measure "synthetic, 256 prompts of 4096 tokens" \
  "$(race synthetic 'dataset: synthetic' '  target_input_tokens: 4096
  synthetic: {prompts: 256}')"

echo "writing a ${mb} MB JSONL file of prompts..." >&2
python3 - "$work/big.jsonl" "$mb" <<'EOF'
import json, random, sys
random.seed(7)
words = open("datasets/synthetic-source.txt").read().split()
target = int(sys.argv[2]) * 1_000_000
with open(sys.argv[1], "w") as f:
    size = 0
    while size < target:
        n = random.randint(20, 2000)
        line = json.dumps({"prompt": " ".join(random.choices(words, k=n))}) + "\n"
        f.write(line)
        size += len(line)
EOF
measure "${mb} MB JSONL, selected to 256 ± 50 tokens" \
  "$(race jsonl "dataset: $work/big.jsonl" '  target_input_tokens: 256')"
