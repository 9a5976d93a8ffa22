#pragma once
// The applier actor.
//   Owns: the kv::Store (the state machine) and the applied index. The gateway reads the store directly (same
//         io_context, read-only) once the applied index covers a read.
//   Inbox: ApplyCommitted from the node — committed entries in log order; RestoreFromSnapshot — a snapshot replaces
//          the state machine (at start, or one installed from the leader).
//   Outbox: EntriesApplied to the gateway (send: may wait); AppliedThrough and, every snapshot_every_entries,
//           SnapshotTaken to the node (try_send: a snapshot lost to a full inbox is taken again at the next one).
//   Applies every index exactly once, in order; an index it has already applied is skipped, a gap is a bug.
//   Shutdown: ends when its inbox is closed.

#include "actors/inboxes.hpp"
#include "actors/log.hpp"
#include "kv/store.hpp"

namespace coraft::actors {

class Applier {
 public:
  Applier(ApplierMailbox& inbox, GatewayMailbox& gateway, NodeMailbox& node, kv::Store& store,
          std::uint64_t snapshot_every_entries, Logger log);
  asio::awaitable<void> run();

  raft::Index applied_index() const { return applied_index_; }

 private:
  void apply(const ApplyCommitted& batch, EntriesApplied& applied);
  void restore(const raft::Snapshot& snapshot);
  void maybe_snapshot();

  ApplierMailbox& inbox_;
  GatewayMailbox& gateway_;
  NodeMailbox& node_;
  kv::Store& store_;
  std::uint64_t snapshot_every_entries_;
  Logger log_;
  raft::Index last_snapshot_index_ = 0;
  raft::Index applied_index_ = 0;
  raft::Term applied_term_ = 0;
};

}  // namespace coraft::actors
