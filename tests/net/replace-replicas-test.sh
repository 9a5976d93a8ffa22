#!/usr/bin/env bash
# Replaces every replica of a running cluster while a write load runs, with the commands an operator would type:
# three replicas start; three new ones start with --join and are added one by one (kvctl member add); a new member is
# SIGKILLed in the middle of the third addition and restarted; the three original replicas are removed, the leader
# among them; leadership is transferred to a named new member. Then the load stops, the originals are gone, and
# kvcheck reads every key the load touched from the new members alone and checks that the whole history (the load's
# operations and those reads) is linearizable. A removed replica started again is refused with the reason.
#
#   tests/net/replace-replicas-test.sh BIN_DIR        (KEEP=1 keeps the logs and files of a run that passes)
set -euo pipefail
bin=$(cd "$1" && pwd)
test_name=replace-replicas-test
source "$(dirname "$0")/script-helpers.sh"
free_ports 6
address() { echo "127.0.0.1:${ports[$1]}"; }
cluster_file() {  # cluster_file FILE ID... : those replicas, test timings
  local file=$1 entries="" id
  shift
  for id in "$@"; do entries+="${entries:+, }\"000$id\": \"$(address "$id")\""; done
  echo "{\"replicas\": {$entries}, \"election_timeout_ms\": [150, 300], \"heartbeat_ms\": 50, \"snapshot_entries\": 500}" >"$file"
}
cluster_file "$dir/original.json" 0 1 2  # the cluster as it starts
cluster_file "$dir/all.json" 0 1 2 3 4 5  # the address book once the new replicas exist
cluster_file "$dir/new.json" 3 4 5        # the new members alone

declare -A replica_pid=()
start() {  # start ID FILE [--join]
  "$bin/kvstore" --config "$2" --id "000$1" --data-dir "$dir/000$1" --log-level info --fsync always "${@:3}" \
    >>"$dir/000$1.log" 2>&1 &
  replica_pid[$1]=$!
  pids+=($!)
}
kvctl() { "$bin/kvctl" --timeout 30 "$@"; }

step "three replicas start"
for id in 0 1 2; do start $id "$dir/original.json"; done
kvctl --cluster "$dir/original.json" put before-the-load yes >/dev/null

step "a write load starts (kvbench, 8 clients, 30 % reads, recording its history)"
"$bin/kvbench" --cluster "$dir/original.json" --clients 8 --duration 600 --warmup 0 --keys 64 --read-ratio 0.3 \
  --timeout 20 --history "$dir/load.jsonl" --quiet >"$dir/kvbench.out" 2>&1 &
bench=$!
pids+=($bench)

for id in 3 4 5; do
  step "replica 000$id starts with --join and is added"
  start $id "$dir/all.json" --join
  if [ $id -eq 5 ]; then
    kvctl --cluster "$dir/original.json" member add 0005 "$(address 5)" >"$dir/add5.out" 2>&1 &
    adding=$!
    # In the middle of the change: a new member (a voter since the last step) dies and comes back.
    kill -KILL "${replica_pid[4]}"
    wait "${replica_pid[4]}" 2>/dev/null || true
    start 4 "$dir/all.json"
    wait $adding || { cat "$dir/add5.out" >&2; fail "member add 0005 failed"; }
    cat "$dir/add5.out"
  else
    kvctl --cluster "$dir/original.json" member add "000$id" "$(address $id)"
  fi
done
kvctl --cluster "$dir/original.json" member list

leader=$(kvctl --cluster "$dir/all.json" leader)
step "the original replicas are removed, the leader ($leader) first"
originals=()
for id in 0000 0001 0002; do [ "$id" = "$leader" ] && originals=("$id" "${originals[@]}") || originals+=("$id"); done
for id in "${originals[@]}"; do kvctl --cluster "$dir/all.json" member remove "$id"; done

step "leadership goes to a named new member"
target=0004
[ "$(kvctl --cluster "$dir/new.json" leader)" = 0004 ] && target=0003
kvctl --cluster "$dir/new.json" transfer-leader "$target"
[ "$(kvctl --cluster "$dir/new.json" leader)" = "$target" ] || fail "$target does not lead after transfer-leader"
kvctl --cluster "$dir/new.json" member list | tee "$dir/members.out"
[ "$(grep -c ' voter' "$dir/members.out")" -eq 3 ] || fail "expected three voters"
for id in 0000 0001 0002; do ! grep -q "^$id " "$dir/members.out" || fail "$id is still a member"; done

step "the load stops; the original replicas are stopped"
kill -INT $bench
wait $bench || { cat "$dir/kvbench.out" >&2; fail "kvbench failed"; }
tail -4 "$dir/kvbench.out"
for id in 0 1 2; do
  # Removed, each stops by itself after a few seconds (exit status 77); whatever is left goes now.
  kill -KILL "${replica_pid[$id]}" 2>/dev/null || true
  wait "${replica_pid[$id]}" 2>/dev/null || true
done
operations=$(wc -l <"$dir/load.jsonl")
[ "$operations" -ge 200 ] || fail "the load recorded only $operations operations"

step "every key reads back from the new members alone, and the history is linearizable"
"$bin/kvcheck" read --cluster "$dir/new.json" --output "$dir/reads.jsonl" --timeout 20 "$dir/load.jsonl"
"$bin/kvcheck" history --budget 120 "$dir/load.jsonl" "$dir/reads.jsonl"

step "a removed replica started again is refused, with the reason"
status=0
timeout 30 "$bin/kvstore" --config "$dir/all.json" --id 0001 --data-dir "$dir/0001" >"$dir/restart-removed.out" 2>&1 ||
  status=$?
cat "$dir/restart-removed.out"
[ $status -eq 77 ] || fail "a removed replica ended with status $status, not 77"
grep -q "removed" "$dir/restart-removed.out" || fail "the refusal does not say the replica was removed"
echo "replace-replicas-test: passed ($operations operations by the load, all linearizable)"
