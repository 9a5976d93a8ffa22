#pragma once
// The timing loop of the micro-benchmarks in tests/tools (authbench, storebench).

#include <chrono>
#include <cstdint>
#include <functional>

namespace coraft::bench {

// Runs `body` 1,000 times to warm up, then repeatedly for about `ms` milliseconds; returns ns per call. The clock is
// read once per 256 calls, so its own cost stays out of the figure.
inline double ns_per_call(int ms, const std::function<void()>& body) {
  using Steady = std::chrono::steady_clock;
  for (int i = 0; i < 1000; ++i) body();
  std::uint64_t calls = 0;
  const auto start = Steady::now();
  const auto stop = start + std::chrono::milliseconds(ms);
  auto now = start;
  while (now < stop) {
    for (int i = 0; i < 256; ++i) body();
    calls += 256;
    now = Steady::now();
  }
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - start).count()) /
         static_cast<double>(calls);
}

}  // namespace coraft::bench
