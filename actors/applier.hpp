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

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>

namespace asio {
class thread_pool;
}

namespace coraft::actors {

class Applier {
 public:
  Applier(ApplierMailbox& inbox, GatewayMailbox& gateway, NodeMailbox& node, kv::Store& store,
          std::uint64_t snapshot_every_entries, bool background_snapshots, std::uint64_t stagger, Logger log);
  ~Applier();
  asio::awaitable<void> run();

  raft::Index applied_index() const { return applied_index_; }

 private:
  // Applies the first `at_most` entries of `batch` (or all); returns how many it took.
  std::size_t apply(const ApplyCommitted& batch, EntriesApplied& applied, std::size_t at_most);
  static constexpr std::size_t kApplySlice = 16384;  // entries applied between two yields (tens of milliseconds)
  // Returns whether the store was replaced.
  bool restore(const raft::Snapshot& snapshot);
  void maybe_snapshot();
  void snapshot_done();

  ApplierMailbox& inbox_;
  GatewayMailbox& gateway_;
  NodeMailbox& node_;
  kv::Store& store_;
  std::uint64_t snapshot_every_entries_;
  std::uint64_t stagger_;  // this replica's turn (its id), so replicas do not all snapshot at the same index
  Logger log_;
  raft::Index last_snapshot_index_ = 0;
  // A snapshot being serialized on snapshot_thread_: until it is done the store must not change, so what arrives
  // waits in held_.
  std::unique_ptr<asio::thread_pool> snapshot_thread_;
  std::shared_ptr<raft::Snapshot> serializing_;
  std::shared_ptr<std::atomic<bool>> serialized_;
  std::deque<ApplierInbox> held_;
  std::chrono::steady_clock::time_point serialize_started_;
  raft::Index applied_index_ = 0;
  raft::Term applied_term_ = 0;
};

}  // namespace coraft::actors
