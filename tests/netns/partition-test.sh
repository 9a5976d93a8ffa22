#!/usr/bin/env bash
# partition-test.sh: coraft across separate hosts, each host a Linux network namespace with its own address.
#
#   tests/netns/partition-test.sh --bin build/bin [--replicas 3|5] [--duration 24] [--work DIR] [--keep]
#
# Topology (every interface and bridge lives in the test's own namespaces; the host's namespace is not touched):
#
#   <prefix>-r0 .. rN   one kvstore each, eth0 = 10.77.0.11, .12, ...   (cluster mode, fsync always)
#   <prefix>-c          the clients (kvbench, kvctl, kvcheck): eth0 and eth1, both 10.77.0.100, same MAC
#   <prefix>-sw         the "switch": bridge bra (every replica's link, and the client's eth0) and bridge brb
#                       (the client's eth1, and whichever replicas are partitioned away)
#
# Fault schedule, while kvbench drives load with --history (times after the load starts, default duration):
#   ~2 s   the leader's link cut (ip link set down): isolated from everyone; healed 4 s later
#   ~8 s   the leader killed with SIGKILL; restarted 2 s later on the same data directory
#   ~13 s  a minority partition holding the leader: its links moved onto bridge brb. The client still reaches both
#          sides (through eth1), so a deposed leader that still served reads or acknowledged writes would be caught.
#          Healed 5 s later.
#   then   no faults until the load ends; every link is checked to be up and on bra.
# After the load: the cluster must converge (one leader, every replica's commit and applied index equal); every key
# is read once (kvcheck read); then every replica is killed at once with SIGKILL, restarted, and every key read again.
# kvcheck checks kvbench's history with both rounds of final reads for linearizability: an acknowledged write that
# was lost makes the final reads a violation.
#
# Exit 0: passed; 1: failed (logs are kept in the work directory); 77: skipped (not root, no network namespaces).
set -euo pipefail

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; }

BIN=""
WORK=""
REPLICAS=3
DURATION=24
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --replicas) REPLICAS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "partition-test: unknown argument $1" >&2; usage >&2; exit 64 ;;
  esac
done
if [ -z "$BIN" ]; then echo "partition-test: --bin DIR (where kvstore, kvctl, kvbench, kvcheck are) is required" >&2; exit 64; fi
BIN="$(cd "$BIN" && pwd)"
for tool in kvstore kvctl kvbench kvcheck; do
  [ -x "$BIN/$tool" ] || { echo "partition-test: $BIN/$tool is missing (build it first)" >&2; exit 66; }
done
case "$REPLICAS" in 3|5) ;; *) echo "partition-test: --replicas must be 3 or 5" >&2; exit 64 ;; esac
if [ "$DURATION" -lt 20 ]; then echo "partition-test: --duration must be at least 20 (the fault schedule)" >&2; exit 64; fi

skip() { echo "partition-test: SKIPPED: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces and veth links (run as root, e.g. sudo)"
command -v ip >/dev/null 2>&1 || skip "needs iproute2's ip (apt-get install iproute2)"
command -v python3 >/dev/null 2>&1 || { echo "partition-test: needs python3" >&2; exit 69; }

# Names carry this shell's pid, so that runs never collide and leftovers of a run killed without its trap (SIGKILL)
# can be told apart: their pid is gone. Only namespaces with our prefix and a dead owner are removed.
PREFIX_BASE="coraft-netns"
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX_BASE-[0-9]*-" || true); do
  owner="${ns#"$PREFIX_BASE"-}"; owner="${owner%%-*}"
  if ! kill -0 "$owner" 2>/dev/null; then
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  fi
done
PREFIX="$PREFIX_BASE-$$"
SW="$PREFIX-sw"
C="$PREFIX-c"
NAMESPACES=()
PIDS=()         # every process started, by pid
REPLICA_PID=()  # by replica index
CREATED_WORK=0
# If this script is killed outright (no trap runs), the kernel kills what it started (setpriv from util-linux).
ORPHAN_GUARD=()
if setpriv --pdeathsig KILL true 2>/dev/null; then ORPHAN_GUARD=(setpriv --pdeathsig KILL); fi
if [ -z "$WORK" ]; then WORK="$(mktemp -d /tmp/coraft-netns.XXXXXX)"; CREATED_WORK=1; fi
mkdir -p "$WORK"
rm -rf "$WORK/data" "$WORK/logs" "$WORK/history"
mkdir -p "$WORK/data" "$WORK/logs" "$WORK/history"
CONF="$WORK/cluster.json"
STARTED=$(date +%s.%N)

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  exec 3>&2 2>/dev/null  # not bash's "Killed" notices for the processes killed below
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for ns in "${NAMESPACES[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  done
  wait 2>/dev/null
  # Deleting a namespace deletes its interfaces, and with a veth end its peer, and with the switch the bridges.
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
  if [ "$rc" -eq 0 ] && [ "$KEEP" -eq 0 ]; then
    if [ "$CREATED_WORK" -eq 1 ]; then rm -rf "$WORK"; else rm -rf "$WORK/data"; fi
  elif [ "$rc" -ne 77 ]; then
    echo "partition-test: logs, histories and data kept in $WORK" >&3
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

elapsed() { python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):5.1f}s')" "$STARTED"; }
say() { echo "[$(elapsed)] $*"; }
fail() { say "FAILED: $*" >&2; exit 1; }
FAULTS=()
fault() {
  local now
  now=$(elapsed)
  FAULTS+=("$now $*")
  echo "[$now] fault: $*"
}

