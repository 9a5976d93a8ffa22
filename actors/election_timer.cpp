#include "actors/election_timer.hpp"

#include "raft/overloaded.hpp"

namespace coraft::actors {

ElectionTimer::ElectionTimer(ElectionTimerMailbox& inbox, NodeMailbox& node, Clock& clock, Rng rng, Timing timing,
                             Logger log)
    : inbox_(inbox),
      node_(node),
      clock_(clock),
      rng_(rng),
      timing_(timing),
      log_(std::move(log)),
      timer_(clock, [this](std::uint64_t generation) { inbox_.try_send(ElectionDeadlinePassed{generation}); }) {}

Micros ElectionTimer::random_timeout() {
  const auto lo = std::chrono::duration_cast<Micros>(timing_.election_timeout_min).count();
  const auto hi = std::chrono::duration_cast<Micros>(timing_.election_timeout_max).count();
  return Micros(static_cast<std::int64_t>(rng_.between(static_cast<std::uint64_t>(lo), static_cast<std::uint64_t>(hi))));
}

void ElectionTimer::arm_for(TimePoint deadline) {
  armed_for_ = deadline;
  timer_.arm_at(deadline);
}

asio::awaitable<void> ElectionTimer::run() {
  while (auto message = co_await inbox_.receive()) {
    std::visit(Overloaded{
                   [&](const ArmElectionTimer& arm) {
                     epoch_ = arm.epoch;
                     deadline_ = clock_.now() + random_timeout();
                     if (!timer_.armed() || deadline_ < armed_for_) arm_for(deadline_);
                   },
                   [&](const ElectionDeadlinePassed& passed) {
                     if (!timer_.is_current(passed.generation)) return;
                     if (clock_.now() < deadline_) {
                       arm_for(deadline_);  // reset since this was armed: wait for the moved deadline
                       return;
                     }
                     log_->debug("election timeout (epoch {})", epoch_);
                     node_.try_send(ElectionTimerFired{epoch_});
                     deadline_ = clock_.now() + random_timeout();
                     arm_for(deadline_);
                   },
               },
               *message);
  }
  timer_.disarm();
}

}  // namespace coraft::actors
