#pragma once
// The raft node actor: the only owner of the RaftCore and the only writer of the replica's persistent state.
//   Inbox: PeerReceived (bridge), ElectionTimerFired (timer), ProposeCommands / RequestRead / StatusRequest
//          (gateway), HeartbeatDue (replicators), AppliedThrough (applier).
//   Each message becomes one core input; the effects are carried out in order (the core's ordering contract):
//   Persist -> storage (durable before anything after it); Send -> bridge; Transmit -> the follower's replicator;
//   CommitAdvanced -> applier (the newly committed entries); RoleChanged -> gateway and bridge, and replicators
//   spawned (leader) or stopped (otherwise); ResetElectionTimer -> timer; proposal/read outcomes -> gateway;
//   SendSnapshot / SnapshotAck -> that follower's replicator; RestoreSnapshot -> applier.
//   It keeps the latest snapshot (recovered, taken by the applier, or installed from a leader) to stream to
//   followers that need entries the log no longer has.
//   The node never waits on an actor that sends to it with send(): every wait here is on an acyclic edge.
//   Shutdown: ends when its inbox is closed; it closes its replicators' inboxes on the way out.

#include "actors/inboxes.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/replica_options.hpp"
#include "raft/core.hpp"
#include "raft/storage.hpp"

#include <deque>
#include <map>
#include <memory>

namespace asio {
class thread_pool;
}

namespace coraft::actors {

class Replicator;

class RaftNode {
 public:
  struct Outboxes {
    ElectionTimerMailbox& timer;
    ApplierMailbox& applier;
    GatewayMailbox& gateway;
    BridgeMailbox& bridge;
  };

  RaftNode(NodeMailbox& inbox, Outboxes out, Clock& clock, raft::Storage& storage, const ReplicaOptions& options,
           ReplicaMetrics& metrics, Logger log);
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

  std::optional<raft::Input> to_input(NodeInbox& message);
  asio::awaitable<void> execute(std::vector<raft::Effect> effects);
  asio::awaitable<void> carry_out(std::deque<raft::Effect>& queue);
  asio::awaitable<void> persist(const raft::Persist& change);
  void persist_in_background(raft::Persist change, std::deque<raft::Effect> held_sends);
  void take_synced(std::vector<raft::Effect>& effects);
  void start_replicators(raft::Term term);
  void stop_replicators();
  std::int64_t now_us() const;
  void record_write(const raft::Persist& change, double seconds);

  NodeMailbox& inbox_;
  Outboxes out_;
  Clock& clock_;
  raft::Storage& storage_;
  std::unique_ptr<asio::thread_pool> storage_thread_;  // only when storage blocks (fsync): syncs run there
  // A leader does not wait for its own sync: the write goes to the storage thread, which reports back through
  // synced_ (and a StorageSynced nudge in the inbox); Sends of that burst wait there until it is durable.
  struct BackgroundWrite {
    raft::Persist change;
    std::deque<raft::Effect> held_sends;
    std::exception_ptr failure;
    double seconds = 0;  // how long the write (and sync) took on the storage thread
  };
  std::size_t background_writes_ = 0;
  std::deque<std::shared_ptr<BackgroundWrite>> synced_;
  const ReplicaOptions& options_;
  ReplicaMetrics& metrics_;
  Logger log_;
  std::optional<raft::Snapshot> latest_snapshot_;  // what a follower behind the log's start is sent
  raft::RaftCore core_;
  asio::any_io_executor executor_;
  std::map<raft::NodeId, ReplicatorHandle> replicators_;
  raft::Term replicators_term_ = 0;
  std::uint64_t timer_epoch_ = 0;
  raft::Index applier_next_ = 1;
  raft::Index applied_index_ = 0;
  TimePoint last_leader_contact_{};
  bool heard_from_leader_ = false;
  raft::NodeId last_leader_;
};

}  // namespace coraft::actors
