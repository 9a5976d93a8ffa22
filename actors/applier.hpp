#pragma once
// The applier actor.
//   Owns: the kv::Store (the state machine) and the applied index. The gateway reads the store directly (same
//         io_context, read-only) once the applied index covers a read.
//   Inbox: ApplyCommitted from the node — committed entries in log order.
//   Outbox: EntriesApplied to the gateway (send: may wait), AppliedThrough to the node (try_send: level-triggered).
//   Applies every index exactly once, in order; an index it has already applied is skipped, a gap is a bug.
//   Shutdown: ends when its inbox is closed.

#include "actors/inboxes.hpp"
#include "actors/log.hpp"
#include "kv/store.hpp"

namespace coraft::actors {

class Applier {
 public:
  Applier(ApplierMailbox& inbox, GatewayMailbox& gateway, NodeMailbox& node, kv::Store& store, Logger log);
  asio::awaitable<void> run();

  raft::Index applied_index() const { return applied_index_; }

 private:
  ApplierMailbox& inbox_;
  GatewayMailbox& gateway_;
  NodeMailbox& node_;
  kv::Store& store_;
  Logger log_;
  raft::Index applied_index_ = 0;
  raft::Term applied_term_ = 0;
};

}  // namespace coraft::actors
