#!/usr/bin/env bash
# examples/cluster.sh's control commands reach its supervisor intact, also when a request's line arrives in two
# pieces across the supervisor's 0.2 s read time-out (a `start` once reached it as `tart`). The supervisor runs
# stand-ins for kvstore and kvctl (a sleeping process that answers nothing, a kvctl that says every replica is up), so
# only the script itself is under test: no ports, no cluster.
#   tests/examples/cluster-control-test.sh
set -euo pipefail
test_name=cluster-control
source "$(dirname "$0")/../net/script-helpers.sh"
repo="$(cd "$(dirname "$0")/../.." && pwd)"

mkdir -p "$dir/bin"
cat >"$dir/bin/kvstore" <<'SH'
#!/usr/bin/env bash
exec sleep 600
SH
cat >"$dir/bin/kvctl" <<'SH'
#!/usr/bin/env bash
# keygen PATH writes a secret; every other command (the supervisor's "does it answer" probe) succeeds.
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = keygen ]; then next=$((i + 1)); echo secret >"${!next}"; fi
done
exit 0
SH
chmod +x "$dir/bin/kvstore" "$dir/bin/kvctl"
export CORAFT_CLUSTER_DIR="$dir/cluster" CORAFT_BIN="$dir/bin" CORAFT_BASE_PORT=7000
cluster="$dir/cluster"

step "the supervisor starts three stand-in replicas"
"$repo/examples/cluster.sh" </dev/null >"$dir/supervisor.out" 2>&1 &
supervisor=$!
pids+=("$supervisor")
for _ in $(seq 100); do grep -q "cluster is running" "$dir/supervisor.out" && break; sleep 0.1; done
grep -q "a 3-replica cluster is running" "$dir/supervisor.out" || fail "no banner: $(cat "$dir/supervisor.out")"

step "kill and start, as a user types them"
out=$("$repo/examples/cluster.sh" kill 0001) || fail "kill failed: $out"
[[ "$out" == "sent SIGKILL to replica 0001 (pid "* ]] || fail "kill said: $out"
out=$("$repo/examples/cluster.sh" start) || fail "start failed: $out"
[[ "$out" == "started replica 0001 (pid "* ]] || fail "start said: $out"

step "a request whose line arrives in two pieces, 0.5 s apart"
reply="$cluster/reply.test"
mkfifo "$reply"
exec 4<>"$reply"
printf 's' >"$cluster/control"
sleep 0.5  # the supervisor's read times out (every 0.2 s) between the two pieces
printf 'tart %s\n' "$reply" >"$cluster/control"
read -t 10 -r status answer <&4 || fail "no answer from the supervisor"
[ "$status $answer" = "ok every replica asked for is running already" ] || fail "the split request was answered: $status $answer"
exec 4<&-

step "SIGTERM (as Ctrl-C) stops it cleanly"
kill -TERM "$supervisor"
status=0
wait "$supervisor" || status=$?
[ "$status" -eq 0 ] || fail "the supervisor ended with status $status: $(cat "$dir/supervisor.out")"
[ "$(grep -c "exited with status\|was killed by signal" "$dir/supervisor.out")" -ge 3 ] ||
  fail "not every replica's end was reported: $(cat "$dir/supervisor.out")"
echo "$test_name: passed"
