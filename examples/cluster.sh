#!/usr/bin/env bash
# A local 3-replica coraft cluster in cluster mode, supervised (the main job of `make run`), and the commands that
# control it from another terminal.
#
#   examples/cluster.sh              start the cluster and supervise it until Ctrl-C
#   examples/cluster.sh kill ID      SIGKILL replica ID, as a crash would
#   examples/cluster.sh stop ID      SIGTERM replica ID: a clean stop
#   examples/cluster.sh start [ID]   start replica ID again (or every replica that is not running)
#   examples/cluster.sh restart ID   stop replica ID, then start it
#   examples/cluster.sh replace ID   replace replica ID by a new one: it starts with --join under the next unused id
#                                    (and port), is added as a learner, and once caught up takes ID's place as a voter
#                                    (kvctl member add --learner, then kvctl member replace)
#
# The supervisor starts each replica, waits until it answers, and only then says the cluster is running; if one
# cannot start, it says so, stops the others and exits with that replica's exit code. Afterwards it reports every
# replica that ends (its exit status or signal) and carries out the control commands, which reach it through a FIFO
# in the cluster's folder and get their answer back through one of their own. Ctrl-C (or SIGTERM, SIGHUP) stops
# every replica it started, waits for them, and ends with status 0; each replica has a parent-death signal too, so
# none outlives a supervisor that is killed. Logs are prefixed and coloured per replica, and kept in DIR/<id>.log
# across restarts.
#
# Environment: CORAFT_CLUSTER_DIR (default data/local-cluster: cluster.json, secrets, data and logs),
# CORAFT_BASE_PORT (7000: replicas listen on this port and the next two), CORAFT_HTTP_PORT (each replica's HTTP API,
# Consul's KV API, on this port and the next two: 8500 by default, none when CORAFT_BASE_PORT moves the cluster and
# this does not say where its HTTP API goes), CORAFT_LOG (info), CORAFT_BIN (build/bin).
#
# Exit codes (README: Exit codes): 0 done; 1 the supervisor refused the command (no such replica, not running);
# 64 a bad command line; 66 a program is missing (build first); 69 no cluster is running (or, to start one, one
# already is); 75 the supervisor did not answer; a replica's own code when it cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${CORAFT_CLUSTER_DIR:-data/local-cluster}"
bin="${CORAFT_BIN:-build/bin}"
[ "${bin:0:1}" = / ] || bin="$(pwd)/$bin"
config="$dir/cluster.json"
control="$dir/control"
supervisor_pid_file="$dir/supervisor.pid"
ids=(0000 0001 0002)
# The replicas the local cluster runs: the first three, until a replace changes them (kept in $dir/members).
[ -f "$dir/members" ] && read -r -a ids <"$dir/members"

say() { echo "coraft: $*"; }

supervisor_running() {
  [ -p "$control" ] && [ -f "$supervisor_pid_file" ] && kill -0 "$(cat "$supervisor_pid_file")" 2>/dev/null
}

# The control commands: hand the request to the supervisor and print its answer (exit 0 if it says "ok").
if [ $# -gt 0 ]; then
  case "$1" in
    kill|stop|restart|replace) [ $# -eq 2 ] || { echo "usage: $0 $1 ID" >&2; exit 64; } ;;
    start) [ $# -le 2 ] || { echo "usage: $0 start [ID]" >&2; exit 64; } ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
    *) echo "$0: unknown command \"$1\" (kill, stop, start, restart or replace; --help says more)" >&2; exit 64 ;;
  esac
  if ! supervisor_running; then
    echo "$0: no cluster is running from $dir (\`make run\` starts one)" >&2
    exit 69
  fi
  reply="$(mktemp -u "$dir/reply.XXXXXX")"
  mkfifo -m 600 "$reply"
  trap 'rm -f "$reply"' EXIT
  exec 4<>"$reply"  # open before asking, so the supervisor's answer never waits for a reader
  echo "$* $reply" >"$control"
  wait_s=30
  [ "$1" = replace ] && wait_s=150  # a new replica catches up before it votes
  if ! read -t "$wait_s" -r status answer <&4; then
    echo "$0: the supervisor did not answer within $wait_s s" >&2
    exit 75
  fi
  if [ "$status" = ok ]; then echo "$answer"; exit 0; fi
  echo "$0: $answer" >&2
  exit 1
fi

# Supervision.
mkdir -p "$dir"
if supervisor_running; then
  say "a cluster is already running from $dir (supervisor pid $(cat "$supervisor_pid_file")); stop it with Ctrl-C" \
      "in its terminal first" >&2
  exit 69
