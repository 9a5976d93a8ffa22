#!/usr/bin/env bash
# Where a request's time goes under the course simulator's relay: kvchaos runs a course config with every replica
# tracing its hops (kvstore --trace-hops) and the relay logging every datagram, then one breakdown per hop: the
# median time since the relay sent a put, on the leader, on its followers in the order the append reached them, and
# at the relay (where the latency sample is taken, when it routes the answer).
#   tests/bench/trace-course.sh [CONFIG.json] [SECONDS]      (tests/chaos/configs/simple-2.json, 30 s by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
config="${1:-tests/chaos/configs/simple-2.json}"
lifetime="${2:-30}"
[ -f "$config" ] || { echo "no config $config" >&2; exit 66; }
bin="${CORAFT_BIN:-$(pwd)/build/bin}"  # CORAFT_BIN: where the binaries are, when not in build/bin
[ -x "$bin/kvchaos" ] && [ -x "$bin/kvstore" ] || { echo "build first: make test (or cmake --build build)" >&2; exit 66; }
work="$(mktemp -d /tmp/coraft-trace-course.XXXXXX)"
trap 'rm -rf "$work"' EXIT INT TERM

"$bin/kvchaos" "$config" --lifetime "$lifetime" --trace-hops "$work" --datagram-log "$work/datagrams.log" \
  2>"$work/kvchaos.err" | grep -E "median_latency|total_msgs|: pass|: FAIL" || true
if ! ls "$work"/*.txt >/dev/null 2>&1; then
  echo "no replica traced anything; kvchaos said:" >&2
  tail -n 20 "$work/kvchaos.err" >&2
  exit 1
fi
python3 - "$work" <<'PY'
import bisect, collections, glob, statistics, sys
work = sys.argv[1]
hops = []  # (ns, replica, hop, index)
for path in glob.glob(f"{work}/*.txt"):
    for line in open(path):
        ns, replica, hop, index = line.split()
        hops.append((int(ns), replica, hop, int(index)))
hops.sort()
times = [h[0] for h in hops]
origin, relay = None, []  # relay: (ns, src, dst, type, mid)
for line in open(f"{work}/datagrams.log"):
    f = line.split()
    if f[0] == "#":
        origin = int(f[2])
        continue
    relay.append((origin + int(float(f[0]) * 1e9), f[1], f[2], f[3], f[4] if len(f) > 4 else ""))
if origin is None or not hops:
    sys.exit("the datagram log names no clock origin, or the traces are empty")
answers = {mid: t for t, src, dst, kind, mid in relay if kind in ("ok", "redirect", "fail")}

samples = collections.defaultdict(list)
puts = 0
for t0, src, leader, kind, mid in relay:
    if kind != "put" or mid not in answers:
        continue
    # The leader's first client_in after the relay sent this put, and the index the put got there.
    window = hops[bisect.bisect_left(times, t0):bisect.bisect_right(times, answers[mid])]
    start = next((h for h in window if h[1] == leader and h[2] == "client_in"), None)
    index = next((h[3] for h in window if h[1] == leader and h[2] == "appended" and start and h[0] >= start[0]), None)
    if start is None or index is None:
        continue  # redirected, or answered by another replica
    puts += 1
    first = {}
    for t, replica, hop, x in window:
        if x != 0 and x < index:
            continue  # an earlier entry's
        first.setdefault((replica, hop), t)
    followers = sorted((t, r) for (r, h), t in first.items() if r != leader and h == "append_in")
    name = {leader: "leader"}
    for rank, (_, r) in enumerate(followers):
        name[r] = f"follower{rank + 1}"
    for (r, h), t in first.items():
        if r in name and h not in ("ack_in", "reply_out"):  # a reply names no index: found below
            samples[(name[r], h)].append((t - t0) / 1e3)
    # A put is answered once committed (the gateway does not wait for the applier).
    committed = first.get((leader, "committed"))
    reply = next((t for t, r, h, _ in window
                  if r == leader and h == "reply_out" and committed and t >= committed), None)
    if reply:
        samples[("leader", "reply_out")].append((reply - t0) / 1e3)
    # The acknowledgements covering this put, in the order the leader took them in (a majority's is the commit's).
    acks = [t for t, r, h, x in window if r == leader and h == "ack_in" and x >= index]
    for rank, t in enumerate(acks[:4]):
        samples[("leader", f"ack_in #{rank + 1}")].append((t - t0) / 1e3)
    samples[("relay", "answer routed")].append((answers[mid] - t0) / 1e3)

print(f"{puts} puts traced from the relay's send to its routing of the answer")
print(f"{'where':10} {'hop':15} {'median us':>10} {'p90 us':>9}   since the relay sent the put")
for (where, hop), values in sorted(samples.items(), key=lambda kv: statistics.median(kv[1])):
    if len(values) < puts / 2:
        continue  # a hop most puts never take (a follower that rarely gets one, a third ack)
    values.sort()
    print(f"{where:10} {hop:15} {statistics.median(values):10.1f} {values[int(len(values) * 0.9)]:9.1f}")
PY
