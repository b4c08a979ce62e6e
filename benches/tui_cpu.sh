#!/usr/bin/env bash
# CPU used by the TUI: the same race (simulated engines, in-process) run
# headless and in the TUI inside tmux, comparing the process's user+system
# CPU time. The difference is what drawing costs.
#
#   cargo build --release && bash benches/tui_cpu.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
bin=target/release/llm-locust
work=$(mktemp -d)
trap 'rm -rf "$work"; tmux kill-session -t tui-cpu 2>/dev/null || true' EXIT

ten="$work/ten.yaml"
{
  echo "race:"
  echo "  name: ten lanes"
  echo "  users: 10"
  echo "  spawn_rate: 10"
  echo "  engines:"
  for i in $(seq 1 10); do
    echo "    - name: engine-$i"
    echo "      max_tokens: 64"
    echo "      simulate: {ttft_ms: $((50 * i)), tpot_ms: $((5 + i))}"
  done
} > "$ten"

measure() { # race-file mode [view key] -> "user+sys seconds"
  local race=$1 mode=$2 key=${3:-}
  local out="$work/time-$mode-$key-$(basename "$1")"
  if [ "$mode" = headless ]; then
    /usr/bin/time -f "%U %S" -o "$out" "$bin" race "$race" --no-tui --no-save --countdown 0 --duration "$secs" >/dev/null 2>&1
  else
    tmux new-session -d -s tui-cpu -x 160 -y 50 \
      "/usr/bin/time -f '%U %S' -o '$out' $bin race '$race' --no-save --countdown 0 --duration $secs --exit-on-finish --fps 20"
    if [ -n "$key" ]; then
      sleep 1
      tmux send-keys -t tui-cpu "$key" 2>/dev/null || true
    fi
    while tmux has-session -t tui-cpu 2>/dev/null; do sleep 0.5; done
  fi
  # The last line: /usr/bin/time says first when the race exited non-zero.
  tail -n 1 "$out" | awk '{ printf "%.2f", $1 + $2 }'
}

echo "| lanes | view | headless CPU | TUI CPU (20 FPS) | TUI cost | % of one core |"
echo "|---:|---|---:|---:|---:|---:|"
for race in races/demo.yaml "$ten"; do
  lanes=$(grep -c "    - name:" "$race")
  h=$(measure "$race" headless)
  # The race screen, then each view opened with its key a second in.
  for key in "" c d e t; do
    t=$(measure "$race" tui "$key")
    awk -v l="$lanes" -v k="${key:-lanes}" -v h="$h" -v t="$t" -v s="$secs" \
      'BEGIN { d = t - h; printf "| %d | %s | %.2f s | %.2f s | %.2f s | %.1f %% |\n", l, k, h, t, d, 100 * d / s }'
  done
done
