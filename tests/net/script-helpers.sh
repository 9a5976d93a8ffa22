# Sourced by the real-process test scripts (set `test_name` first): a scratch directory `dir`, kept when the test
# fails (or with KEEP=1); every process whose pid is in `pids` killed at exit; fail and step messages; free loopback
# UDP ports.
dir=$(mktemp -d "${TMPDIR:-/tmp}/coraft-$test_name.XXXXXX")
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $status -ne 0 ]; then echo "$test_name: FAILED; logs and files in $dir" >&2
  elif [ -n "${KEEP:-}" ]; then echo "$test_name: logs and files kept in $dir"
  else rm -rf "$dir"; fi
}
trap cleanup EXIT
fail() { echo "$test_name: $*" >&2; exit 1; }
step() { echo "== [$(date +%T.%3N)] $*"; }

# free_ports N (sets `ports`).
source "$(dirname "${BASH_SOURCE[0]}")/free-ports.sh"