add_ns() {
  ip netns add "$1" || return 1
  NAMESPACES+=("$1")
  ip -n "$1" link set lo up
}
addr_of() { echo "10.77.0.$((11 + $1))"; }
id_of() { printf '%04x' "$1"; }

# --- topology ---------------------------------------------------------------------------------------------------
add_ns "$SW" 2>"$WORK/logs/netns-add.err" || skip "cannot create a network namespace: $(cat "$WORK/logs/netns-add.err")"
ip -n "$SW" link add bra type bridge
ip -n "$SW" link add brb type bridge
ip -n "$SW" link set bra up
ip -n "$SW" link set brb up
for i in $(seq 0 $((REPLICAS - 1))); do
  ns="$PREFIX-r$i"
  add_ns "$ns"
  ip -n "$SW" link add "r$i" type veth peer name eth0 netns "$ns"
  ip -n "$SW" link set "r$i" master bra up
  ip -n "$ns" addr add "$(addr_of "$i")/24" dev eth0
  ip -n "$ns" link set eth0 up
done
add_ns "$C"
ip -n "$SW" link add ca type veth peer name eth0 netns "$C"
ip -n "$SW" link add cb type veth peer name eth1 netns "$C"
ip -n "$SW" link set ca master bra up
ip -n "$SW" link set cb master brb up
# The same MAC on both client interfaces: a replica moved to the other bridge keeps reaching the client without
# waiting for its ARP entry to expire.
ip -n "$C" link set eth1 address "$(ip -n "$C" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')"
ip -n "$C" addr add 10.77.0.100/24 dev eth0
ip -n "$C" addr add 10.77.0.100/32 dev eth1
ip -n "$C" link set eth0 up
ip -n "$C" link set eth1 up
ip netns exec "$C" sh -c 'for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > "$f"; done'

{
  printf '{"replicas": {'
  for i in $(seq 0 $((REPLICAS - 1))); do
    if [ "$i" -gt 0 ]; then printf ', '; fi
    printf '"%s": "%s:7000"' "$(id_of "$i")" "$(addr_of "$i")"
  done
  printf '}}\n'
} > "$CONF"
say "topology: switch $SW (bridges bra, brb), replicas $(for i in $(seq 0 $((REPLICAS - 1))); do printf '%s ' "$(addr_of "$i")"; done)client 10.77.0.100"

# --- processes --------------------------------------------------------------------------------------------------
start_replica() {
  local i=$1
  "${ORPHAN_GUARD[@]}" ip netns exec "$PREFIX-r$i" "$BIN/kvstore" --config "$CONF" --id "$(id_of "$i")" --data-dir "$WORK/data/r$i" \
    --fsync always --log-level info >>"$WORK/logs/r$i.log" 2>&1 &
  REPLICA_PID[$i]=$!
  PIDS+=($!)
}
kill_replica() {
  local i=$1
  kill -9 "${REPLICA_PID[$i]}" 2>/dev/null || true
  wait "${REPLICA_PID[$i]}" 2>/dev/null || true
  echo "--- killed with SIGKILL at $(elapsed) ---" >>"$WORK/logs/r$i.log"
}
in_client() { "${ORPHAN_GUARD[@]}" ip netns exec "$C" "$@"; }
kvctl() { in_client "$BIN/kvctl" --cluster "$CONF" "$@"; }

