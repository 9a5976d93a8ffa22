#pragma once
// One replica: the actors of ARCHITECTURE.md wired together on one io_context. It owns every mailbox and actor and
// their lifetimes; the network side (UDP bridge or simulated network) is attached from outside: it delivers inbound
// messages with deliver() and drains outbox(). The HTTP edge (net/http_server) is attached the same way: it delivers
// calls and forwarded answers into the KV API with deliver() and drains http_outbox(). The disk is reached through `storage` (a file system and, in the
// simulator, simulated disk workers); opening it reads the data directory back, and throws raft::StorageError if
// it cannot.

#include "actors/applier.hpp"
#include "actors/election_timer.hpp"
#include "actors/gateway.hpp"
#include "actors/inboxes.hpp"
#include "actors/kv_api.hpp"
#include "actors/logger.hpp"
#include "actors/raft_node.hpp"
#include "actors/replica_options.hpp"
#include "actors/rng.hpp"
#include "actors/storage.hpp"
#include "kv/store.hpp"

namespace asio {
class io_context;
}

namespace coraft::actors {

class Replica {
 public:
  Replica(asio::io_context& io, Clock& clock, const StorageSetup& storage, Rng rng, ReplicaOptions options,
          Logger log);
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Spawns the storage, node, election timer, applier, gateway and KV API (replicators come and go with leadership).
  void start();
  // Closes every mailbox; each actor returns at its next wait. Run the io_context until idle afterwards.
  void stop();
  // Before a clean stop: a leader hands leadership to its most up-to-date voter. The node tells how it ended through
  // ReplicaOptions::on_handover_done (at once where there is nothing to hand over). False: its inbox refused.
  bool hand_over();
  // Number of this replica's core actors still running.
  std::size_t live_actors() const { return live_actors_; }

  // Ingress from the network. False when the message was dropped (mailbox full or closed).
  bool deliver(raft::PeerMessage message);
  bool deliver(ClientRequest request);
  bool deliver(ApiCallReceived call);
  bool deliver(ForwardAnswered answered);
  // From the network and HTTP edges: an edge that counts things says so once (it is then asked, ReportMetrics), and
  // answers with its counters.
  void attach_edge(EdgeKind kind) { gateway_inbox_.try_send(EdgeAttached{kind}); }
  bool deliver(MetricsReport report) { return gateway_inbox_.try_send(std::move(report)); }
  // Egress: peer messages and client replies for the bridge to send.
  BridgeMailbox& outbox() { return outbox_; }
  // Egress of the KV API: answers to HTTP calls, and calls to forward to the leader.
  HttpEdgeMailbox& http_outbox() { return http_outbox_; }

  const ReplicaOptions& options() const { return options_; }
  const raft::RaftCore& core() const { return node_.core(); }
  const kv::Store& store() const { return store_; }
  raft::Index applied_index() const { return applier_.applied_index(); }
  const RaftNode& node() const { return node_; }
  const Storage& storage() const { return storage_; }
  const Gateway& gateway() const { return gateway_; }
  const KvApi& kv_api() const { return kv_api_; }
  const Applier& applier() const { return applier_; }
  const Logger& log() const { return log_; }
  std::uint64_t dropped_inbound() const {
    return node_inbox_.dropped() + gateway_inbox_.dropped() + kv_api_inbox_.dropped();
  }

 private:
  asio::io_context& io_;
  ReplicaOptions options_;
  Logger log_;
  kv::Store store_;
  NodeMailbox node_inbox_;
  ElectionTimerMailbox timer_inbox_;
  ApplierMailbox applier_inbox_;
  GatewayMailbox gateway_inbox_;
  StorageMailbox storage_inbox_;
  KvApiMailbox kv_api_inbox_;
  BridgeMailbox outbox_;
  HttpEdgeMailbox http_outbox_;
  Storage storage_;
  RaftNode node_;
  ElectionTimer timer_;
  Applier applier_;
  Gateway gateway_;
  KvApi kv_api_;
  std::size_t live_actors_ = 0;
};

}  // namespace coraft::actors
