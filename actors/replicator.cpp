#include "actors/replicator.hpp"

#include "raft/overloaded.hpp"

namespace coraft::actors {
namespace {

constexpr std::uint64_t kSnapshotChunkBytes = 32 * 1024;  // base64 in JSON: about 44 KB, within one datagram
constexpr std::uint64_t kSnapshotWindowBytes = 4 * kSnapshotChunkBytes;

}  // namespace

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

asio::awaitable<bool> Replicator::send_peer(raft::PeerPayload payload) {
  last_sent_ = clock_.now();
  BridgeInbox out = SendPeer{raft::PeerMessage{self_, peer_, std::move(payload)}};
  co_return co_await bridge_.send(out);
}

asio::awaitable<bool> Replicator::send_snapshot_chunks() {
  const std::string& bytes = *snapshot_->data;
  // A serialized store is never empty, so every chunk carries bytes and the last one says done.
  while (snapshot_sent_ < bytes.size() && snapshot_sent_ < snapshot_acked_ + kSnapshotWindowBytes) {
    const std::uint64_t length = std::min<std::uint64_t>(kSnapshotChunkBytes, bytes.size() - snapshot_sent_);
    raft::InstallSnapshot chunk{term_,          snapshot_->index,
                                snapshot_->term, snapshot_sent_,
                                bytes.size(),   snapshot_->checksum,
                                bytes.substr(snapshot_sent_, length), snapshot_sent_ + length == bytes.size()};
    chunk.membership = snapshot_->membership;  // the follower's own log may not know it yet
    snapshot_sent_ += length;
    if (!co_await send_peer(std::move(chunk))) co_return false;
  }
  co_return true;
}

asio::awaitable<void> Replicator::run() {
  last_sent_ = clock_.now();
  arm_idle_timer();
  while (auto message = co_await inbox_.receive()) {
    if (auto* transmit = std::get_if<TransmitAppend>(&*message)) {
      backoff_shift_ = transmit->backoff_shift;
      if (!co_await send_peer(std::move(transmit->message))) break;
      if (heartbeat_deadline() < armed_for_ || !idle_timer_.armed()) arm_idle_timer();
      continue;
    }
    if (auto* start = std::get_if<TransmitSnapshot>(&*message)) {
      if (!snapshot_ || snapshot_->index != start->snapshot.index || snapshot_->checksum != start->snapshot.checksum) {
        snapshot_ = start->snapshot;
        snapshot_acked_ = 0;
        log_->info("sending the snapshot at {} ({} bytes) to {}", snapshot_->index, snapshot_->data->size(),
                   peer_.str());
      }
      snapshot_sent_ = snapshot_acked_;  // (re)send from what the follower confirmed
      if (!co_await send_snapshot_chunks()) break;
      continue;
    }
    if (auto* progress = std::get_if<SnapshotProgress>(&*message)) {
      if (!snapshot_ || progress->index != snapshot_->index) continue;  // about an earlier snapshot
      if (progress->done) {
        snapshot_.reset();
        continue;
      }
      if (progress->next_offset < snapshot_acked_ || progress->next_offset > snapshot_sent_) {
        snapshot_sent_ = progress->next_offset;  // the follower lost some (or restarted): go back
      }
      snapshot_acked_ = progress->next_offset;
      if (!co_await send_snapshot_chunks()) break;
      continue;
    }
    const auto& check = std::get<ReplicatorIdleCheck>(*message);
    if (!idle_timer_.is_current(check.generation)) continue;
    const TimePoint due = heartbeat_deadline();
    if (clock_.now() >= due) {
      // The node answers with a TransmitAppend (a heartbeat, or a probe resent) or a TransmitSnapshot (resume).
      node_.try_send(FollowerIdle{peer_, term_});
      last_sent_ = clock_.now();
    }
    arm_idle_timer();
  }
  idle_timer_.disarm();
}

}  // namespace coraft::actors