# Prints "<leader id> <term>" of the highest-term replica that calls itself leader, or nothing.
leader() {
  kvctl --timeout 2 status --json 2>/dev/null | python3 -c '
import json, sys
try: replicas = json.load(sys.stdin)
except Exception: sys.exit(0)
leaders = [r for r in replicas if r.get("reachable") and r.get("role") == "leader"]
if leaders:
    best = max(leaders, key=lambda r: r["term"])
    print(best["id"], best["term"])' || true
}
index_of() { echo $((16#$1)); }
wait_for_leader() {  # [exclude index]: a leader other than that replica
  local deadline=$((SECONDS + 15)) l
  while [ $SECONDS -lt $deadline ]; do
    l=$(leader)
    if [ -n "$l" ] && { [ -z "${1:-}" ] || [ "$(index_of "${l%% *}")" != "$1" ]; }; then echo "$l"; return 0; fi
    sleep 0.2
  done
  return 1
}

# Partitions: a cut link is down at the switch; a partitioned replica's link is moved to bridge brb, where the
# client's eth1 also is (the client routes to it through eth1 meanwhile).
cut_link() { ip -n "$SW" link set "r$1" down; }
heal_link() { ip -n "$SW" link set "r$1" up; }
partition_away() {
  ip -n "$C" route replace "$(addr_of "$1")/32" dev eth1 src 10.77.0.100
  ip -n "$SW" link set "r$1" master brb
}
partition_heal() {
  ip -n "$SW" link set "r$1" master bra
  ip -n "$C" route del "$(addr_of "$1")/32" dev eth1 2>/dev/null || true
}
heal_all() {
  for i in $(seq 0 $((REPLICAS - 1))); do
    partition_heal "$i"
    heal_link "$i"
  done
}
# Sleeps until $1 seconds after the load started (the fault schedule is paced by the clock; checks never are).
at() {
  local wait
  wait=$(python3 -c "import time,sys; print(max(0.0, float(sys.argv[1]) + float(sys.argv[2]) - time.time()))" "$LOAD_STARTED" "$1")
  sleep "$wait"
}

for i in $(seq 0 $((REPLICAS - 1))); do start_replica "$i"; done
say "started $REPLICAS replicas (kvstore pids ${REPLICA_PID[*]})"
deadline=$((SECONDS + 20))
until kvctl --timeout 2 put netns-probe ready >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "the cluster did not accept a write within 20 s"
  sleep 0.2
done
say "cluster ready: leader $(leader)"

# --- load and faults --------------------------------------------------------------------------------------------
HISTORY="$WORK/history/kvbench.jsonl"
# Started directly, not through in_client: a backgrounded function runs in a subshell, which the guard would not cover.
"${ORPHAN_GUARD[@]}" ip netns exec "$C" "$BIN/kvbench" --cluster "$CONF" --clients 6 --rate 250 --duration "$DURATION" --warmup 0 --read-ratio 0.5 \
  --keys 12 --key-size 4 --value-size 24 --timeout 0.5 --history "$HISTORY" --json >"$WORK/logs/kvbench.json" 2>"$WORK/logs/kvbench.err" &
BENCH_PID=$!
PIDS+=($BENCH_PID)
LOAD_STARTED=$(python3 -c 'import time; print(time.time())')
say "kvbench started: 6 clients, 250 ops/s, 12 keys, half reads, operations given up after 0.5 s, $DURATION s"

at 2
l=$(wait_for_leader) || fail "no leader before the link cut"
victim=$(index_of "${l%% *}")
fault "cut the link of leader r$victim ($(addr_of "$victim"), term ${l##* })"
cut_link "$victim"
at 6
heal_link "$victim"
fault "healed the link of r$victim"

at 8
l=$(wait_for_leader) || fail "no leader after healing the link"
victim=$(index_of "${l%% *}")
fault "SIGKILL leader r$victim (term ${l##* })"
kill_replica "$victim"
at 10
start_replica "$victim"
fault "restarted r$victim"

at 13
l=$(wait_for_leader) || fail "no leader after the restart"
victim=$(index_of "${l%% *}")
minority=("$victim")
for i in $(seq 0 $((REPLICAS - 1))); do
  if [ ${#minority[@]} -lt $(((REPLICAS - 1) / 2)) ] && [ "$i" != "$victim" ]; then minority+=("$i"); fi
done
fault "partitioned minority {$(printf 'r%s ' "${minority[@]}" | sed 's/ $//')} holding leader r$victim (term ${l##* }) from the majority; the client reaches both sides"
for i in "${minority[@]}"; do partition_away "$i"; done
# The client must reach the minority through eth1 (else the scenario would not test what it says).
roles_of() {
  kvctl --timeout 2 status --json 2>/dev/null | python3 -c '
import json, sys
wanted = sys.argv[1:]
replicas = {r["id"]: r for r in json.load(sys.stdin)}
if not all(replicas.get(w, {}).get("reachable") for w in wanted): sys.exit(1)
seen = []
for w in wanted:
    r = replicas[w]
    seen.append("r%d %s in term %d" % (int(w, 16), r["role"], r["term"]))
print(", ".join(seen))' \
    $(for i in "${minority[@]}"; do id_of "$i"; printf ' '; done)
}
deadline=$((SECONDS + 3))
until roles=$(roles_of); do
  [ $SECONDS -lt $deadline ] || fail "the client cannot reach the partitioned minority"
  sleep 0.2
done
say "minority seen from the client: $roles"
at 17.5
roles=$(roles_of) || fail "the client cannot reach the partitioned minority"
say "minority seen from the client before healing: $roles"
at 18
for i in "${minority[@]}"; do partition_heal "$i"; done
fault "healed the partition"
heal_all

say "waiting for kvbench to finish"
bench_rc=0
wait "$BENCH_PID" || bench_rc=$?
[ "$bench_rc" -eq 0 ] || fail "kvbench exited with $bench_rc: $(cat "$WORK/logs/kvbench.err")"
say "kvbench: $(cat "$WORK/logs/kvbench.json")"

# --- checks -----------------------------------------------------------------------------------------------------
for i in $(seq 0 $((REPLICAS - 1))); do
  kill -0 "${REPLICA_PID[$i]}" 2>/dev/null || fail "replica r$i exited by itself; its log ends: $(tail -5 "$WORK/logs/r$i.log")"
done

# Converged: every replica answers, one leader that all follow in its term, commit and applied equal everywhere.
converged() {
  kvctl --timeout 2 status --json 2>/dev/null | python3 -c '
import json, sys
replicas = json.load(sys.stdin)
if not all(r.get("reachable") for r in replicas): sys.exit(1)
leaders = [r for r in replicas if r["role"] == "leader"]
if len(leaders) != 1: sys.exit(1)
l = leaders[0]
ok = all(r["term"] == l["term"] and r["leader"] == l["id"] and r["commit_index"] == l["commit_index"]
         and r["applied_index"] == l["commit_index"] for r in replicas)
if ok: print(l["id"], l["term"], l["commit_index"])
sys.exit(0 if ok else 1)'
}
wait_converged() {
  local deadline=$((SECONDS + 20)) c
  while [ $SECONDS -lt $deadline ]; do
    if c=$(converged); then echo "$c"; return 0; fi
    sleep 0.2
  done
  kvctl --timeout 2 status >&2 || true
  return 1
}
c=$(wait_converged) || fail "the cluster did not converge within 20 s after healing"
say "converged: leader ${c%% *}, every replica applied up to index ${c##* }"

kvcheck_read() {
  in_client "$BIN/kvcheck" read --cluster "$CONF" --output "$WORK/history/$1.jsonl" "$HISTORY" \
    || fail "final reads ($1) did not all get an answer"
}
kvcheck_read final-reads
fault "SIGKILL every replica at once"
for i in $(seq 0 $((REPLICAS - 1))); do kill_replica "$i"; done
for i in $(seq 0 $((REPLICAS - 1))); do start_replica "$i"; done
fault "restarted every replica"
l=$(wait_for_leader) || fail "no leader after restarting every replica"
c=$(wait_converged) || fail "the cluster did not converge within 20 s after restarting every replica"
say "converged after the restart: leader ${c%% *}, applied up to index ${c##* }"
kvcheck_read final-reads-after-restart

check_rc=0
in_client "$BIN/kvcheck" history "$HISTORY" "$WORK/history/final-reads.jsonl" \
  "$WORK/history/final-reads-after-restart.jsonl" >"$WORK/logs/kvcheck.txt" 2>&1 || check_rc=$?
cat "$WORK/logs/kvcheck.txt"

python3 - "$WORK/logs/kvbench.json" "$HISTORY" <<'EOF'
import json, sys
bench = json.load(open(sys.argv[1]))
ops = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
writes = [o for o in ops if o["kind"] != "get"]
acked = sum(1 for o in writes if o["completed_us"] is not None)
print(f"summary: {len(ops)} operations recorded ({bench['ops_per_sec']:.0f} ops/s, p99 {bench['p99_ms']:.1f} ms, "
      f"max {bench['max_ms']:.0f} ms); writes {len(writes)}: {acked} acknowledged, {len(writes) - acked} ambiguous; "
      f"reads {len(ops) - len(writes)}: {sum(1 for o in ops if o['kind'] == 'get' and o['completed_us'] is None)} unanswered; "
      f"rejected {bench['rejected']}")
EOF
echo "faults injected:"
for f in "${FAULTS[@]}"; do echo "  $f"; done
echo "run time: $(elapsed | tr -d ' ')"
case "$check_rc" in
  0) say "PASSED: the history with final reads is linearizable; no acknowledged write was lost" ;;
  1) fail "the history is NOT linearizable (see above)" ;;
  *) fail "kvcheck could not decide (exit $check_rc)" ;;
esac
