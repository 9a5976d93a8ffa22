#!/usr/bin/env bash
# Side-by-side race: an etcd cluster and a coraft cluster of the same size on 127.0.0.1, the same workloads from kvbench,
# with matching durability: first both syncing every write, then neither (etcd 3.4 has no --unsafe-no-fsync, so its
# data directories go on tmpfs, where fsync costs nothing; coraft runs with --fsync none).
#   tests/bench/compare-etcd.sh [--replicas N] [--value-size BYTES] [SECONDS_PER_RUN]
#       N members each (3 by default), values of BYTES bytes (32 by default; up to 16384)
#   tests/bench/compare-etcd.sh --http [SECONDS_PER_RUN]   puts and gets at 64 clients: etcd's JSON gateway, coraft
#       over UDP, over its HTTP API with clients spread over the replicas (followers forward), and all to the leader
#   tests/bench/compare-etcd.sh --memory [KEYS]   memory per key: each system filled with KEYS keys (1,000,000 by
#       default; 16-byte keys, 32-byte values, writes not synced), then every member's resident memory over KEYS
# Installs Debian's etcd-server if it is missing. Every process it starts is stopped on every exit path.
set -euo pipefail
cd "$(dirname "$0")/../.."
http=0
memory=0
replicas=3
value_size=32
while [ $# -gt 0 ]; do
  case "$1" in
    --http) http=1; shift ;;
    --memory) memory=1; shift ;;
    --replicas) replicas="$2"; shift 2 ;;
    --value-size) value_size="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (--help)" >&2; exit 64 ;;
    *) break ;;
  esac
done
case "$replicas" in 3|5|7) ;; *) echo "--replicas: 3, 5 or 7" >&2; exit 64 ;; esac
duration="${1:-10}"
memory_keys="${1:-1000000}"
bin="$(pwd)/build/bin"
[ -x "$bin/kvbench" ] && [ -x "$bin/kvstore" ] || { echo "build first: make test (or cmake --build build)" >&2; exit 66; }
if ! command -v etcd >/dev/null 2>&1; then
  echo "installing etcd-server..." >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq etcd-server >/dev/null
fi

work="$(mktemp -d /tmp/coraft-vs-etcd.XXXXXX)"
shm="$(mktemp -d /dev/shm/coraft-vs-etcd.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work" "$shm"
}
trap cleanup EXIT INT TERM

start_etcd() {  # $1: parent directory for data
  local cluster="" urls="" i port
  for i in $(seq 0 $((replicas - 1))); do
    port=$(( (i + 1) * 10000 + 2379 ))
    cluster+="${cluster:+,}e$i=http://127.0.0.1:$((port + 1))"
    urls+="${urls:+,}http://127.0.0.1:$port"
  done
  for i in $(seq 0 $((replicas - 1))); do
    port=$(( (i + 1) * 10000 + 2379 ))
    etcd --name "e$i" --data-dir "$1/etcd-$i" \
      --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
      --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
      --initial-cluster "$cluster" --initial-cluster-state new --log-level error >"$work/etcd-$i.log" 2>&1 &
    pids+=("$!")
  done
  ETCD_URLS="$urls"
  for _ in $(seq 100); do
    "$bin/kvbench" --etcd "$ETCD_URLS" --clients 1 --ops 1 --warmup 0 --json >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "etcd did not come up; see $work/etcd-*.log" >&2; exit 1
}

start_coraft() {  # $1: fsync policy
  local i entries=""
  for i in $(seq 0 $((replicas - 1))); do
    entries+="${entries:+,}\"000$i\": {\"udp\": \"127.0.0.1:$((17100 + i))\", \"http\": \"127.0.0.1:$((18100 + i))\"}"
  done
  echo "{\"replicas\": {$entries}}" >"$work/cluster.json"
  for i in $(seq 0 $((replicas - 1))); do
    "$bin/kvstore" --config "$work/cluster.json" --id "000$i" --data-dir "$work/coraft-$1/000$i" --fsync "$1" \
      >"$work/coraft-$i.log" 2>&1 &
    pids+=("$!")
  done
  for _ in $(seq 100); do
    "$bin/kvbench" --cluster "$work/cluster.json" --clients 1 --ops 1 --warmup 0 --json >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "coraft did not come up; see $work/coraft-*.log" >&2; exit 1
}

stop_all() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# Resident memory (KiB) of every process started, summed.
rss_kib() {
  local pid total=0 kib
  for pid in "${pids[@]}"; do
    kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    total=$((total + kib))
  done
  echo "$total"
}

