#!/usr/bin/env bash
# Runs the README's curl examples verbatim (the block after "<!-- curl examples") against a three-replica cluster
# laid out as `make run` lays it out (data/local-cluster/ under a scratch folder), and checks every line that says
# "# → OUTPUT": its output must be OUTPUT exactly. Other lines must merely succeed.
#   tests/http/readme-curl-test.sh README BIN_DIR WORK_DIR
set -euo pipefail
readme=$1
bin=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$3
command -v curl >/dev/null || { echo "curl is needed: run cmake/install-deps.sh --test (make test does)" >&2; exit 1; }

block=$(awk '/<!-- curl examples/ {found=1; next} found && /^```sh/ {inside=1; next} inside && /^```/ {exit} inside {print}' "$readme")
[ -n "$block" ] || { echo "no curl examples found in $readme" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work/data/local-cluster"
cd "$work"
dir=data/local-cluster
"$bin/kvctl" keygen "$dir/cluster.key" >/dev/null
"$bin/kvctl" keygen "$dir/client.token" >/dev/null
source "$here/../net/free-ports.sh"
free_ports 6
read -r u0 u1 u2 h0 h1 h2 <<<"${ports[*]}"
cat >"$dir/cluster.json" <<JSON
{"key_file": "cluster.key", "client_token_file": "client.token",
 "election_timeout_ms": [150, 300], "heartbeat_ms": 50,
 "replicas": {"0000": {"udp": "127.0.0.1:$u0", "http": "127.0.0.1:$h0"},
              "0001": {"udp": "127.0.0.1:$u1", "http": "127.0.0.1:$h1"},
              "0002": {"udp": "127.0.0.1:$u2", "http": "127.0.0.1:$h2"}}}
JSON
pids=()
trap 'for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done' EXIT
for i in 0 1 2; do
  "$bin/kvstore" --config "$dir/cluster.json" --id "000$i" --data-dir "$dir/000$i" --fsync none >"$dir/000$i.log" 2>&1 &
  pids+=("$!")
done
export H="http://127.0.0.1:$h0"
for _ in $(seq 200); do
  leader=$(curl -s -m 1 "$H/v1/status/leader" || true)
  [ -n "$leader" ] && [ "$leader" != '""' ] && break
  sleep 0.05
done

# Each example line runs in one shell (variables carry over); "# → OUTPUT" lines compare their output.
script="$work/examples.sh"
{
  echo 'set -euo pipefail'
  echo 'failures=0'
  n=0
  while IFS= read -r line; do
    n=$((n + 1))
    if [[ "$line" == *' # → '* ]]; then
      command="${line% # → *}"
      expected="${line##* # → }"
      printf 'actual=$(%s)\n' "$command"
      printf 'expected=%q\n' "$expected"
      printf 'if [ "$actual" = "$expected" ]; then echo "ok   $expected"; else echo "FAIL line %d: %q gave \\"$actual\\", expected \\"$expected\\""; failures=$((failures + 1)); fi\n' \
        "$n" "$command"
    else
      printf '%s\n' "$line"
    fi
  done <<<"$block"
  echo 'wait'
  echo 'exit $failures'
} >"$script"
started=$SECONDS
if ! bash "$script"; then
  echo "README curl examples failed; the cluster's logs are in $work/$dir" >&2
  exit 1
fi
echo "README curl examples: all passed in $((SECONDS - started)) s"
