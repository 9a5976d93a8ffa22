#!/usr/bin/env bash
# Backup under write load, restore into a new cluster, and the two clusters kept apart, with the commands an
# operator would type:
#   - cluster A (three replicas) runs a write load (kvbench) and a writer that puts acked-1, acked-2, ... one at a
#     time, noting each acknowledged one;
#   - `kvctl backup` runs in the middle of it; the writer's last acknowledged key before the backup began is noted;
#   - A stops; kvstore --restore refuses a damaged backup and a data directory that is not empty;
#   - cluster B, three new replicas, is restored from the backup under a new cluster file (B's 0000 on the address
#     A's 0000 had, as when a machine is reused) and started: every key acknowledged before the backup began reads
#     back with its value;
#   - A's 0001 and 0002 come back with A's data and elect a leader, which sends to A's 0000's address: B's 0000 refuses
#     every message, saying why, and B keeps serving. A datagram stamped with B's identity is refused by A's replicas,
#     and one of another wire format is refused by B's, each with a clear warning;
#   - a new replica with an empty data directory joins B (kvstore --join, kvctl member add) and takes B's identity.
#
#   tests/net/backup-restore-test.sh BIN_DIR        (KEEP=1 keeps the logs and files of a run that passes)
set -euo pipefail
bin=$(cd "$1" && pwd)
test_name=backup-restore-test
source "$(dirname "$0")/script-helpers.sh"
free_ports 6
cluster_file() {  # cluster_file FILE PORT_OF_0000 PORT_OF_0001 PORT_OF_0002
  echo "{\"replicas\": {\"0000\": \"127.0.0.1:$2\", \"0001\": \"127.0.0.1:$3\", \"0002\": \"127.0.0.1:$4\"}," \
       "\"election_timeout_ms\": [150, 300], \"heartbeat_ms\": 50, \"snapshot_entries\": 300}" >"$1"
}
cluster_file "$dir/a.json" "${ports[0]}" "${ports[1]}" "${ports[2]}"
cluster_file "$dir/b.json" "${ports[0]}" "${ports[3]}" "${ports[4]}"

declare -A replica_pid=()
start() {  # start NAME ID FILE DATA_DIR
  "$bin/kvstore" --config "$3" --id "$2" --data-dir "$4" --log-level info --fsync always >>"$dir/$1.log" 2>&1 &
  replica_pid[$1]=$!
  pids+=($!)
}
kvctl() { "$bin/kvctl" --timeout 30 "$@"; }

step "cluster A starts"
for id in 0000 0001 0002; do start "a$id" "$id" "$dir/a.json" "$dir/a/$id"; done
kvctl --cluster "$dir/a.json" put before-the-load yes >/dev/null

step "a write load starts (kvbench, 8 clients) and a writer of acked-1, acked-2, ..."
"$bin/kvbench" --cluster "$dir/a.json" --clients 8 --duration 600 --warmup 0 --keys 500 --timeout 20 --quiet \
  >"$dir/kvbench.out" 2>&1 &
bench=$!
pids+=($bench)
(
  i=0
  while [ ! -e "$dir/stop-writer" ]; do
    i=$((i + 1))
    "$bin/kvctl" --cluster "$dir/a.json" --timeout 30 put "acked-$i" "value-$i" >/dev/null
    echo $i >"$dir/acked.tmp" && mv "$dir/acked.tmp" "$dir/acked"
  done
) &
writer=$!
pids+=($writer)
acked() { cat "$dir/acked" 2>/dev/null || echo 0; }
wait_for_acked() {  # until the writer has N acknowledged (it keeps going), or it dies
  while [ "$(acked)" -lt "$1" ]; do
    kill -0 $writer 2>/dev/null || fail "the writer stopped (a put failed)"
    sleep 0.1
  done
}
wait_for_acked 40

step "kvctl backup while the load runs"
before_backup=$(acked)  # every key up to acked-$before_backup was acknowledged before the backup began
kvctl --cluster "$dir/a.json" backup "$dir/backup.crb" | tee "$dir/backup.out"
grep -q "backup of the committed state at index" "$dir/backup.out" || fail "kvctl backup did not say what it saved"
[ -s "$dir/backup.crb" ] && [ ! -e "$dir/backup.crb.part" ] || fail "no backup file, or its .part is left"
status=0
kvctl --cluster "$dir/a.json" backup "$dir/backup.crb" 2>"$dir/backup-again.err" || status=$?
[ $status -eq 73 ] || fail "a backup over an existing file ended with status $status, not 73"
wait_for_acked $((before_backup + 20))  # writes go on during and after the backup

step "the load stops"
touch "$dir/stop-writer"
wait $writer || fail "the writer failed"
kill -INT $bench
wait $bench || { cat "$dir/kvbench.out" >&2; fail "kvbench failed"; }
tail -3 "$dir/kvbench.out"
echo "writer: $(acked) puts acknowledged, $before_backup of them before the backup began"

step "cluster A stops"
for id in 0000 0001 0002; do kill -TERM "${replica_pid[a$id]}"; wait "${replica_pid[a$id]}" || true; done

step "kvstore --restore refuses a damaged backup and a data directory that is not empty"
head -c -1 "$dir/backup.crb" >"$dir/cut.crb"
status=0
"$bin/kvstore" --restore "$dir/cut.crb" --config "$dir/b.json" --id 0000 --data-dir "$dir/b/cut" \
  >"$dir/restore-cut.out" 2>&1 || status=$?
cat "$dir/restore-cut.out"
[ $status -eq 65 ] || fail "restoring a cut backup ended with status $status, not 65"
[ ! -e "$dir/b/cut" ] || fail "restoring a cut backup touched its data directory"
status=0
"$bin/kvstore" --restore "$dir/backup.crb" --config "$dir/b.json" --id 0000 --data-dir "$dir/a/0000" \
  >"$dir/restore-used.out" 2>&1 || status=$?
