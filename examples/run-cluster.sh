#!/usr/bin/env bash
# Starts a local 3-replica coraft cluster (the main job of `make run`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x build/bin/kvstore ]; then
  echo "coraft: built everything under build/bin:"
  ls build/bin
  echo "coraft: the replica (build/bin/kvstore) does not exist yet; 'make run' will start three of them on"
  echo "        127.0.0.1:7000-7002 in cluster mode once it does."
  exit 0
fi
exec examples/cluster.sh "$@"
