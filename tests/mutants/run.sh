#!/usr/bin/env bash
# Mutation testing: each patch in tests/mutants/ breaks one rule on purpose. For each, a scratch copy of the tree is
# patched and built, then the unit and scenario tests and the random kvsim campaign must catch it.
#
#   tests/mutants/run.sh check          every patch still applies to the current tree (fast: make test runs it)
#   tests/mutants/run.sh all            the full table: every mutant built and run
#   tests/mutants/run.sh daily          check, then the catch for two mutants chosen by the day of the year
#   tests/mutants/run.sh NAME...        these mutants (file names without .patch)
#   tests/mutants/run.sh quick BUILD [NAME...]
#                                       the random campaign's catch only, cheaply, for NAME... (default: two chosen
#                                       by the day of the year; make test runs this): the files a mutant changes are
#                                       compiled with BUILD's own flags and linked into a copy of BUILD's kvsim ahead
#                                       of its libraries. Mutants that change a header need the full build instead.
#
# Environment: SEEDS (kvsim seeds a mutant must be caught within, default 2000), WORK (scratch copy and build,
# default build/mutants), JOBS (build parallelism, default nproc).
# Prints one table: mutant, the tests that fail, the first kvsim seed that fails (counting from 1), and the verdict.
# A mutant the random campaign does not catch within SEEDS seeds is "missed"; the exit status is 1 if any mutant
# is missed or any patch no longer applies.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
here="$top/tests/mutants"
seeds="${SEEDS:-2000}"
work="${WORK:-$top/build/mutants}"
jobs="${JOBS:-$(nproc)}"
mode="${1:-all}"

all_mutants() { for p in "$here"/*.patch; do basename "$p" .patch; done; }

check_all() {  # every patch applies cleanly to the tree as it is
  local bad=0
  for name in $(all_mutants); do
    if ! patch -p1 --dry-run --silent -d "$top" < "$here/$name.patch" > /dev/null 2>&1; then
      echo "mutant $name: the patch no longer applies; update tests/mutants/$name.patch to the current code" >&2
      bad=1
    fi
  done
  [ $bad -eq 0 ] && echo "mutants: all $(all_mutants | wc -l) patches apply"
  return $bad
}

if [ "$mode" = check ]; then check_all; exit; fi
check_all

if [ "$mode" = quick ]; then
  build="$(cd "${2:?usage: run.sh quick BUILD_DIR [NAME...]}" && pwd)"
  shift 2
  cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
  quick=()
  for name in $(all_mutants); do  # those that change no header
    grep '^+++ b/' "$here/$name.patch" | grep -qv '\.cpp$' || quick+=("$name")
  done
  if [ $# -gt 0 ]; then chosen=("$@")
  else
    day=$((10#$(date +%j)))
    chosen=("${quick[$((day % ${#quick[@]}))]}" "${quick[$(((day + ${#quick[@]} / 2) % ${#quick[@]}))]}")
  fi
  missed=0
  for name in "${chosen[@]}"; do
    [ -f "$here/$name.patch" ] || { echo "no such mutant: $name" >&2; exit 2; }
    out="$build/mutants-quick/$name"
    rm -rf "$out"
    mkdir -p "$out/src"
    objects=()
    for f in $(grep '^+++ b/' "$here/$name.patch" | sed 's|^+++ b/||'); do
      case "$f" in *.cpp) ;; *) echo "mutant $name changes $f, a header: run.sh $name builds it" >&2; exit 2 ;; esac
      mkdir -p "$out/src/$(dirname "$f")"
      cp "$top/$f" "$out/src/$f"
      # The library target that compiles this file, and its flags.
      rules=$(grep -l ": $top/$f\$" "$build"/*/CMakeFiles/coraft_*.dir/build.make | head -1)
      [ -n "$rules" ] || { echo "mutant $name: no target in $build compiles $f" >&2; exit 2; }
      flags="$(dirname "$rules")/flags.make"
      defines=$(sed -n 's/^CXX_DEFINES = //p' "$flags")
      includes=$(sed -n 's/^CXX_INCLUDES = //p' "$flags")
      cxxflags=$(sed -n 's/^CXX_FLAGS = //p' "$flags")
      objects+=("$out/$(basename "$f" .cpp).o")
      files+=("$f")
    done
    patch -p1 --silent -d "$out/src" < "$here/$name.patch"
    for f in "${files[@]}"; do
      # shellcheck disable=SC2086  # the flags are words
      "$cxx" $defines $includes $cxxflags -Wno-error -c "$out/src/$f" -o "$out/$(basename "$f" .cpp).o"
    done
    files=()
    # kvsim's own link line, with the mutant's objects ahead of the libraries that hold the originals.
    link=$(cat "$build/tests/CMakeFiles/kvsim.dir/link.txt")
    link=${link/ -o ..\/bin\/kvsim / ${objects[*]} -o $out/kvsim }
    (cd "$build/tests" && eval "$link")
    log="$out/kvsim.log"
    status=0
    "$out/kvsim" --seeds "$seeds" --seed 1 --stop-at-first-failure > "$log" 2>&1 || status=$?
    first=$(grep -m1 -oE '^seed [0-9]+ FAILED' "$log" | awk '{print $2}' || true)
    if [ -n "$first" ]; then echo "mutant $name: caught by kvsim at seed $first"
    elif [ $status -gt 128 ]; then
      # Not a catch: a mutant breaks rules, not memory. Most likely BUILD is stale (build it first).
      echo "mutant $name: kvsim died of signal $((status - 128)) (is $build built from this tree?); see $log"; missed=1
    else echo "mutant $name: MISSED by kvsim within $seeds seeds (see $log)"; missed=1; fi
  done
  exit $missed
