#!/usr/bin/env bash
# The durability numbers, measured on real processes on 127.0.0.1 (3 replicas):
#   1. put throughput at 64 clients with --fsync always against --fsync none (same run of this script);
#   2. recovery time of a replica whose log holds KEYS entries (restart after a clean stop);
#   3. snapshot of a store of KEYS keys (serialization time and size, from the replica's log), and InstallSnapshot of
#      it to a follower whose disk was wiped (from its restart to its store being restored).
#   tests/bench/durability.sh [KEYS (default 1000000)] [SECONDS per throughput run (default 10)]
# Every process it starts is stopped on every exit path. Prints one summary table. KEEP=1 keeps the logs and data.
set -euo pipefail
cd "$(dirname "$0")/../.."
keys="${1:-1000000}"
seconds="${2:-10}"
bin="$(pwd)/build/bin"
[ -x "$bin/kvbench" ] && [ -x "$bin/kvstore" ] || { echo "build first: make test (or cmake --build build)" >&2; exit 66; }
work="$(mktemp -d /tmp/coraft-durability.XXXXXX)"
source tests/net/free-ports.sh
free_ports 3
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

write_config() {  # snapshot_entries
  cat > "$work/cluster.json" <<JSON
{"replicas": {"0000": "127.0.0.1:${ports[0]}", "0001": "127.0.0.1:${ports[1]}", "0002": "127.0.0.1:${ports[2]}"},
 "snapshot_entries": $1}
JSON
}
declare -A pid_of
start() {  # id fsync
  "$bin/kvstore" --config "$work/cluster.json" --id "$1" --data-dir "$work/$1" --fsync "$2" --log-level info \
    >> "$work/$1.log" 2>&1 &
  pid_of[$1]=$!
  pids+=("$!")
}
stop() {  # id
  kill -TERM "${pid_of[$1]}" 2>/dev/null || true
  wait "${pid_of[$1]}" 2>/dev/null || true
}
wait_for_log() {  # id pattern seconds
  local deadline=$((SECONDS + $3))
  until grep -q -- "$2" "$work/$1.log" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for '$2' in $1's log" >&2; tail -5 "$work/$1.log" >&2; exit 1; }
    sleep 0.1
  done
}
# The time of the last log line matching a pattern, in seconds since midnight.
time_of() {  # id pattern
  grep -- "$2" "$work/$1.log" | tail -1 | awk '{split($2, t, ":"); print t[1] * 3600 + t[2] * 60 + t[3]}'
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }

# 1. fsync always against none.
declare -A puts
for mode in always none; do
  rm -rf "$work"/000? "$work"/*.log
  write_config 100000
  for id in 0000 0001 0002; do start $id $mode; done
  puts[$mode]=$("$bin/kvbench" --cluster "$work/cluster.json" --clients 64 --duration "$seconds" --warmup 1 --json)
  echo "fsync $mode: ${puts[$mode]}" >&2
  for id in 0000 0001 0002; do stop $id; done
done

# 2. A log of KEYS entries (no snapshot yet), then a restart of one replica.
rm -rf "$work"/000? "$work"/*.log
write_config $((keys * 4))
for id in 0000 0001 0002; do start $id none; done
fill=$("$bin/kvbench" --cluster "$work/cluster.json" --clients 64 --keys "$keys" --fill --json)
echo "fill: $fill" >&2
stop 0000
mv "$work/0000.log" "$work/0000.before-restart.log"
start 0000 none
wait_for_log 0000 "starting: term" 120
recovered=$(grep "recovered" "$work/0000.log" | tail -1 | sed -E 's/.*recovered ([0-9]+) records from ([0-9]+) segments in ([0-9]+) ms.*/\1 records, \2 segments, \3 ms/')
wal_bytes=$(du -sb "$work/0000" | cut -f1)

# 3. Snapshot KEYS keys: every replica restarts with a threshold of KEYS entries, and more writes (overwriting a few
#    keys) make them snapshot. Then a follower loses its disk and gets the snapshot from the leader.
for id in 0000 0001 0002; do stop $id; done
write_config "$keys"
for id in 0000 0001 0002; do start $id none; done
# (Replicas stagger their snapshots by up to a quarter of the interval, so that they do not all pause at once.)
more=$("$bin/kvbench" --cluster "$work/cluster.json" --clients 64 --ops $((keys / 4 + 1000)) --keys 10 --warmup 0 --duration 100000 --json)
echo "overwrites: $more" >&2
for id in 0000 0001 0002; do wait_for_log $id "snapshot at" 120; done
snapshot_line=$(grep "snapshot at" "$work/0000.log" | tail -1 | sed -E 's/.*(snapshot at .*)/\1/')
# The follower to wipe: not the leader (that would add an election to the measurement).
leader=$("$bin/kvctl" --cluster "$work/cluster.json" status --json |
  python3 -c "import json,sys; print(next((r['id'] for r in json.load(sys.stdin) if r.get('role') == 'leader'), ''))")
victim=0002
[ "$leader" = 0002 ] && victim=0001
stop $victim
rm -rf "$work/$victim"
mv "$work/$victim.log" "$work/$victim.before-wipe.log"
start $victim none
restart_at=$(python3 -c "import time; t=time.localtime(); print(t.tm_hour*3600+t.tm_min*60+t.tm_sec+time.time()%1)")
wait_for_log $victim "state machine restored" 120
installing_at=$(time_of $victim "installing the leader's snapshot")
restored_at=$(time_of $victim "state machine restored")
restore_line=$(grep "state machine restored" "$work/$victim.log" | tail -1 | sed -E 's/.*(state machine restored .*)/\1/')

printf '\n%-44s %s\n' "measurement" "result"
printf '%-44s %.0f ops/s (p50 %.3f ms, p99 %.3f ms)\n' "puts, 64 clients, fsync always" \
  "$(field "${puts[always]}" ops_per_sec)" "$(field "${puts[always]}" p50_ms)" "$(field "${puts[always]}" p99_ms)"
printf '%-44s %.0f ops/s (p50 %.3f ms, p99 %.3f ms)\n' "puts, 64 clients, fsync none" \
  "$(field "${puts[none]}" ops_per_sec)" "$(field "${puts[none]}" p50_ms)" "$(field "${puts[none]}" p99_ms)"
printf '%-44s %.0f ops/s\n' "fill of $keys keys, 64 clients" "$(field "$fill" ops_per_sec)"
printf '%-44s %s (%s MB on disk)\n' "recovery of a $keys-entry log" "$recovered" "$((wal_bytes / 1000000))"
printf '%-44s %s\n' "snapshot (replica 0000's log)" "$snapshot_line"
printf '%-44s %.3f s to receive, %.3f s in all (%s)\n' "InstallSnapshot to a wiped follower" \
  "$(python3 -c "print($installing_at - $restart_at)")" "$(python3 -c "print($restored_at - $restart_at)")" "$restore_line"