fi
for tool in kvstore kvctl; do
  [ -x "$bin/$tool" ] || { say "$bin/$tool is missing (\`make run\` builds it)" >&2; exit 66; }
done
base_port="${CORAFT_BASE_PORT:-7000}"
http_port="${CORAFT_HTTP_PORT:-}"
[ -z "$http_port" ] && [ -z "${CORAFT_BASE_PORT:-}" ] && http_port=8500
# address ID OFFSET: a replica's entry in the cluster file, with its HTTP address when the HTTP API is on.
address() {
  if [ -n "$http_port" ]; then
    echo "\"$1\": {\"udp\": \"127.0.0.1:$((base_port + $2))\", \"http\": \"127.0.0.1:$((http_port + $2))\"}"
  else
    echo "\"$1\": \"127.0.0.1:$((base_port + $2))\""
  fi
}
# Peer datagrams are signed with a cluster secret and clients present a token (both made once, mode 0600).
[ -f "$dir/cluster.key" ] || "$bin/kvctl" keygen "$dir/cluster.key" >/dev/null
[ -f "$dir/client.token" ] || "$bin/kvctl" keygen "$dir/client.token" >/dev/null
# The cluster file: every replica the cluster runs, each on the base port plus its id. Written at start and after a
# replace (replicas read it when they start; clients on every run).
nl=$'\n'
write_config() {
  local entries="" id
  for id in "${ids[@]}"; do entries+="${entries:+,$nl    }$(address "$id" $((10#$id)))"; done
  cat > "$config" <<JSON
{
  "key_file": "cluster.key",
  "client_token_file": "client.token",
  "replicas": {
    $entries
  }
}
JSON
  echo "${ids[*]}" >"$dir/members"
}
write_config
# ports BASE: each replica's port counting from BASE.
ports() { local id out=""; for id in "${ids[@]}"; do out+="${out:+, }$(($1 + 10#$id))"; done; echo "$out"; }

declare -A pid=()  # id -> pid of the running replica; unset once it has ended and been reported
colours=(36 35 33)
pdeathsig=()
command -v setpriv >/dev/null 2>&1 && pdeathsig=(setpriv --pdeathsig TERM --)

# how_it_ended STATUS: "exited with status N (what that means)" or "was killed by signal NAME", from a `wait`.
how_it_ended() {
  if [ "$1" -gt 128 ]; then echo "was killed by signal $(kill -l $(($1 - 128)))"; return; fi
  local meaning=""
  case "$1" in  # kvstore's exit codes (README: Exit codes)
    64) meaning=" (a bad command line)" ;;
    66) meaning=" (it cannot read the cluster file)" ;;
    69) meaning=" (another process has its address)" ;;
    70) meaning=" (an unexpected failure)" ;;
    74) meaning=" (its data directory cannot be used, or its disk failed)" ;;
    77) meaning=" (it was removed from the cluster)" ;;
    78) meaning=" (the cluster file is invalid)" ;;
  esac
  echo "exited with status $1$meaning"
}

stopping=false

# reap ID: wait for the replica to end (it has, or is about to) and report how.
reap() {
  local status=0
  wait "${pid[$1]}" || status=$?
  unset "pid[$1]"
  local hint="; \`examples/cluster.sh start $1\` starts it again"
  { $stopping || [ "$status" -eq 77 ]; } && hint=""
  say "replica $1 $(how_it_ended "$status")$hint"
}

