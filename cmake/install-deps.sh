#!/usr/bin/env bash
# Installs the Debian 12 packages coraft needs, only those missing. Safe to run repeatedly.
# Used by `make run` and `make test`; needs root (or sudo) only when something is missing.
#   cmake/install-deps.sh          what building and running need
#   cmake/install-deps.sh --test   also what the test suite drives: headless Chromium (the timeline rendering test),
#                                  iproute2 (the network-namespace test), curl (the README's HTTP examples), Node.js
#                                  and npm unless both are on the PATH already (the npm consul client's test), and
#                                  what the package test needs: lintian and systemd (systemd-analyze verify), besides
#                                  what --deb installs
#   cmake/install-deps.sh --deb    also what `make deb` needs: dpkg-dev (dpkg-shlibdeps) and file, which CPack's
#                                  shlibdeps support uses to find the programs
set -euo pipefail

packages=(build-essential cmake g++ pkg-config libasio-dev nlohmann-json3-dev catch2 libspdlog-dev libfmt-dev
          libcli11-dev libssl-dev libhttp-parser-dev python3)
case "${1:-}" in
  --test)
    packages+=(chromium iproute2 curl dpkg-dev file lintian systemd)
    # Any node and npm will do (a newer one from elsewhere, as on a developer's machine); otherwise Debian's.
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
    ;;
  --deb) packages+=(dpkg-dev file) ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "coraft: installing missing packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "coraft: need root to install: ${missing[*]} (run as root or install sudo)" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
