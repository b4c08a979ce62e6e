#!/usr/bin/env bash
# Race file size and replay speed: runs the demo race headless (3 simulated
# engines) with many users for a long time, then reports the size of its
# race.llmrace, how many requests and chunk times it holds, and how long
# `replay --no-tui` and `report` take to fold it all again.
#
#   cargo build --release && bash benches/race_file.sh [SECONDS] [USERS]
#
# Defaults: 600 s and 50 users per engine (the size budget of docs/RACE_FILE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
users=${2:-50}
bin=target/release/llm-locust
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "race: races/demo.yaml, $secs s, $users users per engine" >&2
/usr/bin/time -f "%e s wall, %U s user, %S s system, %M KiB max RSS" \
  "$bin" race races/demo.yaml --no-tui --countdown 0 --duration "$secs" \
  --users "$users" --output-dir "$work/out" >"$work/race.out" 2>"$work/race.err" \
  || true # exit 1: the demo's overbooked engine fails its SLO under this load
tail -1 "$work/race.err"
dir=$(ls -d "$work"/out/*/)
file="$dir/race.llmrace"

requests=$(python3 -c "
import json,sys
s=json.load(open('$dir/summary.json'))
print(sum(e['requests_ok']+e['requests_failed'] for e in s['engines']))")
tokens=$(python3 -c "
import json
s=json.load(open('$dir/summary.json'))
print(sum(e['output_tokens'] for e in s['engines']))")
size=$(stat -c %s "$file")
csv_size=$(cat "$dir"/*.csv | wc -c)
echo "race file: $size bytes ($((size / 1024)) KiB) for $requests requests and $tokens streamed tokens (one chunk time each)"
echo "  bytes per request: $((size / requests)); the CSVs of the same race: $csv_size bytes"

start=$(date +%s.%N)
"$bin" replay "$file" --no-tui >"$work/replay.out" 2>&1 || true
end=$(date +%s.%N)
echo "replay --no-tui: $(python3 -c "print(f'{$end - $start:.2f} s, {$secs / ($end - $start):.0f}x real time')")"

start=$(date +%s.%N)
"$bin" report "$file" --output-dir "$work/report" >/dev/null
end=$(date +%s.%N)
echo "report: $(python3 -c "print(f'{$end - $start:.2f} s')")"
if cmp -s "$dir/summary.json" "$work/report/summary.json"; then
  echo "report: summary.json identical to the race's"
else
  echo "report: summary.json DIFFERS from the race's" >&2
  exit 1
fi
