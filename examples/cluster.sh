#!/usr/bin/env bash
# Starts a local 3-replica coraft cluster in cluster mode (the main job of `make run`).
# Each replica keeps its write-ahead log under DIR/<id>; logs are prefixed and coloured; Ctrl-C stops every
# replica cleanly (run it again and the cluster comes back with its data).
#   examples/cluster.sh [DIR]   DIR holds cluster.json and the replicas' logs (default: ./data/local-cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-data/local-cluster}"
bin="$(pwd)/build/bin"
mkdir -p "$dir"
config="$dir/cluster.json"
base_port="${CORAFT_BASE_PORT:-7000}"
http_port="${CORAFT_HTTP_PORT:-8500}"  # each replica's HTTP API (Consul's KV API): 8500, 8501, 8502
# Peer datagrams are signed with a cluster secret and clients present a token (both made once, mode 0600).
[ -f "$dir/cluster.key" ] || "$bin/kvctl" keygen "$dir/cluster.key" >/dev/null
[ -f "$dir/client.token" ] || "$bin/kvctl" keygen "$dir/client.token" >/dev/null
cat > "$config" <<JSON
{
  "key_file": "cluster.key",
  "client_token_file": "client.token",
  "replicas": {
    "0000": {"udp": "127.0.0.1:$base_port", "http": "127.0.0.1:$http_port"},
    "0001": {"udp": "127.0.0.1:$((base_port + 1))", "http": "127.0.0.1:$((http_port + 1))"},
    "0002": {"udp": "127.0.0.1:$((base_port + 2))", "http": "127.0.0.1:$((http_port + 2))"}
  }
}
JSON

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "coraft: stopping the cluster"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "coraft: stopped. Logs are in $dir/"
}
trap stop INT TERM EXIT

colours=(36 35 33)
for i in 0 1 2; do
  id="000$i"
  prefix="$(printf '\033[%sm' "${colours[$i]}")[$id]$(printf '\033[0m') "
  "$bin/kvstore" --config "$config" --id "$id" --data-dir "$dir/$id" --log-level "${CORAFT_LOG:-info}" \
    > >(tee "$dir/$id.log" | sed -u "s/^/$prefix/") 2>&1 &
  pids+=("$!")  # the replica itself, so stop() signals it directly
done

sleep 0.5
cat <<MSG

coraft: a 3-replica cluster is running on 127.0.0.1:$base_port-$((base_port + 2)) (config: $config),
its HTTP API (Consul's KV API) on http://127.0.0.1:$http_port-$((http_port + 2))
Try, in another terminal:
  build/bin/kvctl --cluster $config put greeting hello
  build/bin/kvctl --cluster $config get greeting
  build/bin/kvctl --cluster $config status
  curl -s -H "X-Consul-Token: \$(cat $dir/client.token)" http://127.0.0.1:$http_port/v1/kv/greeting?raw
  build/bin/kvctl --cluster $config metrics 0000          # counters, Prometheus text
  build/bin/kvchat --cluster $config --room lobby --nick alice   # and bob in a third terminal
Kill the leader (its pid is in 'ps'; 'kvctl status' shows which id leads) and watch the others take over.
Press Ctrl-C to stop every replica.

MSG
wait
