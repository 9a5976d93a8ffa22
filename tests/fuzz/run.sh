#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs them against the seed corpus.
#   tests/fuzz/run.sh TARGET SECONDS    TARGET: codec, config, wal, snapshot, http, or all (one after another)
#   tests/fuzz/run.sh build             only build
# Installs clang and libFuzzer (Debian: clang, libclang-rt-14-dev) if missing. Each target reads the committed seeds
# (tests/fuzz/corpus/<target>/) and regressions (tests/fuzz/regressions/<target>/) and writes what it finds to
# build-fuzz/fuzz/<target>/: corpus/ (inputs with new coverage; the repo's corpus stays as it is), artifacts/
# (crash-*, leak-*, timeout-*, oom-*) and log. A finding makes the exit status 1; add the artifact to
# tests/fuzz/regressions/<target>/ once the bug is fixed, and fuzz_replay_test replays it from then on.
# Environment: JOBS (build jobs, default 2), NICE (default 10), FUZZ_ARGS (more libFuzzer options), NO_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/../.."

targets_all=(codec config wal snapshot http)
usage() { echo "usage: $0 {codec|config|wal|snapshot|http|all} SECONDS | $0 build" >&2; exit 64; }
[ $# -ge 1 ] || usage
what=$1
seconds=${2:-}
if [ "$what" != build ]; then
  [[ "$seconds" =~ ^[0-9]+$ ]] || usage
  if [ "$what" = all ]; then targets=("${targets_all[@]}");
  elif [[ " ${targets_all[*]} " == *" $what "* ]]; then targets=("$what");
  else usage; fi
fi

build=build-fuzz
jobs=${JOBS:-2}
nice_level=${NICE:-10}

install_fuzz_deps() {
  cmake/install-deps.sh
  local packages=(clang libclang-rt-14-dev) missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "coraft fuzz: installing missing packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "coraft fuzz: need root to install ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

if [ "${NO_BUILD:-0}" != 1 ]; then
  install_fuzz_deps
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCORAFT_FUZZ=ON \
    -DCORAFT_WERROR=OFF >/dev/null
  nice -n "$nice_level" cmake --build "$build" -j "$jobs" --target "${targets_all[@]/%/_fuzz}"
fi
[ "$what" = build ] && exit 0

found=0
summary=()
for t in "${targets[@]}"; do
  work="$build/fuzz/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  inputs=("$work/corpus" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && inputs+=("tests/fuzz/regressions/$t")
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
  echo "== $t: ${seconds}s, log in $work/log"
  before=$(find "$work/artifacts" -type f | wc -l)
  started=$SECONDS
  set +e
  # shellcheck disable=SC2086
  nice -n "$nice_level" "$build/bin/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} "${inputs[@]}" \
    >"$work/log" 2>&1
  status=$?
  set -e
  elapsed=$((SECONDS - started))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  cov=$(grep -E '^#[0-9]+' "$work/log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' || true)
  after=$(find "$work/artifacts" -type f | wc -l)
  if [ "$status" -ne 0 ] || [ "$after" -gt "$before" ]; then
    found=1
    result="FINDING (exit $status): $(grep -m1 -E 'ERROR:|runtime error|property broken|deadly signal' "$work/log" || true)"
    newest=$(ls -t "$work/artifacts" | head -1)
    [ -n "$newest" ] && result+=" -> $work/artifacts/$newest"
  else
    result="no findings"
  fi
  line="$t: ${execs:-?} executions in ${elapsed}s (${rate:-?}/s); ${cov:-}; $result"
  echo "$line"
  summary+=("$line")
done
if [ ${#targets[@]} -gt 1 ]; then
  echo "== summary"
  printf '%s\n' "${summary[@]}"
fi
exit "$found"
