#!/usr/bin/env bash
# Renders kvsim's and kvchaos's HTML timelines in headless Chromium and checks that the page drew what the run did:
# the tools print what they recorded (role spans, leader spans, fault events, partitions, operations), and the DOM
# Chromium produced after running the page's script must hold exactly that many elements of each kind. It also checks
# the layout in a 1280-pixel window (and a wider one): the page needs no horizontal scrollbar, and no label runs past
# the picture's edge or over another label. That check is a script of its own, added to a copy of the page.
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

# The layout check, run after the page's own script: the result goes into <body data-layout="...">.
layout_check='<script>(() => {
  const problems = [], page = document.documentElement, svg = document.querySelector("#timeline svg");
  if (page.scrollWidth > page.clientWidth) problems.push(`the page is ${page.scrollWidth} px wide in a ${page.clientWidth} px window`);
  const edge = svg.getBoundingClientRect();
  const labels = [...svg.querySelectorAll("text")].filter(t => t.textContent).map(t => [t.textContent, t.getBoundingClientRect()]);
  for (const [s, r] of labels) {
    if (r.left < edge.left - 0.5 || r.right > edge.right + 0.5) problems.push(`"${s}" runs past the edge`);
  }
  const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  for (let i = 0; i < labels.length; ++i)
    for (let j = i + 1; j < labels.length; ++j)
      if (overlap(labels[i][1], labels[j][1])) problems.push(`"${labels[i][0]}" overlaps "${labels[j][0]}"`);
  document.body.setAttribute("data-layout", problems.length ? problems.slice(0, 8).join("; ") : "fits");
})();</script>'

# check NAME HTML FACTS_LINE: render, then compare the DOM with the facts line the tool printed, and check the layout.
check() {
  local name=$1 html=$2 facts=$3 dom="$work/$1.dom.html"
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --virtual-time-budget=5000 --dump-dom "file://$html" > "$dom" 2>"$work/$name.chromium.log"
  sed "s|</body>|$(sed 's/[&|]/\\&/g' <<<"$layout_check" | tr '\n' ' ')</body>|" "$html" > "$work/$name.layout.html"
  for window in 1280 1920; do
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --window-size=$window,900 \
      --virtual-time-budget=5000 --dump-dom "file://$work/$name.layout.html" > "$work/$name.layout-$window.html" \
      2>>"$work/$name.chromium.log"
  done
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --window-size=1280,1000 --screenshot="$work/$name.png" "file://$html" >/dev/null 2>&1 || true
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
  for window in 1280 1920; do
    local layout
    layout=$(grep -o 'data-layout="[^"]*"' "$work/$name.layout-$window.html" | head -1)
    if [ "$layout" = 'data-layout="fits"' ]; then echo "$name: layout in a $window-pixel window: fits"
    else echo "$name: layout in a $window-pixel window: ${layout:-the check did not run}"; failed=1; fi
  done
  [ -s "$work/$name.png" ] && echo "$name: screenshot $work/$name.png"
  return $failed
}

# A simulated run with crashes and partitions (5 replicas).
sim_facts=$("$bin/kvsim" --seeds 1 --seed 11 --replicas 5 --timeline "$work/kvsim.html" | grep '^timeline:')
echo "$sim_facts"
check kvsim "$work/kvsim.html" "$sim_facts"

# A short real-process run under the course simulator's faults.
# Its own output is kept: a run that fails must say why.
chaos_status=0
"$bin/kvchaos" "$chaos_config" --lifetime 8 --seed 5 --timeline "$work/kvchaos.html" >"$work/kvchaos.out" \
  2>"$work/kvchaos.err" || chaos_status=$?
chaos_facts=$(grep '^timeline:' "$work/kvchaos.err" || true)
if [ -z "$chaos_facts" ] || [ "$chaos_status" != 0 ]; then
  echo "kvchaos exited $chaos_status${chaos_facts:+ after drawing its timeline}${chaos_facts:- and drew no timeline}; its output:"
  tail -n 30 "$work/kvchaos.err" "$work/kvchaos.out"
  exit 1
fi
echo "$chaos_facts"
check kvchaos "$work/kvchaos.html" "$chaos_facts"
echo "timelines drawn as recorded"