cat "$dir/restore-used.out"
[ $status -eq 74 ] || fail "restoring into a replica's data directory ended with status $status, not 74"
grep -q "already holds a replica's data" "$dir/restore-used.out" || fail "the refusal does not say why"

step "cluster B is restored from the backup and starts"
for id in 0000 0001 0002; do
  "$bin/kvstore" --restore "$dir/backup.crb" --config "$dir/b.json" --id "$id" --data-dir "$dir/b/$id" \
    | tee "$dir/restore-$id.out"
done
cluster_of() { grep -o 'new cluster [0-9a-f]*' "$1" | awk '{print $3}'; }
new_cluster=$(cluster_of "$dir/restore-0000.out")
for id in 0001 0002; do
  [ -n "$new_cluster" ] && [ "$new_cluster" = "$(cluster_of "$dir/restore-$id.out")" ] ||
    fail "the restored replicas do not agree on their cluster's identity"
done
for id in 0000 0001 0002; do start "b$id" "$id" "$dir/b.json" "$dir/b/$id"; done

step "every key acknowledged before the backup began reads back from cluster B"
for ((i = 1; i <= before_backup; i++)); do
  value=$(kvctl --cluster "$dir/b.json" get "acked-$i") || fail "acked-$i is missing from the restored cluster"
  [ "$value" = "value-$i" ] || fail "acked-$i holds \"$value\", not value-$i"
done
[ "$(kvctl --cluster "$dir/b.json" get before-the-load)" = yes ] || fail "before-the-load is missing"
kvctl --cluster "$dir/b.json" put after-the-restore yes >/dev/null

step "A's 0001 and 0002 come back with A's data: B's 0000, on A's 0000's address, refuses them"
for id in 0001 0002; do start "a$id-again" "$id" "$dir/a.json" "$dir/a/$id"; done
for ((tries = 0; tries < 300; tries++)); do
  grep -q "refused .* from 000[12]: it belongs to the original cluster" "$dir/b0000.log" && break
  sleep 0.1
done
grep -h "refused" "$dir/b0000.log" | head -1
grep -q "refused .* from 000[12]: it belongs to the original cluster" "$dir/b0000.log" ||
  fail "B's 0000 did not refuse A's replicas"
kvctl --cluster "$dir/b.json" metrics 0000 | grep 'reason="other_cluster"' | tee "$dir/other-cluster.metric"
awk '{ exit !($2 > 0) }' "$dir/other-cluster.metric" || fail "B's 0000 counted no refused message"
kvctl --cluster "$dir/b.json" put still-serving yes >/dev/null
[ "$(kvctl --cluster "$dir/b.json" get after-the-restore)" = yes ] || fail "B lost after-the-restore"
b_term=$(kvctl --cluster "$dir/b.json" status --json | python3 -c '
import json, sys
replicas = [r for r in json.load(sys.stdin) if r.get("reachable")]
assert len(replicas) == 3, "a replica of B did not answer"
assert len({r["leader"] for r in replicas}) == 1, "B disagrees on its leader"
print(max(r["term"] for r in replicas))') || fail "B is not one cluster under one leader"
echo "B: one leader, term $b_term"

step "a datagram stamped with B's identity is refused by A; one of another wire format by B"
send_udp() {  # send_udp PORT JSON
  python3 -c 'import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))' "$1" "$2"
}
send_udp "${ports[1]}" "{\"src\":\"0002\",\"dst\":\"0001\",\"leader\":\"FFFF\",\"type\":\"rv\",\"term\":99,\"lli\":1,\"llt\":1,\"pre\":true,\"cid\":\"$new_cluster\"}"
send_udp "${ports[3]}" '{"src":"0000","dst":"0001","leader":"FFFF","type":"rv","term":99,"lli":1,"llt":1,"pre":true,"wire":2}'
for ((tries = 0; tries < 100; tries++)); do
  grep -q "it belongs to cluster $new_cluster, this replica to the original cluster" "$dir/a0001-again.log" &&
    grep -q "it speaks wire format 2, this replica .* wire format 1" "$dir/b0001.log" && break
  sleep 0.1
done
grep -h "belongs to cluster $new_cluster\|wire format 2" "$dir/a0001-again.log" "$dir/b0001.log" || true
grep -q "it belongs to cluster $new_cluster, this replica to the original cluster" "$dir/a0001-again.log" ||
  fail "A's 0001 did not refuse a message of cluster B"
grep -q "it speaks wire format 2, this replica .* wire format 1" "$dir/b0001.log" ||
  fail "B's 0001 did not name the other wire format"
step "a new replica joins B with an empty data directory and takes B's identity"
sed "s|\"0002\": \"127.0.0.1:${ports[4]}\"|&, \"0003\": \"127.0.0.1:${ports[5]}\"|" "$dir/b.json" >"$dir/b4.json"
grep -q '"0003"' "$dir/b4.json" || fail "could not write b4.json"
"$bin/kvstore" --config "$dir/b4.json" --id 0003 --data-dir "$dir/b/0003" --log-level info --join >>"$dir/b0003.log" 2>&1 &
pids+=($!)
kvctl --cluster "$dir/b4.json" member add 0003 "127.0.0.1:${ports[5]}"
grep -q "joined cluster $new_cluster" "$dir/b0003.log" || fail "0003 does not say it joined cluster $new_cluster"
grep -q "cluster $new_cluster" "$dir/b/0003/CLUSTER" || fail "0003's CLUSTER file does not name cluster $new_cluster"
kvctl --cluster "$dir/b4.json" member list
echo "backup-restore-test: passed ($before_backup acknowledged writes restored; cluster $new_cluster)"
