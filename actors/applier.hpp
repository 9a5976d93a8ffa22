#pragma once
// The applier actor.
//   Owns: the kv::Store (the state machine) and the applied index; nobody else touches the store. Also the blocking
//         queries of the HTTP API
//         that wait for a key range to change (a WatchTable), since only the applier sees every change.
//   Inbox: ApplyCommitted from the node — committed entries in log order; RestoreFromSnapshot — a snapshot replaces
//          the state machine (at start, or one installed from the leader); from the KV API: ReadRange (answered at
//          once), WatchRange (answered once the range's index passes the query's, at once if it already has),
//          EndWatch (the query's wait is over: answered now); from the gateway: ReadValues (answered at once with
//          ValuesRead: the gateway asks once this applier has passed the reads' index), TakeBackup (a snapshot taken now,
//          or the one being serialized, handed back as BackupTaken). Queries are answered even while a snapshot is
//          being serialized: both only read the store.
//   Outbox: EntriesApplied to the gateway (send: may wait); AppliedThrough and, every snapshot_every_entries,
//           SnapshotTaken to the node (try_send: a snapshot lost to a full inbox is taken again at the next one);
//           RangeAnswered to the KV API (send: may wait; the KV API never waits on the applier); BackupTaken to the
//           gateway (send: may wait).
//   Applies every index exactly once, in order; an index it has already applied is skipped, a gap is a bug.
//   Shutdown: ends when its inbox is closed.

#include "actors/inboxes.hpp"
#include "actors/logger.hpp"
#include "actors/watch_table.hpp"
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
  Applier(ApplierMailbox& inbox, GatewayMailbox& gateway, NodeMailbox& node, KvApiMailbox& kv_api, kv::Store& store,
          std::uint64_t snapshot_every_entries, bool background_snapshots, std::uint64_t stagger, Logger log);
  ~Applier();
  asio::awaitable<void> run();

  raft::Index applied_index() const { return applied_index_; }
  std::size_t watching() const { return watches_.size(); }

 private:
  // Applies the first `at_most` entries of `batch` (or all); returns how many it took.
  std::size_t apply(const ApplyCommitted& batch, EntriesApplied& applied, std::size_t at_most);
  static constexpr std::size_t kApplySlice = 16384;  // entries applied between two yields (tens of milliseconds)
  // Returns whether the store was replaced.
  bool restore(const raft::Snapshot& snapshot);
  void maybe_snapshot();
  void start_snapshot();  // serializes the store as it stands (on snapshot_thread_ when there is one)
  void snapshot_done();
  asio::awaitable<bool> send_backups();  // false once the gateway's mailbox is closed
  // Queries from the KV API and the gateway. Return false once the asker's mailbox is closed.
  asio::awaitable<bool> answer_query(ApplierInbox& query);
  // Answers the watches the last batch (or restore) may have changed whose range has moved past their index.
  asio::awaitable<bool> answer_watches();
  // Moves `read` out. By reference: see actors/mailbox.hpp on temporaries in co_await expressions.
  asio::awaitable<bool> answer(std::uint64_t query_id, kv::RangeRead& read);
  void note_change(const kv::Command& command, const kv::Result& result);

  ApplierMailbox& inbox_;
  GatewayMailbox& gateway_;
  NodeMailbox& node_;
  KvApiMailbox& kv_api_;
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
  std::vector<std::uint64_t> backups_waiting_;  // backups the snapshot being serialized (or the next) answers
  std::deque<BackupTaken> backups_ready_;
  std::chrono::steady_clock::time_point serialize_started_;
  raft::Index applied_index_ = 0;
  raft::Term applied_term_ = 0;

  struct Watch {
    bool keys_only = false;
    std::uint64_t after_index = 0;
  };
  WatchTable watches_;
  std::map<std::uint64_t, Watch> watch_queries_;  // query id -> what it asked; the same ids as in watches_
  std::vector<std::uint64_t> maybe_changed_;      // watches the batch being applied may have changed
};

}  // namespace coraft::actors