if [ "$memory" = 1 ]; then
  echo "== memory: $memory_keys keys, $replicas members each" >&2
  start_etcd "$shm"
  "$bin/kvbench" --etcd "$ETCD_URLS" --fill --keys "$memory_keys" --clients 64 --quiet --json >/dev/null
  etcd_kib=$(rss_kib)
  stop_all
  start_coraft none
  "$bin/kvbench" --cluster "$work/cluster.json" --fill --keys "$memory_keys" --clients 64 --quiet --json >/dev/null
  sleep 2  # the followers apply the last entries
  coraft_kib=$(rss_kib)
  stop_all
  printf '\n%-8s %14s %20s\n' system "RSS, all ($replicas)" "bytes per key, each"
  for system in etcd coraft; do
    kib=$([ $system = etcd ] && echo "$etcd_kib" || echo "$coraft_kib")
    printf '%-8s %11.1f MiB %20.0f\n' "$system" "$(python3 -c "print($kib / 1024)")" \
      "$(python3 -c "print($kib * 1024 / $replicas / $memory_keys)")"
  done
  exit 0
fi

declare -A result
workloads=(puts64 gets90 seq1)
[ "$http" = 1 ] && workloads=(puts64 gets64)
run_workloads() {  # $1: label, $2: kvbench target arguments
  local name args
  for name in "${workloads[@]}"; do
    case $name in
      puts64) args="--clients 64 --read-ratio 0" ;;
      gets90) args="--clients 64 --read-ratio 0.9" ;;
      gets64) args="--clients 64 --read-ratio 1" ;;
      seq1) args="--clients 1 --read-ratio 0" ;;
    esac
    # shellcheck disable=SC2086
    # --cpu-of: the servers' CPU time over the measured window (every etcd member or coraft replica running now).
    result["$1/$name"]=$("$bin/kvbench" $2 $args --duration "$duration" --warmup 2 --keys 100000 \
      --value-size "$value_size" --json \
      --cpu-of "$(IFS=,; echo "${pids[*]}")")
    echo "  $1 $name: ${result["$1/$name"]}" >&2
  done
}

for mode in sync nosync; do
  echo "== durability: $mode" >&2
  if [ "$mode" = sync ]; then start_etcd "$work"; else start_etcd "$shm"; fi
  run_workloads "etcd-$mode" "--etcd $ETCD_URLS"
  stop_all
  if [ "$mode" = sync ]; then start_coraft always; else start_coraft none; fi
  run_workloads "coraft-$mode" "--cluster $work/cluster.json"
  if [ "$http" = 1 ]; then
    run_workloads "http-$mode" "--cluster $work/cluster.json --http"
    run_workloads "http-leader-$mode" "--cluster $work/cluster.json --http --http-leader"
  fi
  stop_all
done

if [ "$http" = 1 ]; then
  printf '\n%-8s %-18s %-30s %12s %10s %10s\n' durability workload system ops/s p50 p99
  for mode in sync nosync; do
    for name in "${workloads[@]}"; do
      for system in etcd coraft http http-leader; do
        r="${result["$system-$mode/$name"]}"
        printf '%-8s %-18s %-30s %12.0f %8.3fms %8.3fms\n' "$mode" \
          "$(case $name in puts64) echo 'puts, 64 clients';; gets64) echo 'gets, 64 clients';; esac)" \
          "$(case $system in etcd) echo "etcd (JSON gateway)";; coraft) echo "coraft UDP";;
             http) echo "coraft HTTP (any replica)";; http-leader) echo "coraft HTTP (the leader)";; esac)" \
          "$(field "$r" ops_per_sec)" "$(field "$r" p50_ms)" "$(field "$r" p99_ms)"
      done
    done
  done
  exit 0
fi

printf '\n%s members each, %s-byte values, %s s per run\n' "$replicas" "$value_size" "$duration"
printf '%-8s %-22s %12s %12s %8s %10s %10s %10s %10s %10s %10s %8s\n' durability workload "etcd ops/s" \
  "coraft ops/s" ratio "etcd p50" "coraft p50" "etcd p99" "coraft p99" "etcd CPU" "coraft CPU" "CPU"
# CPU: the servers' CPU seconds per 1,000 operations (all members or replicas together), and coraft's over etcd's.
for mode in sync nosync; do
  for name in puts64 gets90 seq1; do
    e="${result["etcd-$mode/$name"]}"; c="${result["coraft-$mode/$name"]}"
    eo=$(field "$e" ops_per_sec); co=$(field "$c" ops_per_sec)
    ec=$(field "$e" server_cpu_s_per_1000_ops); cc=$(field "$c" server_cpu_s_per_1000_ops)
    printf '%-8s %-22s %12.0f %12.0f %7.2fx %9.3fms %9.3fms %9.3fms %9.3fms %9.3fs %9.3fs %7.2fx\n' "$mode" \
      "$(case $name in puts64) echo 'puts, 64 clients';; gets90) echo '90% gets, 64 clients';; seq1) echo 'puts, 1 client';; esac)" \
      "$eo" "$co" "$(python3 -c "print($co / max($eo, 1e-9))")" \
      "$(field "$e" p50_ms)" "$(field "$c" p50_ms)" "$(field "$e" p99_ms)" "$(field "$c" p99_ms)" \
      "$ec" "$cc" "$(python3 -c "print($cc / max($ec, 1e-9))")"
  done
done
