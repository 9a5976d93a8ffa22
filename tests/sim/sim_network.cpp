#include "sim_network.hpp"

#include <asio/io_context.hpp>

namespace coraft::test {

SimNetwork::SimNetwork(actors::SimWorld& world, asio::io_context& control, actors::Rng rng, Deliver deliver)
    : world_(world), control_(control), rng_(rng), deliver_(std::move(deliver)) {}

void SimNetwork::partition(const std::vector<int>& side_a, const std::vector<int>& side_b) {
  for (int a : side_a) {
    for (int b : side_b) {
      block(a, b);
      block(b, a);
    }
  }
}

actors::Micros SimNetwork::delay() {
  const auto lo = static_cast<std::uint64_t>(faults_.min_delay.count());
  const auto hi = static_cast<std::uint64_t>(std::max(faults_.min_delay, faults_.max_delay).count());
  return actors::Micros(static_cast<std::int64_t>(rng_.between(lo, hi)));
}

void SimNetwork::send(int from, int to, raft::PeerMessage message) {
  ++stats_.sent;
  if (send_observer_) send_observer_(from, to, message);
  if (blocked(from, to) || rng_.chance(faults_.drop)) {
    ++stats_.dropped;
    return;
  }
  const int copies = rng_.chance(faults_.duplicate) ? 2 : 1;
  if (copies == 2) ++stats_.duplicated;
  for (int i = 0; i < copies; ++i) {
    actors::Micros late = delay();
    if (rng_.chance(faults_.straggler)) {
      late += actors::Micros(static_cast<std::int64_t>(rng_.between(0, static_cast<std::uint64_t>(faults_.straggler_delay.count()))));
    }
    world_.schedule(control_, world_.now() + late, [this, to, message] {
      ++stats_.delivered;
      deliver_(to, message);
    });
  }
}

void SimNetwork::send_reliably(std::function<void()> deliver) {
  world_.schedule(control_, world_.now() + delay(), std::move(deliver));
}

}  // namespace coraft::test
