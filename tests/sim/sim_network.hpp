#pragma once
// The simulated network between replicas (and to clients): per-message delay drawn from the run's Rng (so messages
// reorder), drops, duplicates, and partitions, symmetric or one-way. Every delivery is a deadline in the SimWorld,
// run on the harness's control context, so a run stays a pure function of its seed.

#include "actors/rng.hpp"
#include "actors/sim_world.hpp"
#include "raft/messages.hpp"

#include <functional>
#include <set>
#include <utility>
#include <vector>

namespace asio {
class io_context;
}

namespace coraft::test {

struct NetworkFaults {
  double drop = 0;       // probability a replica-to-replica message is lost
  double duplicate = 0;  // probability it is delivered twice
  actors::Micros min_delay{100};
  actors::Micros max_delay{2000};
  // A straggler is held in some buffer for up to straggler_delay on top: it arrives terms later, stale.
  double straggler = 0;
  actors::Micros straggler_delay{0};
};

struct NetworkStats {
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;
  std::uint64_t duplicated = 0;
};

class SimNetwork {
 public:
  using Deliver = std::function<void(int to, raft::PeerMessage)>;

  SimNetwork(actors::SimWorld& world, asio::io_context& control, actors::Rng rng, Deliver deliver);

  void set_faults(const NetworkFaults& faults) { faults_ = faults; }
  const NetworkFaults& faults() const { return faults_; }

  // Messages from `from` to `to` are lost while blocked. partition() blocks both ways between the sides.
  void block(int from, int to) { blocked_.insert({from, to}); }
  void partition(const std::vector<int>& side_a, const std::vector<int>& side_b);
  void heal() { blocked_.clear(); }
  bool blocked(int from, int to) const { return blocked_.count({from, to}) > 0; }

  void send(int from, int to, raft::PeerMessage message);
  // Called for every message as it is sent, before faults apply (tests look at the sender's state at that moment).
  using SendObserver = std::function<void(int from, int to, const raft::PeerMessage&)>;
  void set_send_observer(SendObserver observer) { send_observer_ = std::move(observer); }
  // Reliable, delayed delivery of anything else (client traffic), on the control context.
  void send_reliably(std::function<void()> deliver);

  const NetworkStats& stats() const { return stats_; }

 private:
  actors::Micros delay();

  actors::SimWorld& world_;
  asio::io_context& control_;
  actors::Rng rng_;
  Deliver deliver_;
  SendObserver send_observer_;
  NetworkFaults faults_;
  std::set<std::pair<int, int>> blocked_;
  NetworkStats stats_;
};

}  // namespace coraft::test
