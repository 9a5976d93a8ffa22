#!/usr/bin/env bash
# Renders kvsim's and kvchaos's HTML timelines in headless Chromium and checks that the page drew what the run did:
# the tools print what they recorded (role spans, leader spans, fault events, partitions, operations), and the DOM
# Chromium produced after running the page's script must hold exactly that many elements of each kind.
#   check-timeline.sh BIN_DIR CHAOS_CONFIG WORK_DIR
# Exits 77 (ctest: skipped) when Chromium is not installed (cmake/install-deps.sh --test installs it).
set -euo pipefail
bin=$1 chaos_config=$2 work=$3

browser=""
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then browser=$candidate; break; fi
done
if [ -z "$browser" ]; then
  echo "SKIPPED: no headless Chromium here (cmake/install-deps.sh --test installs Debian's chromium)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"

# count FILE PATTERN: how many times PATTERN occurs in FILE.
count() { grep -o -- "$2" "$1" | wc -l; }

# check NAME HTML FACTS_LINE: render, then compare the DOM with the facts line the tool printed.
check() {
  local name=$1 html=$2 facts=$3 dom="$work/$1.dom.html"
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --virtual-time-budget=5000 --dump-dom "file://$html" > "$dom" 2>"$work/$name.chromium.log"
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
    --window-size=1400,1000 --screenshot="$work/$name.png" "file://$html" >/dev/null 2>&1 || true
  want() { sed -E "s/.*[ (]([0-9]+) $1.*/\1/" <<<"$facts"; }
  local failed=0
  expect() {  # what, expected, actual
    if [ "$2" != "$3" ]; then echo "$name: $1: the run recorded $2, the page drew $3"; failed=1;
    else echo "$name: $1: $3"; fi
  }
  grep -q 'data-rendered="yes"' "$dom" || { echo "$name: the page's script did not finish"; cat "$work/$name.chromium.log"; return 1; }
  expect "role spans" "$(want 'role spans')" "$(count "$dom" 'class="span role-')"
  expect "leader spans" "$(want 'leader spans')" "$(count "$dom" 'class="span role-leader"')"
  expect "fault events" "$(want 'events')" "$(count "$dom" 'class="event event-')"
  expect "partition bands" "$(want 'bands')" "$(count "$dom" 'class="band"')"
  expect "operations" "$(want 'operations drawn')" "$(count "$dom" 'class="op op-')"
  expect "operations without answer" "$(want 'without answer')" "$(count "$dom" 'class="op op-failed"')"
  [ "$(want 'leader spans')" -gt 0 ] || { echo "$name: no leader in the whole run?"; failed=1; }
  [ "$(count "$dom" 'class="commit"')" -gt 0 ] || { echo "$name: no commit index line"; failed=1; }
  [ -s "$work/$name.png" ] && echo "$name: screenshot $work/$name.png"
  return $failed
}

# A simulated run with crashes and partitions (5 replicas).
sim_facts=$("$bin/kvsim" --seeds 1 --seed 11 --replicas 5 --timeline "$work/kvsim.html" | grep '^timeline:')
echo "$sim_facts"
check kvsim "$work/kvsim.html" "$sim_facts"

# A short real-process run under the course simulator's faults.
chaos_facts=$("$bin/kvchaos" "$chaos_config" --lifetime 8 --seed 5 --timeline "$work/kvchaos.html" 2>&1 >/dev/null | grep '^timeline:')
echo "$chaos_facts"
check kvchaos "$work/kvchaos.html" "$chaos_facts"
echo "timelines drawn as recorded"
