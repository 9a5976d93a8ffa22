#include "actors/replicator.hpp"

#include "raft/overloaded.hpp"

namespace coraft::actors {

Replicator::Replicator(ReplicatorMailbox& inbox, NodeMailbox& node, BridgeMailbox& bridge, Clock& clock,
                       raft::NodeId self, raft::NodeId peer, raft::Term term, Micros heartbeat_interval, Logger log)
    : inbox_(inbox),
      node_(node),
      bridge_(bridge),
      clock_(clock),
      self_(self),
      peer_(peer),
      term_(term),
      heartbeat_interval_(heartbeat_interval),
      log_(std::move(log)),
      idle_timer_(clock, [this](std::uint64_t generation) { inbox_.try_send(ReplicatorIdleCheck{generation}); }) {}

TimePoint Replicator::heartbeat_deadline() const { return last_sent_ + heartbeat_interval_ * (1 << backoff_shift_); }

void Replicator::arm_idle_timer() {
  armed_for_ = heartbeat_deadline();
  idle_timer_.arm_at(armed_for_);
}

asio::awaitable<void> Replicator::run() {
  last_sent_ = clock_.now();
  arm_idle_timer();
  while (auto message = co_await inbox_.receive()) {
    if (auto* transmit = std::get_if<TransmitAppend>(&*message)) {
      last_sent_ = clock_.now();
      backoff_shift_ = transmit->backoff_shift;
      if (!idle_timer_.armed() || heartbeat_deadline() < armed_for_) arm_idle_timer();
      BridgeInbox out = SendPeer{raft::PeerMessage{self_, peer_, std::move(transmit->message)}};
      if (!co_await bridge_.send(out)) break;
      continue;
    }
    const auto& check = std::get<ReplicatorIdleCheck>(*message);
    if (!idle_timer_.is_current(check.generation)) continue;
    const TimePoint due = heartbeat_deadline();
    if (clock_.now() >= due) {
      // The node answers with a TransmitAppend (a heartbeat, or a probe resent), which restarts the idle clock.
      node_.try_send(HeartbeatDue{peer_, term_});
      last_sent_ = clock_.now();
    }
    arm_idle_timer();
  }
  idle_timer_.disarm();
}

}  // namespace coraft::actors
