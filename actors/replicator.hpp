#pragma once
// The replicator actor: one per follower, alive while this replica leads (one term).
//   Owns: the heartbeat clock for its follower: when did anything last go to it, and how far heartbeats are backed
//         off while it stays silent. What to send (probe or pipelined batch, window in entries and bytes) is decided
//         by the pure core's Progress; the replicator carries it out and keeps time.
//   Inbox: TransmitAppend from the node; ReplicatorIdleCheck from its own Timer; TransmitSnapshot / SnapshotProgress
//          from the node when the follower needs entries the log no longer holds.
//   Snapshots go in chunks that each fit a datagram, a few in flight at a time; the follower's acknowledgements say
//   where to continue (also after a loss or its restart), and a stalled transfer resumes when the node asks again.
//   Outbox: SendPeer to the bridge (send: may wait); FollowerIdle to the node (try_send: the next check retries).
//   Heartbeats go out only when the follower got nothing for heartbeat_interval << backoff_shift.
//   Shutdown: ends when the node closes its inbox (leadership lost or replica stopping).

#include "actors/inboxes.hpp"
#include "actors/logger.hpp"

namespace coraft::actors {

class Replicator {
 public:
  Replicator(ReplicatorMailbox& inbox, NodeMailbox& node, BridgeMailbox& bridge, Clock& clock, raft::NodeId self,
             raft::NodeId peer, raft::Term term, Micros heartbeat_interval, Logger log);
  asio::awaitable<void> run();

 private:
  TimePoint heartbeat_deadline() const;
  void arm_idle_timer();
  asio::awaitable<bool> send_peer(raft::PeerPayload payload);
  asio::awaitable<bool> send_snapshot_chunks();

  ReplicatorMailbox& inbox_;
  NodeMailbox& node_;
  BridgeMailbox& bridge_;
  Clock& clock_;
  raft::NodeId self_;
  raft::NodeId peer_;
  raft::Term term_;
  Micros heartbeat_interval_;
  Logger log_;
  Timer idle_timer_;
  TimePoint last_sent_{};
  TimePoint armed_for_{};
  int backoff_shift_ = 0;
  // The snapshot being streamed, how much of it the follower confirmed, and how much went out.
  std::optional<raft::Snapshot> snapshot_;
  std::uint64_t snapshot_acked_ = 0;
  std::uint64_t snapshot_sent_ = 0;
};

}  // namespace coraft::actors
