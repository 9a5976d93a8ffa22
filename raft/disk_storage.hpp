#pragma once
// Durable persistent state: a write-ahead log of checksummed records in append-only segment files, plus snapshot
// files, in a data directory that one process at a time may own (an exclusive lock). All file access goes through a
// FileSystem: the machine's own in production, a model of a disk that loses unsynced bytes in simulation.
//
//   <dir>/LOCK                           held for the life of the process
//   <dir>/wal-<seq>.log                  segments, oldest first; a new one starts past segment_bytes
//   <dir>/snapshot-<index>-<term>.snap   the newest snapshot: magic, index, term, size, crc32c, then the bytes
//
// Record: u32 length | u32 crc32c(type + payload) | u8 type | payload (little endian).
//   1 hard state   u64 term, u16 voted_for
//   2 entry        u64 index, u64 term, u8 kind, then the data
//   3 truncate     u64 first index to drop
//   4 base         u64 index, u64 term: everything up to here is in the snapshot file
//
// Order of writes, so that a crash at any point leaves a directory that recovers to a state Raft allows:
//   * persist() appends one Persist's records with a single write and, with FsyncPolicy::kAlways, syncs before
//     returning: whatever depends on it may then leave the replica.
//   * A snapshot from the leader (Persist::snapshot): its file is written and synced under a temporary name; then
//     the records that cut a disagreeing suffix are written and synced; only then is the file renamed into place
//     (and the directory synced), followed by the base record. Recovery also applies Figure 13 itself: entries after
//     the snapshot survive only if the log held the snapshot's last entry with the snapshot's term.
//   * Our own snapshot (compaction) is written by prepare_snapshot(), which touches nothing persist() touches and
//     may run on another thread at the same time; adopt_snapshot() then renames it into place, writes the base
//     record and deletes the segments and snapshots it makes redundant, in order with persist().
//
// Recovery reads every segment in order. A torn tail — the last record of the last segment cut short or failing its
// checksum with nothing after it — is cut off and recovery goes on; a bad record anywhere else means corruption of
// acknowledged data, and the directory is refused with a StorageError saying where.

#include "raft/file_system.hpp"
#include "raft/persist.hpp"

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coraft::raft {

enum class FsyncPolicy { kAlways, kNone };
std::string_view fsync_policy_name(FsyncPolicy policy);

struct DiskStorageOptions {
  std::string dir;
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  std::size_t segment_bytes = 64u << 20;
};

// Our own snapshot, written and synced under a temporary name, waiting to be adopted.
struct PreparedSnapshot {
  Snapshot snapshot;
  std::string temp_path;
};

class DiskStorage {
 public:
  // Creates the directory if needed, takes the lock and reads everything back. Throws StorageError.
  DiskStorage(FileSystem& fs, DiskStorageOptions options);
  ~DiskStorage();
  DiskStorage(const DiskStorage&) = delete;
  DiskStorage& operator=(const DiskStorage&) = delete;

  // Hands over what was read at open (once: the entries are not kept twice).
  RecoveredState recover() { return std::exchange(recovered_, {}); }
  // Appends one change; with FsyncPolicy::kAlways it is durable when this returns.
  void persist(const Persist& change);
  PreparedSnapshot prepare_snapshot(const Snapshot& snapshot) const;
  // Does nothing (but remove the file) when a snapshot at or past it was installed meanwhile.
  void adopt_snapshot(const PreparedSnapshot& prepared);

  struct RecoveryReport {
    std::size_t segments = 0;
    std::size_t records = 0;
    std::size_t torn_bytes_cut = 0;          // bytes of a torn tail that were cut off
    std::size_t suffix_entries_dropped = 0;  // entries after the snapshot that disagreed with it (Figure 13)
  };
  const RecoveryReport& recovery_report() const { return report_; }
  const DiskStorageOptions& options() const { return options_; }
  std::uint64_t syncs() const { return syncs_; }

 private:
  void read_all();
  void read_snapshot();
  void install(const PreparedSnapshot& prepared, std::string records_before);
  void compact(const Snapshot& snapshot);
  void write_records(const std::string& bytes);
  void zero_ahead();
  void sync_segment();
  void open_segment_for_append(std::uint64_t seq);
  std::string path(std::string_view name) const;

  FileSystem& fs_;
  DiskStorageOptions options_;
  std::shared_ptr<void> lock_;
  std::unique_ptr<WritableFile> segment_;
  std::uint64_t segment_seq_ = 0;
  std::uint64_t segment_end_ = 0;  // where the segment's data ends (preallocated zeros follow)
  std::uint64_t zeroed_end_ = 0;   // up to here the segment's blocks were written (with data or zeros) by us
  RecoveredState recovered_;
  HardState hard_state_;
  Index base_index_ = 0;
  std::map<std::uint64_t, Index> segment_last_index_;  // segment seq -> highest entry index it holds
  RecoveryReport report_;
  std::uint64_t syncs_ = 0;
};

// A data directory's identity: a number chosen when the directory is first used (the IDENTITY file), to which the
// cluster pins each member (raft/membership.hpp), so that a wiped directory comes back as a stranger, not as the
// replica that voted and acknowledged before. `fresh` says the directory had no identity yet (it was new or wiped);
// then `candidate` becomes its identity, written durably before anything else.
struct DirectoryIdentity {
  std::uint64_t incarnation;
  bool fresh;
};
DirectoryIdentity open_identity(FileSystem& fs, const std::string& dir, std::uint64_t candidate);

// Recovery from bytes, without files: what DiskStorage does with each file it reads, exposed for tests and fuzzing.

// Encodes one Persist's hard state, truncation and entries as WAL records.
std::string encode_records(const Persist& change);

// What the segments read so far add up to.
struct WalState {
  HardState hard_state;
  std::vector<EntryPtr> entries;
  Index base_index = 0;                               // the snapshot's index: entries up to it are skipped
  std::optional<Term> term_at_base;                   // the term of the entry the log held at base_index, if seen
  bool base_record_seen = false;                      // the log recorded that it relies on the snapshot at base_index
  std::size_t dropped_suffix = 0;                     // entries after base_index that disagreed with the snapshot
  std::map<std::uint64_t, Index> segment_last_index;  // segment seq -> highest entry index it holds
  std::size_t records = 0;
  std::size_t torn_bytes_cut = 0;
};
// Reads the records of segment `seq` into `state`. Only the newest segment may end in a torn record. Returns where
// its records end: a torn tail (newest segment only) or preallocated zeros may follow. Throws StorageError naming
// `path` and the offset on corruption.
std::size_t read_segment(std::string_view data, std::uint64_t seq, bool newest, const std::string& path,
                         WalState& state);

// A snapshot file's contents (magic, index, term, size, crc32c, then the bytes). Throws StorageError naming `path` if
// the header or the checksum is wrong.
Snapshot parse_snapshot_file(std::string_view data, const std::string& path);

}  // namespace coraft::raft
