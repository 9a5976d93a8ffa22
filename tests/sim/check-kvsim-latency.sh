#!/usr/bin/env bash
# kvsim's latency and message figures are simulated, so the same seeds give the same figures on every run (that is
# what lets a change to loss recovery be judged by them), and they are there: a run with client traffic reports a
# positive median.
#   tests/sim/check-kvsim-latency.sh KVSIM
set -euo pipefail
kvsim="$1"
first="$("$kvsim" --seeds 6 --seed 40 --replicas 5 --max-drop 0.3 | grep "client operation latency")"
second="$("$kvsim" --seeds 6 --seed 40 --replicas 5 --max-drop 0.3 | grep "client operation latency")"
echo "$first"
[ "$first" = "$second" ] || { echo "two runs of the same seeds differ: $second" >&2; exit 1; }
p50="$(sed -E 's/.*p50 ([0-9.]+) ms.*/\1/' <<<"$first")"
messages="$(sed -E 's/.*replica messages ([0-9]+) .*/\1/' <<<"$first")"
awk -v p="$p50" -v m="$messages" 'BEGIN { exit !(p > 0 && m > 0) }' || { echo "no latency or no messages: $first" >&2; exit 1; }
