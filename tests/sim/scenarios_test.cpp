// Behaviour of whole clusters under simulated time: every replica runs the real actors; the network and disks are
// simulated; invariants are checked after every step. Each test prints the seed that reproduces a failure.

#include "sim_cluster.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

using namespace coraft;
using namespace coraft::test;
using namespace std::chrono_literals;
using actors::Micros;

namespace {

std::uint64_t test_seed(std::uint64_t fallback) {
  if (const char* env = std::getenv("CORAFT_SEED")) return std::strtoull(env, nullptr, 10);
  return fallback;
}

Micros us(std::chrono::milliseconds ms) { return std::chrono::duration_cast<Micros>(ms); }

void require_safe(const SimCluster& cluster) {
  for (const auto& v : cluster.invariants().violations()) UNSCOPED_INFO("invariant: " << v);
  REQUIRE(cluster.invariants().violations().empty());
}

bool has_leader(SimCluster& c) { return c.leader().has_value(); }

}  // namespace

TEST_CASE("a fresh cluster elects exactly one leader", "[sim][election][5.2]") {
  const auto seed = test_seed(11);
  INFO("reproduce with CORAFT_SEED=" << seed);
  for (int replicas : {3, 5, 7}) {
    SimCluster c({.replicas = replicas, .seed = seed});
    REQUIRE(c.run_until([&] { return has_leader(c); }, us(5000ms)));
    c.run_for(us(2000ms));
    const int leader = *c.leader();
    // Stable: the same leader, and every follower knows it.
    for (int i = 0; i < replicas; ++i) {
      CHECK(c.replica(i)->core().leader() == c.id(leader));
      CHECK(c.replica(i)->core().term() == c.replica(leader)->core().term());
    }
    require_safe(c);
  }
}
