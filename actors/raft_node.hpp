#pragma once
// The raft node actor: the only owner of the RaftCore.
//   Inbox: PeerReceived (bridge), ElectionTimerFired (timer), ProposeCommands / RequestRead / StatusRequest
//          (gateway), FollowerIdle (replicators), AppliedThrough / SnapshotTaken (applier), StorageDurable (storage),
//          RetransmitTimerFired (its own Timer, armed for the core's next retransmission deadline),
//          WatchLeaderContact (gateway: answered with LeaderHeard at the leader's next AppendEntries).
//   Each message becomes one core input. A burst of messages is stepped together and its effects pass the
//   DurabilityGate (actors/durability_gate.hpp): the burst's Persists become one write to the storage actor, Sends
//   that depend on writes not yet durable wait there until storage says they are, the rest is carried out at once
//   and in order: Send -> bridge; Transmit -> the follower's replicator; CommitAdvanced -> applier (the newly
//   committed entries); RoleChanged -> gateway and bridge, and replicators spawned (leader) or stopped (otherwise);
//   ResetElectionTimer -> timer; proposal/read outcomes -> gateway; SendSnapshot / SnapshotAck -> that follower's
//   replicator; RestoreSnapshot -> applier; SaveSnapshot -> storage; MessageRejected -> logged and counted.
//   It keeps the latest snapshot (recovered, taken by the applier, or installed from a leader) to stream to
//   followers that need entries the log no longer has.
//   The node never waits on an actor that sends to it with send(): every wait here is on an acyclic edge.
//   Shutdown: ends when its inbox is closed; it closes its replicators' inboxes on the way out.

#include "actors/durability_gate.hpp"
#include "actors/inboxes.hpp"
#include "actors/logger.hpp"
#include "actors/metrics.hpp"
#include "actors/replica_options.hpp"
#include "raft/core.hpp"

#include <map>
#include <memory>

namespace coraft::actors {

class Replicator;

class RaftNode {
 public:
  struct Outboxes {
    ElectionTimerMailbox& timer;
    ApplierMailbox& applier;
    GatewayMailbox& gateway;
    BridgeMailbox& bridge;
    StorageMailbox& storage;
  };

  RaftNode(NodeMailbox& inbox, Outboxes out, Clock& clock, raft::RecoveredState recovered,
           const ReplicaOptions& options, Logger log);
  ~RaftNode();
  asio::awaitable<void> run();

  const raft::RaftCore& core() const { return core_; }
  std::uint64_t elections_started() const { return metrics_.elections_started; }
  // The node's view of the replica (the gateway adds the applied index and key count).
  ReplicaStatus status() const;

 private:
  struct ReplicatorHandle {
    std::shared_ptr<ReplicatorMailbox> inbox;
    std::shared_ptr<Replicator> actor;
  };

  // Steps the core with one message; its effects join the burst's.
  void step(NodeInbox& message, std::vector<raft::Effect>& effects);
  void step(const raft::Input& input, std::vector<raft::Effect>& effects);
  std::optional<raft::Input> to_input(NodeInbox& message);
  asio::awaitable<void> execute(std::vector<raft::Effect> effects);
  asio::awaitable<void> carry_out(raft::Effect& effect);
  void start_replicators(raft::Term term);
  void stop_replicators();
  std::int64_t now_us() const;
  void arm_retransmit_timer();

  NodeMailbox& inbox_;
  Outboxes out_;
  Clock& clock_;
  const ReplicaOptions& options_;
  NodeMetrics metrics_;  // rendered into StatusReady
  Logger log_;
  std::optional<raft::Snapshot> latest_snapshot_;  // what a follower behind the log's start is sent
  raft::RaftCore core_;
  std::vector<raft::Effect> apply_after_ack_;  // a follower's CommitAdvanced, held until its write's ack has left
  DurabilityGate gate_;
  std::vector<raft::Send> released_;  // sends whose writes became durable during this burst: they go first
  asio::any_io_executor executor_;
  std::map<raft::NodeId, ReplicatorHandle> replicators_;
  raft::Term replicators_term_ = 0;
  std::uint64_t timer_epoch_ = 0;
  Timer retransmit_timer_;
  TimePoint retransmit_armed_for_{};
  raft::Index applier_next_ = 1;
  raft::Index applied_index_ = 0;
  TimePoint last_leader_contact_{};
  bool heard_from_leader_ = false;
  bool leader_contact_watched_ = false;  // the gateway waits to hear that the leader is alive (WatchLeaderContact)
  raft::NodeId last_leader_;
  TimePoint last_rejection_logged_{};
};

}  // namespace coraft::actors