# launch ID [ARG...]: starts the replica (with kvstore's extra ARGs) and waits until it answers; prints an error and returns 1 if it ends first (its
# status is then in failed_status) or does not answer within 30 s.
failed_status=70
launch() {
  local id=$1 index=$((10#$1)) prefix
  prefix="$(printf '\033[%sm' "${colours[$((index % ${#colours[@]}))]}")[$id]$(printf '\033[0m') "
  # The log pipeline ignores Ctrl-C: it ends when the replica does, after its last words.
  "${pdeathsig[@]}" "$bin/kvstore" --config "$config" --id "$id" --data-dir "$dir/$id" "${@:2}" \
    --log-level "${CORAFT_LOG:-info}" 3<&- 5>&- > >(trap '' INT TERM HUP; tee -a "$dir/$id.log" | sed -u "s/^/$prefix/") 2>&1 &
  pid[$id]=$!
  local give_up=$((SECONDS + 30))
  until "$bin/kvctl" --cluster "$config" metrics "$id" >/dev/null 2>&1 3<&- 5>&-; do
    [ -n "$stop_requested" ] && return 1
    if ! kill -0 "${pid[$id]}" 2>/dev/null; then
      local status=0
      wait "${pid[$id]}" || status=$?
      unset "pid[$id]"
      [ "$status" -gt 0 ] && [ "$status" -le 128 ] && failed_status=$status
      say "replica $id could not start: it $(how_it_ended "$status"); its log above says why" >&5
      return 1
    fi
    if [ $SECONDS -ge $give_up ]; then
      say "replica $id did not answer within 30 s of starting (its log is in $dir/$id.log)" >&5
      return 1
    fi
    sleep 0.1
  done
}

# stop_replica ID SIGNAL: signals it and waits (up to 10 s, then SIGKILL) until it has ended and been reported.
stop_replica() {
  local id=$1 waited=0
  kill "-$2" "${pid[$id]}" 2>/dev/null || true
  while kill -0 "${pid[$id]}" 2>/dev/null && [ $waited -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
  kill -KILL "${pid[$id]}" 2>/dev/null || true
  reap "$id"
}

# shutdown SIGNAL: stops every replica. After a Ctrl-C (INT) the replicas got the terminal's SIGINT too and are
# stopping already: give them a moment before signalling them again.
shutdown() {
  trap '' INT TERM HUP  # a second Ctrl-C must not cut the stop short and leave replicas behind
  $stopping && return
  stopping=true
  echo
  say "stopping the cluster"
  if [ "$1" = INT ]; then
    local waited=0
    while [ $waited -lt 30 ]; do
      local running=0
      for id in "${!pid[@]}"; do kill -0 "${pid[$id]}" 2>/dev/null && running=1; done
      [ $running -eq 0 ] && break
      sleep 0.1
      waited=$((waited + 1))
    done
  fi
  for id in "${!pid[@]}"; do kill -TERM "${pid[$id]}" 2>/dev/null || true; done
  for id in "${!pid[@]}"; do stop_replica "$id" TERM; done
  rm -f "$control" "$supervisor_pid_file"
  say "stopped. Logs are in $dir/"
}
# The traps only note the request: the main loop acts on it. (A trap that does the work itself can run inside
# `read -t`, whose time-out jumps out of whatever the trap is doing when it expires.)
stop_requested=""
trap 'stop_requested=INT' INT
trap 'stop_requested=TERM' TERM HUP
# Also on the way out for any other reason: with set -e, a command that dies of the same Ctrl-C (a `sleep`, the
# banner's `cat`) ends the script, and that is still a requested stop, so it ends with status 0.
trap 'shutdown "${stop_requested:-TERM}"; [ -z "$stop_requested" ] || exit 0' EXIT

# Bash reports a background job killed by a signal ("line 113: 2191 Killed ...") on its stderr. The supervisor
# reports every replica's end itself, in words, so bash's own diagnostics go to a file; the supervisor's errors go to
# the terminal's stderr, kept as fd 5.
exec 5>&2 2>>"$dir/supervisor.log"
rm -f "$control"
mkfifo -m 600 "$control"
echo $$ >"$supervisor_pid_file"
exec 3<>"$control"  # read-write: the FIFO never reads as ended between two commands

for id in "${ids[@]}"; do
  if ! launch "$id"; then
    [ -n "$stop_requested" ] && { shutdown "$stop_requested"; trap - EXIT; exit 0; }
    say "not every replica started, so the cluster is stopped" >&5
    trap - EXIT
    shutdown TERM >&5
    exit "$failed_status"  # the replica's own exit code (README: Exit codes), or 70 if it died otherwise
  fi
done

http_line="" curl_line=""
if [ -n "$http_port" ]; then
  http_line=$',\n'"its HTTP API (Consul's KV API) on http://127.0.0.1 ports $(ports "$http_port")"
  curl_line="  curl -s -H \"X-Consul-Token: \$(cat $dir/client.token)\" http://127.0.0.1:$http_port/v1/kv/greeting?raw"$'\n'
fi
cat <<MSG

coraft: a ${#ids[@]}-replica cluster is running on 127.0.0.1 ports $(ports "$base_port") (config: $config)$http_line
Try, in another terminal:
  build/bin/kvctl put greeting hello
  build/bin/kvctl get greeting
  build/bin/kvctl status
$curl_line  build/bin/kvchat --room lobby --nick alice      # and bob in a third terminal
  examples/cluster.sh kill \$(build/bin/kvctl leader)   # then watch the others take over
  examples/cluster.sh start                      # and it comes back
Press Ctrl-C to stop every replica.

MSG

# answer REPLY_FIFO STATUS TEXT
answer() { echo "$2 $3" >"$1" 2>/dev/null || true; }

known() { [ -n "${1:-}" ] && [[ " ${ids[*]} " == *" $1 "* ]]; }

handle() {
  local command=$1 id=${2:-} reply=${!#}
  [ $# -eq 2 ] && id=""
  if [ -n "$id" ] && ! known "$id"; then
    answer "$reply" error "there is no replica $id (the replicas are ${ids[*]})"
    return
  fi
  case "$command" in
    kill|stop)
      if [ -z "${pid[$id]:-}" ]; then answer "$reply" error "replica $id is not running"; return; fi
      local victim=${pid[$id]}
      if [ "$command" = kill ]; then
        stop_replica "$id" KILL  # reported before the answer: a `start` that follows finds it gone
        answer "$reply" ok "sent SIGKILL to replica $id (pid $victim)"
      else
        stop_replica "$id" TERM
        answer "$reply" ok "stopped replica $id (pid $victim)"
      fi ;;
    start|restart)
      local wanted=("$id") started=()
      [ -z "$id" ] && wanted=("${ids[@]}")
      if [ "$command" = restart ] && [ -n "${pid[$id]:-}" ]; then stop_replica "$id" TERM; fi
      for one in "${wanted[@]}"; do
        [ -n "${pid[$one]:-}" ] && continue
        if ! launch "$one"; then answer "$reply" error "replica $one could not start (see the cluster's terminal)"; return; fi
        say "started replica $one (pid ${pid[$one]})"
        started+=("$one (pid ${pid[$one]})")
      done
      if [ ${#started[@]} -eq 0 ]; then answer "$reply" ok "every replica asked for is running already"
      else answer "$reply" ok "started replica ${started[*]}"; fi ;;
    replace)
      if [ -z "${pid[$id]:-}" ]; then answer "$reply" error "replica $id is not running"; return; fi
      # Ids are never reused: the next one after every id that ever had a data directory here.
      local highest=0 entry new out
      for entry in "$dir"/[0-9][0-9][0-9][0-9]; do
        [ -d "$entry" ] && [ $((10#${entry##*/})) -gt $highest ] && highest=$((10#${entry##*/}))
      done
      new=$(printf '%04d' $((highest + 1)))
      ids+=("$new")
      write_config
      if ! launch "$new" --join; then answer "$reply" error "replica $new could not start (see the cluster's terminal)"; return; fi
      say "started replica $new (pid ${pid[$new]}) to replace $id; adding it to the cluster"
      # A learner first; then, once it has caught up, one joint change makes it a voter and removes $id: the
      # cluster keeps three voters throughout.
      if ! out=$("$bin/kvctl" --cluster "$config" --timeout 120 member add "$new" "127.0.0.1:$((base_port + 10#$new))" --learner 2>&1 3<&- 5>&-); then
        answer "$reply" error "adding $new failed: ${out//$nl/; }"; return
      fi
      if ! out=$("$bin/kvctl" --cluster "$config" --timeout 120 member replace "$new" "$id" 2>&1 3<&- 5>&-); then
        answer "$reply" error "$new was added as a learner, but replacing $id by it failed: ${out//$nl/; }"; return
      fi
      local kept=() one
      for one in "${ids[@]}"; do [ "$one" != "$id" ] && kept+=("$one"); done
      ids=("${kept[@]}")
      write_config
      say "replica $id was removed from the cluster; it stops by itself in a few seconds"
      answer "$reply" ok "replaced replica $id by $new at 127.0.0.1:$((base_port + 10#$new)): $new joined as a learner, caught up and votes; $id was removed" ;;
    *) answer "$reply" error "unknown command $command" ;;
  esac
}

# A time-out can expire in the middle of a request's line (bash reads a FIFO a byte at a time): `read` then keeps the
# bytes it took in `line` and returns above 128, and they begin the next read's line. (Dropping them once turned a
# `start` into `tart`.)
partial=""
while :; do
  if read -t 0.2 -r -u 3 line; then
    line="$partial$line"
    partial=""
    # A replica that ended since the last pass is reported first, so that `start` right after a `kill` sees it gone.
    for id in "${!pid[@]}"; do
      kill -0 "${pid[$id]}" 2>/dev/null || reap "$id"
    done
    # shellcheck disable=SC2086  # the request is words
    handle $line
  elif [ $? -gt 128 ]; then
    partial+="$line"
  fi
  if [ -n "$stop_requested" ]; then  # before reaping: replicas that ended on the same Ctrl-C are part of the stop
    shutdown "$stop_requested"
    trap - EXIT
    exit 0
  fi
  for id in "${!pid[@]}"; do
    kill -0 "${pid[$id]}" 2>/dev/null || reap "$id"
  done
done
