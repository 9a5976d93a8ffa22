#pragma once
// The election timer actor.
//   Owns: the randomized election deadline (uniform in [min, max] from the replica's seeded Rng).
//   Inbox: ArmElectionTimer{epoch} from the node (heard from a leader, granted a vote, started a campaign);
//          ElectionDeadlinePassed from its own Timer.
//   Outbox: ElectionTimerFired{epoch} to the node (try_send: a lost one is followed by the next period's).
//   Periodic: after firing it re-arms itself, so a leader gets one tick per period for CheckQuorum.
//   Shutdown: ends when its inbox is closed.
// A reset only moves the deadline; the underlying Timer is re-armed lazily when it fires early (the watchdog pattern),
// so the per-heartbeat reset costs no timer churn.

#include "actors/inboxes.hpp"
#include "actors/logger.hpp"
#include "actors/replica_options.hpp"
#include "actors/rng.hpp"

namespace coraft::actors {

class ElectionTimer {
 public:
  ElectionTimer(ElectionTimerMailbox& inbox, NodeMailbox& node, Clock& clock, Rng rng, Timing timing, Logger log);
  asio::awaitable<void> run();

 private:
  Micros random_timeout();
  void arm_for(TimePoint deadline);

  ElectionTimerMailbox& inbox_;
  NodeMailbox& node_;
  Clock& clock_;
  Rng rng_;
  Timing timing_;
  Logger log_;
  Timer timer_;
  TimePoint deadline_{};
  TimePoint armed_for_{};
  std::uint64_t epoch_ = 0;
};

}  // namespace coraft::actors
