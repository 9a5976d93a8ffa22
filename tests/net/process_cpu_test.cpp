// Reading a process's CPU time from /proc, for kvbench --cpu-of.

#include "net/process_cpu.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <unistd.h>

using namespace coraft;

TEST_CASE("CPU seconds are read from a /proc stat line, whatever the command name holds", "[net][cpu]") {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const char* line = "4242 (kv store (x) 1) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 50 0 0 20 0 3 0 100";
  CHECK(net::cpu_seconds_of_stat_line(line, 100) == Approx(3.0));
  CHECK(net::cpu_seconds_of_stat_line(line, 1000) == Approx(0.3));
  CHECK_FALSE(net::cpu_seconds_of_stat_line("4242 kvstore S 1", 100).has_value());           // no name in parentheses
  CHECK_FALSE(net::cpu_seconds_of_stat_line("4242 (kvstore) S 1 2 3", 100).has_value());     // cut short
  CHECK_FALSE(net::cpu_seconds_of_stat_line("4242 (kvstore) S 1 4242 4242 0 -1 4194560 1200 0 3 0 x 50", 100)
                  .has_value());  // not a number
  CHECK_FALSE(net::cpu_seconds_of_stat_line(line, 0).has_value());
}

TEST_CASE("a running process's CPU time grows as it computes; a gone one has none", "[net][cpu]") {
  const auto before = net::process_cpu_seconds(getpid());
  REQUIRE(before.has_value());
  // Compute until the kernel has counted at least one more tick (bounded: 10 s of wall time at most).
  volatile std::uint64_t sink = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::optional<double> after = before;
  while (after && *after <= *before && std::chrono::steady_clock::now() < give_up) {
    for (int i = 0; i < 1'000'000; ++i) sink = sink + static_cast<std::uint64_t>(i);
    after = net::process_cpu_seconds(getpid());
  }
  REQUIRE(after.has_value());
  CHECK(*after > *before);
  CHECK_FALSE(net::process_cpu_seconds(-1).has_value());
}
