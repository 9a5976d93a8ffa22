#!/usr/bin/env bash
# Growth: does coraft stay fast as the store and the log grow? A 3-replica cluster on 127.0.0.1 (fsync always) takes
# puts from 64 clients over a space of KEYS keys for SECONDS, printing throughput per window of the run, the log and
# snapshot indexes, and each replica's memory; then 90 % gets against the grown store.
#   tests/bench/growth.sh [KEYS (default 1000000)] [SECONDS (default 60)]
# Every process it starts is stopped on every exit path.
set -euo pipefail
cd "$(dirname "$0")/../.."
keys="${1:-1000000}"
seconds="${2:-60}"
bin="$(pwd)/build/bin"
[ -x "$bin/kvbench" ] && [ -x "$bin/kvstore" ] || { echo "build first: make test (or cmake --build build)" >&2; exit 66; }
work="$(mktemp -d /tmp/coraft-growth.XXXXXX)"
source tests/net/free-ports.sh
free_ports 3
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
cat > "$work/cluster.json" <<JSON
{"replicas": {"0000": "127.0.0.1:${ports[0]}", "0001": "127.0.0.1:${ports[1]}", "0002": "127.0.0.1:${ports[2]}"}}
JSON
for id in 0000 0001 0002; do
  "$bin/kvstore" --config "$work/cluster.json" --id "$id" --data-dir "$work/$id" --log-level info > "$work/$id.log" 2>&1 &
  pids+=("$!")
done

"$bin/kvbench" --cluster "$work/cluster.json" --clients 64 --keys "$keys" --duration "$seconds" --warmup 0 \
  > "$work/puts.txt" 2> "$work/progress.txt"
echo "puts, 64 clients, $keys-key space, fsync always: $(cat "$work/puts.txt")"
# Progress lines: "[  12s]    34567 ops/s   errors 0 ..."; averaged per tenth of the run.
python3 - "$work/progress.txt" "$seconds" <<'PY'
import re, sys
rates = [int(m.group(1)) for m in (re.search(r'\]\s+(\d+) ops/s', l) for l in open(sys.argv[1])) if m]
window = max(1, len(rates) // 10)
print("seconds     ops/s (mean of the window)")
for i in range(0, len(rates), window):
    chunk = rates[i:i + window]
    print(f"{i + 1:4d}-{i + len(chunk):<4d}  {sum(chunk) / len(chunk):8.0f}")
PY
"$bin/kvctl" --cluster "$work/cluster.json" status
echo "memory (RSS) per replica:"
for pid in "${pids[@]}"; do ps -o rss= -p "$pid" | awk -v p="$pid" '{printf "  pid %s: %.0f MB\n", p, $1 / 1024}'; done
echo "90 % gets, 64 clients, against the grown store:"
"$bin/kvbench" --cluster "$work/cluster.json" --clients 64 --keys "$keys" --duration 10 --read-ratio 0.9 -q
grep -h "snapshot at" "$work"/000?.log | tail -3 || true
