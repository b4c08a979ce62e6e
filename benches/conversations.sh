#!/usr/bin/env bash
# Memory of many concurrent conversations: one simulated engine, N users
# (default 10,000), each running 9-turn conversations whose last turn
# resends a 4,000-token history (8 turns of 250-token messages and
# 250-token recorded answers), thinking 5 s on average between turns. The
# whole `llm-locust race` process (simulator included, files on) is
# measured: peak RSS, and CPU. Histories are held once per conversation
# (recorded answers are shared texts), so memory should grow with the
# requests in flight, not with the conversations.
#
#   cargo build --release && bash benches/conversations.sh [USERS] [SECONDS] [HISTORY]
#
# HISTORY is recorded (default) or own (each lane keeps its own answers).
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-10000}
secs=${2:-90}
history=${3:-recorded}
bin=target/release/llm-locust
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/race.yaml" <<YAML
race:
  name: conversations-memory
  countdown_s: 0
  dataset: synthetic
  target_input_tokens: 250
  target_output_tokens: 250
  conversation:
    turns: 9
    think_time_s: {mean: 5}
    history: $history
  load: {users: $users, spawn_rate: 2000}
  finish: {duration_s: $secs}
  engines:
    - name: sim
      simulate: {ttft_ms: 50, tpot_ms: 1, prefill_us_per_token: 5, capacity: 100000, prefix_cache_tokens: 1000000}
YAML
echo "race: $users users, 9-turn conversations (history $history), $secs s" >&2
/usr/bin/time -f "%e s wall, %U s user, %S s system, %M KiB max RSS" \
  "$bin" race "$work/race.yaml" --no-tui --output-dir "$work/out" \
  >"$work/race.out" 2>"$work/race.err" || true
tail -1 "$work/race.err"
python3 - "$work"/out/*/summary.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
e = s["engines"][0]
b = e["breakdown"]
c = b["conversations"]
print(f"requests ok {e['requests_ok']}, failed {e['requests_failed']}; conversations started {c['started']}, completed {c['completed']}, cut off {c['stopped']}")
last = b["by_turn"][-1]
print(f"last turn: {last['label']}, {last['requests']} requests")
lengths = ", ".join(f"{r['label']}: {r['requests']}" for r in b["by_prompt_length"])
print(f"prompt lengths: {lengths}")
PY
