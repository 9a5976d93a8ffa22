# Sourced by the scripts that start real replicas. free_ports N: sets `ports` to N distinct loopback ports, each free
# for both UDP and TCP and reserved until this shell exits.
#
# They come from outside the kernel's ephemeral range: a port the kernel picks for a socket bound to port 0 could be
# handed to any client socket (of this test or one running beside it) before the replica binds it, leaving a cluster
# one member short. A lock file per port, held by this shell (flock on a descriptor it keeps open), keeps two tests
# from choosing the same port; the C++ tests take the same locks (reserve_test_ports in tests/chaos/process.cpp).
free_ports() {
  local lock_dir="${TMPDIR:-/tmp}/coraft-test-ports"
  mkdir -p "$lock_dir" && chmod 1777 "$lock_dir" 2>/dev/null || true
  local low high port fd attempts=0 eph_low eph_high
  # The larger span below or above the ephemeral range, from 10000 up (as reserve_test_ports chooses).
  read -r eph_low eph_high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { eph_low=32768; eph_high=60999; }
  if [ $((eph_low - 1 - 10000)) -ge $((65535 - eph_high - 1)) ]; then low=10000; high=$((eph_low - 1))
  else low=$((eph_high + 1 > 10000 ? eph_high + 1 : 10000)); high=65535; fi
  if [ $((high - low)) -lt 1000 ]; then low=10000; high=60999; fi
  ports=()
  while [ ${#ports[@]} -lt "$1" ]; do
    if [ $((attempts += 1)) -gt 1000 ]; then
      echo "free_ports: no free loopback ports between $low and $high" >&2
      return 1
    fi
    port=$((low + (RANDOM * 32768 + RANDOM) % (high - low + 1)))
    [[ " ${ports[*]} " == *" $port "* ]] && continue
    exec {fd}>>"$lock_dir/$port.lock" || continue
    if ! flock -n "$fd"; then exec {fd}>&-; continue; fi
    if ss -Hlun "sport = :$port" | grep -q . || ss -Htan "sport = :$port" | grep -q .; then exec {fd}>&-; continue; fi
    ports+=("$port")  # the descriptor stays open, so the lock is held until this shell exits
  done
}
