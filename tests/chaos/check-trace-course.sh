#!/usr/bin/env bash
# ctest: tests/bench/trace-course.sh on a short course run takes puts apart from the relay's send to its routing of
# the answer, and its hops come in the order a put takes them (a trace file missing, or a clock that does not line
# up with the datagram log, shows here).
#   check-trace-course.sh BIN_DIR CONFIG
set -euo pipefail
bin=$1 config=$2
out=$(CORAFT_BIN="$bin" "$(dirname "$0")/../bench/trace-course.sh" "$config" 6)
echo "$out"
puts=$(sed -nE 's/^([0-9]+) puts traced.*/\1/p' <<<"$out")
[ "${puts:-0}" -gt 20 ] || { echo "FAIL: only ${puts:-0} puts traced"; exit 1; }
median() { awk -v w="$1" -v h="$2" '$1 == w && substr($0, 12, 15) ~ "^" h " *$" { print $(NF - 1) }' <<<"$out"; }
previous=0
for hop in "leader|client_in" "leader|append_out" "follower1|append_in" "follower1|ack_out" "leader|committed" \
           "leader|reply_out" "relay|answer routed"; do
  at=$(median "${hop%|*}" "${hop#*|}")
  [ -n "$at" ] || { echo "FAIL: no row for $hop"; exit 1; }
  awk -v a="$at" -v b="$previous" 'BEGIN { exit !(a + 0 > b + 0) }' || { echo "FAIL: $hop at $at us, not after $previous"; exit 1; }
  previous=$at
done
echo "hops in order"
