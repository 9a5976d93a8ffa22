#!/usr/bin/env bash
# Builds the Debian package from this build tree, as `make deb` does (CPack, into WORK_DIR rather than the build
# tree), and checks it: lintian finds no error; systemd-analyze verify passes the unit (coraft@0000.service, in the
# unpacked package) without a word; the control fields (version, the shared libraries dpkg-shlibdeps found,
# adduser, the conffile) and the file list are as README says. Then, as root where no coraft is installed, it installs
# the package twice (the maintainer scripts must be idempotent), checks what postinst made (the coraft user, its data
# directory, the private secrets), where systemd is PID 1 starts coraft@0000 and puts and gets through kvctl, and
# purges the package and checks that nothing is left.
# Exit 77 (skipped) when a tool is missing: cmake/install-deps.sh --test installs them.
#   tests/package/deb-test.sh BUILD_DIR WORK_DIR VERSION
set -euo pipefail
build="$1" work="$2" version="$3"
fail() { echo "package test: $*" >&2; exit 1; }
for tool in cpack dpkg-deb dpkg-shlibdeps file lintian systemd-analyze; do
  if ! command -v "$tool" >/dev/null; then
    echo "package test: skipped: $tool is missing (cmake/install-deps.sh --test installs it)"
    exit 77
  fi
done
rm -rf "$work"
mkdir -p "$work"

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack failed"; }
deb="$(ls "$work"/coraft_*.deb)"
echo "package test: built $deb"

echo "--- lintian"
status=0
said="$(lintian --fail-on error --tag-display-limit 0 "$deb" 2>&1)" || status=$?
grep -v "^running with root privileges" <<<"$said" || true
[ "$status" -eq 0 ] || fail "lintian found errors (exit status $status)"

echo "--- systemd-analyze verify"
root="$work/root"
dpkg-deb -x "$deb" "$root"
# verify resolves the unit's dependencies (multi-user.target, network-online.target, its slice) under --root, and
# an unpacked package has none: borrow this machine's targets and slices.
mkdir -p "$root/usr/lib/systemd/system"
cp /lib/systemd/system/*.target /lib/systemd/system/*.slice "$root/usr/lib/systemd/system/"
# verify exits 0 after warnings such as an unknown key: any output is a failure.
said="$(systemd-analyze verify --root="$root" coraft@0000.service 2>&1)" || { echo "$said"; fail "systemd-analyze verify failed"; }
[ -z "$said" ] || { echo "$said"; fail "systemd-analyze verify complained"; }
systemd-analyze security --offline=yes --root="$root" coraft@0000.service 2>&1 | tail -1

echo "--- control fields and files"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Version)" = "$version" ] || fail "Version is $(field Version), the project's is $version"
for dependency in adduser libc6 libstdc++6 libssl3 libfmt9 libspdlog; do
  grep -q "\\b$dependency" <<<"$(field Depends)" || fail "Depends lacks $dependency: $(field Depends)"
done
control="$work/control"
dpkg-deb -e "$deb" "$control"
[ "$(cat "$control/conffiles")" = /etc/coraft/cluster.json ] || fail "conffiles: $(cat "$control/conffiles")"
files="$(dpkg-deb -c "$deb" | awk '{print $6}')"
for f in ./usr/bin/kvstore ./usr/bin/kvctl ./usr/bin/kvbench ./usr/bin/kvchat ./etc/coraft/cluster.json \
         ./lib/systemd/system/coraft@.service ./usr/share/doc/coraft/copyright ./usr/share/doc/coraft/changelog.gz; do
  grep -qxF "$f" <<<"$files" || fail "the package lacks $f"
done
[ "$(grep -c '^\./usr/bin/.' <<<"$files")" -eq 4 ] || fail "the package has other programs: $(grep '^\./usr/bin/.' <<<"$files")"
grep -qxF "ExecStart=/usr/bin/kvstore --config /etc/coraft/cluster.json --id %i --data-dir /var/lib/coraft/%i" \
  "$root/lib/systemd/system/coraft@.service" || fail "the unit's ExecStart: $(grep ExecStart "$root/lib/systemd/system/coraft@.service")"

# Installing needs root and a machine without coraft (nor its user or directories): this must not touch a real one.
if [ "$(id -u)" -ne 0 ]; then
  echo "package test: not root: built and verified the package, did not install it"
  exit 0
fi
if dpkg-query -W coraft >/dev/null 2>&1 || getent passwd coraft >/dev/null || [ -e /etc/coraft ] || [ -e /var/lib/coraft ]; then
  echo "package test: coraft is installed here (or its user, /etc/coraft or /var/lib/coraft exists): did not install"
  exit 0
fi
# Two runs of this test on one machine take turns; apt waits for a dpkg run of anyone else's.
exec 9>/tmp/coraft-package-test.lock
flock -w 600 9 || fail "another package test holds /tmp/coraft-package-test.lock"
apt() { DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 "$@" >>"$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get $* failed"; }; }
cleanup() { DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 purge -y coraft >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "--- install, and install again"
apt install -y "$deb"
apt install -y --reinstall "$deb"
grep -q ':/var/lib/coraft:/usr/sbin/nologin$' <<<"$(getent passwd coraft)" || fail "no coraft system user: $(getent passwd coraft)"
[ "$(stat -c '%U:%G %a' /var/lib/coraft)" = "coraft:coraft 750" ] || fail "/var/lib/coraft is $(stat -c '%U:%G %a' /var/lib/coraft)"
for secret in cluster.key client.token; do
  [ "$(stat -c '%U %a' "/etc/coraft/$secret")" = "coraft 600" ] || fail "/etc/coraft/$secret is $(stat -c '%U %a' "/etc/coraft/$secret")"
done
/usr/bin/kvstore --version

if [ "$(ps -p 1 -o comm=)" = systemd ]; then
  echo "--- coraft@0000 under systemd"
  source "$(dirname "$0")/../net/free-ports.sh"
  free_ports 1
  port=${ports[0]}
  sed -i "s/127\.0\.0\.1:7000/127.0.0.1:$port/" /etc/coraft/cluster.json
  systemctl start coraft@0000
  kvctl() { /usr/bin/kvctl --cluster /etc/coraft/cluster.json --timeout 20 "$@"; }
  kvctl put greeting hello >/dev/null || { journalctl -u coraft@0000 --no-pager | tail -20; fail "put failed"; }
  [ "$(kvctl get greeting)" = hello ] || fail "get did not return the value put"
  systemctl stop coraft@0000
  [ "$(systemctl show -p ExecMainStatus --value coraft@0000)" = 0 ] || fail "coraft@0000 did not stop cleanly"
else
  echo "package test: systemd is not PID 1 here (PID 1 is $(ps -p 1 -o comm=)): verified the unit, did not start it"
fi

echo "--- remove, then purge"
apt remove -y coraft
[ ! -e /usr/bin/kvstore ] || fail "remove left /usr/bin/kvstore"
getent passwd coraft >/dev/null && [ -d /var/lib/coraft ] && [ -f /etc/coraft/cluster.key ] ||
  fail "remove (not purge) took the coraft user, /var/lib/coraft or the secrets"
apt purge -y coraft
trap - EXIT
! getent passwd coraft >/dev/null || fail "purge left the coraft user"
! getent group coraft >/dev/null || fail "purge left the coraft group"
for left in /etc/coraft /var/lib/coraft /lib/systemd/system/coraft@.service /usr/bin/kvstore; do
  [ ! -e "$left" ] || fail "purge left $left"
done
echo "package test: built, checked, installed twice and purged $deb"
