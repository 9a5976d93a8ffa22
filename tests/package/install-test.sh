#!/usr/bin/env bash
# Installs coraft into a scratch prefix, as an operator would (cmake --install BUILD --prefix WORK/prefix), and runs
# what was installed: the layout (the four programs and no test tool, the documentation, the example configuration,
# the unit naming the installed paths), every program's --version and --help, and a replica started from the
# installed example configuration that answers a put and a get through the installed kvctl, logs its version at
# start and reports it as coraft_build_info. The test tools, which are not installed, must answer --version too.
#   tests/package/install-test.sh BUILD_DIR WORK_DIR VERSION TOOLS_DIR
set -euo pipefail
build="$1" work="$2" version="$3" tools="$4"
prefix="$work/prefix"
fail() { echo "install test: $*" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"

cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install failed"; }

[ "$(ls "$prefix/bin" | tr '\n' ' ')" = "kvbench kvchat kvctl kvstore " ] ||
  fail "installed programs are: $(ls "$prefix/bin" | tr '\n' ' ') (expected kvbench kvchat kvctl kvstore, no test tools)"
for f in etc/coraft/cluster.json lib/systemd/system/coraft@.service share/doc/coraft/README.md \
         share/doc/coraft/ARCHITECTURE.md share/doc/coraft/copyright share/doc/coraft/changelog.gz; do
  [ -f "$prefix/$f" ] || fail "$f was not installed"
done
unit="$prefix/lib/systemd/system/coraft@.service"
exec_start="ExecStart=$prefix/bin/kvstore --config $prefix/etc/coraft/cluster.json --id %i --data-dir /var/lib/coraft/%i"
grep -qxF "$exec_start" "$unit" || fail "the unit does not start the installed kvstore: $(grep ExecStart "$unit")"

version_pattern() { echo "^$1 \\(coraft\\) ${version//./\\.}, commit ([0-9a-f]{12}(-dirty)?|unknown)\$"; }
for program in "$prefix"/bin/kvstore "$prefix"/bin/kvctl "$prefix"/bin/kvbench "$prefix"/bin/kvchat \
               "$tools"/kvsim "$tools"/kvchaos "$tools"/kvcheck; do
  name="$(basename "$program")"
  said="$("$program" --version)" || fail "$name --version failed"
  [[ "$said" =~ $(version_pattern "$name") ]] || fail "$name --version said \"$said\""
  "$program" --help >/dev/null || fail "$name --help failed"
  echo "$said"
done

# The example configuration as installed, but on a free port: 7000 may be taken on this machine (make run uses it).
config="$prefix/etc/coraft/cluster.json"
source "$(dirname "$0")/../net/free-ports.sh"
free_ports 1
port=${ports[0]}
sed -i "s/127\.0\.0\.1:7000/127.0.0.1:$port/" "$config"
grep -q "127.0.0.1:$port" "$config" || fail "the example configuration has no replica on 127.0.0.1:7000"
# What the package's postinst does: the two secrets the example names, private to their owner.
"$prefix/bin/kvctl" keygen "$prefix/etc/coraft/cluster.key" >/dev/null
"$prefix/bin/kvctl" keygen "$prefix/etc/coraft/client.token" >/dev/null

log="$work/kvstore.log"
CORAFT_LOG=info "$prefix/bin/kvstore" --config "$config" --id 0000 --data-dir "$work/data/0000" >"$log" 2>&1 &
replica=$!
trap 'kill -KILL "$replica" 2>/dev/null || true' EXIT
kvctl() { "$prefix/bin/kvctl" --cluster "$config" --timeout 20 "$@"; }
kvctl put greeting hello >/dev/null || { cat "$log"; fail "put through the installed kvctl failed"; }
[ "$(kvctl get greeting)" = hello ] || { cat "$log"; fail "get did not return the value put"; }
build_info="coraft_build_info{replica=\"0000\",version=\"$version\",commit=\""
metrics="$(kvctl metrics 0000)" || fail "kvctl metrics failed"
grep -qF "$build_info" <<<"$metrics" || fail "the replica's metrics have no $build_info...\"} 1"
kill -TERM "$replica"
status=0
wait "$replica" || status=$?
trap - EXIT
[ "$status" -eq 0 ] || { cat "$log"; fail "the replica exited with status $status after SIGTERM"; }
grep -qE "kvstore \\(coraft\\) ${version//./\\.}, commit" "$log" || { cat "$log"; fail "the replica did not log its version at start"; }
echo "install test: installed into $prefix; the replica answered a put and a get and stopped cleanly"
