#!/usr/bin/env bash
# The npm consul package against a three-replica coraft cluster (tests/http/consul-client/consul_client_test.js).
#   tests/http/consul-client-test.sh BIN_DIR WORK_DIR
# Installs the package with `npm ci` from the committed package-lock.json (versions and checksums pinned) into
# WORK_DIR/node, once per lock file; node and npm come from cmake/install-deps.sh --test.
set -euo pipefail
bin=$1
work=$2
here="$(cd "$(dirname "$0")" && pwd)"
source_dir="$here/consul-client"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node and npm are needed: run cmake/install-deps.sh --test (make test does)" >&2
  exit 1
fi
node_dir="$work/node"
mkdir -p "$node_dir"
if ! cmp -s "$source_dir/package-lock.json" "$node_dir/package-lock.json" || [ ! -d "$node_dir/node_modules/consul" ]; then
  cp "$source_dir/package.json" "$source_dir/package-lock.json" "$node_dir/"
  rm -rf "$node_dir/node_modules"
  if ! (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error); then
    rm -f "$node_dir/package-lock.json"  # try again next time
    echo "npm ci failed: the npm registry (registry.npmjs.org) must be reachable to install the consul package" >&2
    exit 1
  fi
fi
cp "$source_dir/consul_client_test.js" "$node_dir/"
source "$here/../net/free-ports.sh"
free_ports 6  # node inherits the descriptors that hold the ports' locks
export CORAFT_TEST_PORTS="${ports[*]}"
exec node "$node_dir/consul_client_test.js" "$bin" "$work/cluster"
