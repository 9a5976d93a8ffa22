#!/usr/bin/env bash
# Where a put's time goes: a local coraft cluster with every replica tracing its hops (kvstore --trace-hops), one
# client putting one key after another, then the replicas' traces merged into one breakdown (median time since the
# leader received the request, per hop, on the leader and on the follower whose acknowledgement came first).
#   tests/bench/trace-put.sh [--replicas N] [--fsync always|none] [SECONDS]
#   tests/bench/trace-put.sh --profile [--replicas N] [--fsync always|none] [SECONDS]
#       instead: 64 clients putting, each replica sampled with perf (Debian's linux-perf, installed if missing);
#       prints each replica's top costs and the replicas' CPU per 1,000 committed puts
set -euo pipefail
cd "$(dirname "$0")/../.."
replicas=3
fsync=always
profile=0
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) replicas="$2"; shift 2 ;;
    --fsync) fsync="$2"; shift 2 ;;
    --profile) profile=1; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (--help)" >&2; exit 64 ;;
    *) break ;;
  esac
done
case "$replicas" in 3|5|7) ;; *) echo "--replicas: 3, 5 or 7" >&2; exit 64 ;; esac
case "$fsync" in always|none) ;; *) echo "--fsync: always or none" >&2; exit 64 ;; esac
duration="${1:-5}"
bin="$(pwd)/build/bin"
[ -x "$bin/kvbench" ] && [ -x "$bin/kvstore" ] || { echo "build first: make test (or cmake --build build)" >&2; exit 66; }
if [ "$profile" = 1 ] && ! command -v perf >/dev/null 2>&1; then
  echo "installing linux-perf..." >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq linux-perf >/dev/null
fi

work="$(mktemp -d /tmp/coraft-trace.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

entries=""
for i in $(seq 0 $((replicas - 1))); do
  entries+="${entries:+,}\"000$i\": {\"udp\": \"127.0.0.1:$((17200 + i))\"}"
done
echo "{\"replicas\": {$entries}}" >"$work/cluster.json"
trace_args=()
for i in $(seq 0 $((replicas - 1))); do
  [ "$profile" = 0 ] && trace_args=(--trace-hops "$work/trace-000$i.txt")
  "$bin/kvstore" --config "$work/cluster.json" --id "000$i" --data-dir "$work/data/000$i" --fsync "$fsync" \
    "${trace_args[@]}" >"$work/kvstore-$i.log" 2>&1 &
  pids+=("$!")
done
for _ in $(seq 100); do
  "$bin/kvbench" --cluster "$work/cluster.json" --clients 1 --ops 1 --warmup 0 --json >/dev/null 2>&1 && break
  sleep 0.1
done

if [ "$profile" = 1 ]; then
  perf record -q -F 2000 -g -o "$work/perf.data" -p "$(IFS=,; echo "${pids[*]}")" -- sleep "$((duration + 3))" \
    >/dev/null 2>&1 &
  perf_pid=$!
  result=$("$bin/kvbench" --cluster "$work/cluster.json" --clients 64 --read-ratio 0 --duration "$duration" \
    --warmup 2 --keys 100000 --json --cpu-of "$(IFS=,; echo "${pids[*]}")")
  for i in $(seq 0 $((replicas - 1))); do  # each replica's threads (perf samples name threads)
    ls "/proc/${pids[$i]}/task" | sed "s/^/$i /"
  done >"$work/threads.txt"
  wait "$perf_pid" || true
  perf report -i "$work/perf.data" --no-children --sort pid,sym --stdio -g none 2>/dev/null >"$work/report.txt" || true
  python3 - "$result" "$work" <<'PY'
import collections, json, re, sys
r = json.loads(sys.argv[1])
work = sys.argv[2]
print(f"64 clients putting: {r['ops_per_sec']:.0f} puts/s; the replicas' CPU: "
      f"{r['server_cpu_s_per_1000_ops']:.3f} s per 1,000 puts")
replica_of = {}
for line in open(f"{work}/threads.txt"):
    i, tid = line.split()
    replica_of[tid] = int(i)
costs = collections.defaultdict(collections.Counter)
for line in open(f"{work}/report.txt"):
    m = re.match(r"^\s+([\d.]+)%\s+(\d+):\S+\s+\[(.)\]\s+(.*?)\s*$", line)
    if m and m.group(2) in replica_of:
        where = "kernel" if m.group(3) == "k" else "user"
        costs[replica_of[m.group(2)]][(where, m.group(4)[:110])] += float(m.group(1))
for i in sorted(costs):
    total = sum(costs[i].values())
    print(f"\n== replica 000{i}: {total:.1f} % of all samples; its top costs (share of its own samples)")
    for (where, sym), share in costs[i].most_common(12):
        print(f"  {100 * share / total:5.1f} %  {where:6}  {sym}")
PY
  exit 0
fi

"$bin/kvbench" --cluster "$work/cluster.json" --clients 1 --read-ratio 0 --duration "$duration" --warmup 1 \
  --keys 1000 --json >"$work/bench.json"
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
python3 - "$work" "$replicas" "$fsync" <<'PY'
import collections, glob, json, statistics, sys
work, replicas, fsync = sys.argv[1], int(sys.argv[2]), sys.argv[3]
events = []  # (ns, replica, hop, index)
for path in glob.glob(f"{work}/trace-*.txt"):
    for line in open(path):
        ns, replica, hop, index = line.split()
        events.append((int(ns), replica, hop, int(index)))
events.sort()
by_replica = collections.Counter(r for _, r, h, _ in events if h == "client_in")
if not by_replica:
    sys.exit("no client request was traced")
leader = by_replica.most_common(1)[0][0]
bench = json.load(open(f"{work}/bench.json"))

# One put: from the leader's client_in to its next reply_out. Its log index: the leader's "appended".
samples = collections.defaultdict(list)  # (where, hop) -> offsets in microseconds
order = {}
puts = 0
i = 0
while i < len(events):
    t0, r, hop, _ = events[i]
    if r != leader or hop != "client_in":
        i += 1
        continue
    j = i + 1
    while j < len(events) and not (events[j][1] == leader and events[j][2] == "reply_out"):
        j += 1
    if j == len(events):
        break
    window = events[i:j + 1]
    index = next((x for _, rr, h, x in window if rr == leader and h == "appended"), None)
    if index is None:
        i = j + 1
        continue
    puts += 1
    first = {}
    for t, rr, h, x in window:
        if x != 0 and x < index:
            continue  # an earlier write's
        where = "leader" if rr == leader else rr
        first.setdefault((where, h), t)
    # The follower that mattered: the one whose acknowledgement went first.
    acks = sorted((t, w) for (w, h), t in first.items() if w != "leader" and h == "ack_out")
    decisive = acks[0][1] if acks else None
    for (where, h), t in first.items():
        if where != "leader" and where != decisive:
            continue
        key = ("leader" if where == "leader" else "follower", h)
        samples[key].append((t - t0) / 1000)
    i = j + 1

print(f"{replicas} replicas, fsync {fsync}: {puts} sequential puts traced; kvbench p50 {bench['p50_ms']:.3f} ms, "
      f"p99 {bench['p99_ms']:.3f} ms (the client's own view, tracing on)")
print(f"{'where':9} {'hop':14} {'median us':>10} {'p90 us':>9}   since the leader received the put")
rows = sorted(samples.items(), key=lambda kv: statistics.median(kv[1]))
for (where, hop), values in rows:
    values.sort()
    print(f"{where:9} {hop:14} {statistics.median(values):10.1f} {values[int(len(values) * 0.9)]:9.1f}")
PY
