// The gateway's memory of recent requests: a repeat within the window is recognised, one older than it is not.

#include "actors/recent_digests.hpp"
#include "actors/rng.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <deque>
#include <set>

using coraft::actors::RecentDigests;

TEST_CASE("recent digests agree with a set of the last N, through wrap-around and clustered slots", "[gateway]") {
  // Small windows and a small universe of digests force long probe runs, removals inside them and repeats at every
  // age; a removal that cuts a probe run short shows up as a repeat taken for a first sighting.
  const std::uint64_t seed = GENERATE(1u, 2u, 3u);
  const std::size_t capacity = GENERATE(1u, 2u, 8u, 64u);
  INFO("seed " << seed << ", capacity " << capacity);
  coraft::actors::Rng rng(seed);
  auto next = [&](std::uint64_t bound) { return rng.between(0, bound - 1); };
  RecentDigests recent(capacity);
  std::deque<std::uint64_t> order;
  std::multiset<std::uint64_t> window;
  for (int step = 0; step < 20000; ++step) {
    // Digests 0..3*capacity, some multiples of the table size apart so that they share a home slot; 0 included.
    const std::uint64_t digest = next(2) ? next(3 * capacity + 1) : next(4) * (capacity * 2) << 32;
    const bool expected_first = window.count(digest == 0 ? 1 : digest) == 0;
    const bool first = recent.insert(digest);
    if (first != expected_first) FAIL("step " << step << ": digest " << digest << " seen as " << (first ? "new" : "repeat"));
    if (first) {
      order.push_back(digest == 0 ? 1 : digest);
      window.insert(order.back());
      if (order.size() > capacity) {
        window.erase(window.find(order.front()));
        order.pop_front();
      }
    }
    REQUIRE(recent.size() == order.size());
  }
}
