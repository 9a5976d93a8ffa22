#pragma once
// What every simulated scenario starts with: its seed (CORAFT_SEED=N reproduces a failure; the test's own otherwise)
// and durations in the simulator's unit.

#include "actors/clock.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>

namespace coraft::test {

inline std::uint64_t test_seed(std::uint64_t fallback) {
  if (const char* env = std::getenv("CORAFT_SEED")) return std::strtoull(env, nullptr, 10);
  return fallback;
}

inline actors::Micros us(std::chrono::milliseconds ms) { return std::chrono::duration_cast<actors::Micros>(ms); }

}  // namespace coraft::test