fi

case "$mode" in
  all) mutants=$(all_mutants) ;;
  daily)
    list=($(all_mutants))
    day=$((10#$(date +%j)))
    mutants="${list[$((day % ${#list[@]}))]} ${list[$(((day + ${#list[@]} / 2) % ${#list[@]}))]}"
    ;;
  *) mutants="$*" ;;
esac

# The scratch copy: the tracked files of the tree (with any uncommitted edits) as they are now, kept in $work/base,
# and the copy that is built, $work/src, refreshed file by file from it so that the build there only recompiles what
# changed since the last mutant. Each mutant is undone from $work/base, so edits made to the tree while this runs
# change nothing here.
base="$work/base"
src="$work/src"
mkdir -p "$base" "$src" "$work/build"
(cd "$top" && git ls-files -z --cached --others --exclude-standard) | while IFS= read -r -d '' f; do
  [ -f "$top/$f" ] || continue
  if ! cmp -s "$top/$f" "$base/$f" 2>/dev/null; then mkdir -p "$base/$(dirname "$f")"; cp "$top/$f" "$base/$f"; fi
  if ! cmp -s "$base/$f" "$src/$f" 2>/dev/null; then mkdir -p "$src/$(dirname "$f")"; cp "$base/$f" "$src/$f"; fi
done
if [ ! -f "$work/build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCORAFT_WERROR=OFF > "$work/configure.log"
fi
targets=(kvsim sim_test raft_test actors_test kv_test)

results=()
missed=0
for name in $mutants; do
  patch_file="$here/$name.patch"
  [ -f "$patch_file" ] || { echo "no such mutant: $name" >&2; exit 2; }
  touched=$(grep '^+++ b/' "$patch_file" | sed 's|^+++ b/||')
  patch -p1 --silent -d "$src" < "$patch_file"
  echo "mutant $name: building ($touched)" >&2
  if ! cmake --build "$work/build" -j "$jobs" --target "${targets[@]}" > "$work/$name.build.log" 2>&1; then
    results+=("$name|build failed (see $work/$name.build.log)|-|ERROR")
    missed=1
  else
    failing=()
    for t in sim_test raft_test actors_test kv_test; do
      # Catch2 lists the failing test cases; a crash counts too.
      out="$work/$name.$t.log"
      if ! (cd "$work/build" && timeout 600 "bin/$t" --reporter compact > "$out" 2>&1); then
        cases=$(grep -oE '[^ ]*\.cpp:[0-9]+: (failed|FAILED)' "$out" | sed -E 's/:[0-9]+: (failed|FAILED)//; s|.*/tests/||' | sort -u | head -3 | tr '\n' ' ')
        failing+=("$t${cases:+ ($cases)}")
      fi
    done
    kvsim_out="$work/$name.kvsim.log"
    (cd "$work/build" && timeout 1800 bin/kvsim --seeds "$seeds" --seed 1 --stop-at-first-failure > "$kvsim_out" 2>&1) || true
    first=$(grep -m1 -oE '^seed [0-9]+ FAILED' "$kvsim_out" | awk '{print $2}' || true)
    if [ -n "$first" ]; then verdict="caught"; else verdict="MISSED"; missed=1; first="none in $seeds"; fi
    tests="${failing[*]:-none}"
    results+=("$name|$tests|$first|$verdict")
  fi
  # Back to the tree as it was; a new timestamp, so the next build recompiles these files.
  for f in $touched; do cp "$base/$f" "$src/$f"; done
done

printf '\n%-38s %-8s %-8s %s\n' "mutant" "verdict" "seed" "tests that fail"
for r in "${results[@]}"; do
  IFS='|' read -r name tests first verdict <<< "$r"
  printf '%-38s %-8s %-8s %s\n' "$name" "$verdict" "$first" "$tests"
done
exit $missed
