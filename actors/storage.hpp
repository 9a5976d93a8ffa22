#pragma once
// The storage actor: the only owner of the replica's state on disk — the write-ahead log and the snapshot files
// (raft::DiskStorage) — and of the disk workers that do its blocking I/O.
//   Owns also its counters (StorageMetrics), rendered for the gateway on ReportMetrics (answered with
//   MetricsReport, try_send: a report lost to a full inbox leaves a gap in that one answer).
//   Inbox: StorageWrite, StorageSnapshot and StorageDiscard from the node; StorageWake from its own workers (a job
//          finished) and from its own retry timer; ReportMetrics from the gateway.
//   Outbox: StorageDurable{seq} to the node (try_send: the node sends to us with send(), so we never wait on it; a
//           notice a full inbox refused is sent again by a timer, and each notice covers every write before it).
//   Writes reach the disk in the order they are numbered. While one job is under way, what arrives queues, and the
//   next job takes all of it with one sync (group commit). Our own snapshots are written beside the log on a second
//   worker, then take their place in the log's order (DiskStorage::adopt_snapshot).
//   A write that fails (a full or failing disk) throws out of run(): the replica stops rather than acknowledge what
//   is not on disk.
//   Shutdown: ends when its inbox is closed; a job under way finishes on its worker, unanswered.

#include "actors/disk_worker.hpp"
#include "actors/inboxes.hpp"
#include "actors/logger.hpp"
#include "actors/metrics.hpp"
#include "raft/disk_storage.hpp"

#include <memory>
#include <variant>
#include <vector>

namespace coraft::actors {

// How a replica reaches its disk. By default the log is written on a thread of its own (a follower's writes on the
// replica's thread: see StorageWrite::may_block_replica) and snapshots on another; the simulator passes simulated
// disks, which answer every job after a simulated time whoever asked.
struct StorageSetup {
  raft::FileSystem* fs = nullptr;
  raft::DiskStorageOptions options;
  DiskWorker* log_worker = nullptr;
  DiskWorker* snapshot_worker = nullptr;
  DiskWorker* inline_worker = nullptr;  // unset with log_worker set: the log worker does a follower's writes too
};

class Storage {
 public:
  // Opens the data directory and reads it back (throws raft::StorageError).
  Storage(StorageMailbox& inbox, NodeMailbox& node, Clock& clock, asio::io_context& io, const StorageSetup& setup,
          GatewayMailbox& gateway, Logger log);
  ~Storage();
  asio::awaitable<void> run();

  // What was on disk at start, handed over once (to the node).
  raft::RecoveredState recovered() { return disk_->recover(); }
  const raft::DiskStorage::RecoveryReport& recovery_report() const { return disk_->recovery_report(); }
  double recovery_ms() const { return recovery_ms_; }
  const raft::DiskStorageOptions& options() const { return disk_->options(); }

 private:
  using Step = std::variant<raft::Persist, raft::PreparedSnapshot>;
  struct Finished {  // a job's outcome, handed back on the replica's thread
    enum class Kind { kWrite, kPrepared } kind;
    std::uint64_t seq = 0;  // kWrite: durable up to this write, whose newest entry was (last_index, last_term)
    raft::Index last_index = 0;
    raft::Term last_term = 0;
    std::shared_ptr<raft::PreparedSnapshot> prepared;
    std::exception_ptr failure;
  };
  struct WriteStats {  // filled in on the worker
    std::size_t entries = 0;
    double seconds = 0;
  };

  void handle(StorageInbox& message);
  // Everything already in the inbox, then what the workers finished.
  void take_in_queued();
  void take_finished();
  void start_writing();
  void notify_node();
  void wake() { inbox_.try_send(StorageWake{0}); }  // a refusal means the inbox is not empty: we wake anyway
  // Writes only reach the page cache (fsync none): they take microseconds, so they are done inline.
  bool unsynced() const { return disk_->options().fsync == raft::FsyncPolicy::kNone; }

  StorageMailbox& inbox_;
  NodeMailbox& node_;
  GatewayMailbox& gateway_;  // only for MetricsReport
  StorageMetrics metrics_;
  Logger log_;
  std::unique_ptr<raft::DiskStorage> disk_;
  double recovery_ms_ = 0;
  // Declared after disk_, so destroyed first: a thread worker waits for its job, which uses disk_.
  std::unique_ptr<DiskWorker> own_log_worker_, own_snapshot_worker_, own_inline_worker_;
  DiskWorker* log_worker_;
  DiskWorker* snapshot_worker_;
  DiskWorker* inline_worker_;
  Timer retry_timer_;

  std::vector<std::pair<std::uint64_t, Step>> queued_;  // (write number, or 0 for an adoption; step), in order
  bool queued_may_block_ = true;                          // every queued write came from a replica not leading
  bool writing_ = false;
  std::vector<Finished> finished_;
  std::uint64_t durable_seq_ = 0;
  std::uint64_t notified_seq_ = 0;
  raft::Index last_index_ = 0;  // the newest entry handed to a job that finished, and its term
  raft::Term last_term_ = 0;
};

}  // namespace coraft::actors
