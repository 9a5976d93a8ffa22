#pragma once
// A seeded pseudo-random generator handed to whoever needs randomness (election jitter, fault injection, workload).
// There is no global randomness anywhere: the same seed gives the same run. xoshiro256** seeded through SplitMix64;
// our own integer arithmetic, so results do not depend on the standard library's distributions.

#include <cstdint>
#include <string_view>

namespace coraft::actors {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& word : state_) word = split_mix(seed);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [lo, hi] (inclusive).
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) {
    if (hi <= lo) return lo;
    const std::uint64_t span = hi - lo + 1;
    if (span == 0) return next();  // the full 64-bit range
    // Rejection of the short top range keeps the modulo unbiased.
    const std::uint64_t threshold = (0 - span) % span;
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return lo + r % span;
    }
  }

  // True with probability p.
  bool chance(double p) {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
  }

  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // An independent generator for a named part of the run (one per replica, one for the network...).
  Rng fork(std::uint64_t stream) { return Rng(next() ^ (stream * 0x9E3779B97F4A7C15ull)); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t split_mix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  std::uint64_t state_[4];
};

}  // namespace coraft::actors
