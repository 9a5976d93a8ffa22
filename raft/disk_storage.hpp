#pragma once
// Durable persistent state: a write-ahead log of checksummed records in append-only segment files, in a data
// directory that one process at a time may own (an exclusive lock file).
//
//   <dir>/LOCK                     held with flock() for the life of the process
//   <dir>/wal-<seq>.log            segments, oldest first; a new one starts past segment_bytes
//   <dir>/snapshot-<index>-<term>.snap   the newest snapshot: magic, index, term, size, crc32c, then the bytes
//
// Record: u32 length | u32 crc32c(type + payload) | u8 type | payload (little endian).
//   1 hard state   u64 term, u16 voted_for
//   2 entry        u64 index, u64 term, u8 kind, then the data
//   3 truncate     u64 first index to drop
//   4 base         u64 index, u64 term: everything up to here is in the snapshot file
// A snapshot is written to a temporary file, synced and renamed into place before the base record that relies on
// it; then a new segment starts (with the hard state) and segments holding only compacted entries are deleted.
// persist() appends one Persist as records with a single write(); with FsyncPolicy::kAlways it then calls
// fdatasync() before returning, so everything a Persist carried is on disk before anything that depends on it
// leaves the replica (group commit: the raft node merges a burst of Persists into one).
//
// Recovery reads every segment in order. A torn tail — the last record of the last segment cut short or failing its
// checksum with nothing after it — is cut off and recovery goes on; a bad record anywhere else means corruption of
// acknowledged data, and the directory is refused with a StorageError saying where.

#include "raft/storage.hpp"

#include <map>
#include <stdexcept>
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

class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DiskStorage final : public Storage {
 public:
  // Creates the directory if needed, takes the lock and reads everything back. Throws StorageError.
  explicit DiskStorage(DiskStorageOptions options);
  ~DiskStorage() override;
  DiskStorage(const DiskStorage&) = delete;
  DiskStorage& operator=(const DiskStorage&) = delete;

  // Hands over what was read at open (once: the entries are not kept twice).
  RecoveredState recover() override { return std::exchange(recovered_, {}); }
  void persist(const Persist& change) override;
  bool blocks() const override { return options_.fsync == FsyncPolicy::kAlways; }

  struct RecoveryReport {
    std::size_t segments = 0;
    std::size_t records = 0;
    std::size_t torn_bytes_cut = 0;  // bytes of a torn tail that were cut off
  };
  const RecoveryReport& recovery_report() const { return report_; }
  std::uint64_t syncs() const { return syncs_; }

 private:
  void read_all();
  void read_snapshot();
  void save_snapshot(const Snapshot& snapshot);
  void compact(const Snapshot& snapshot);
  void sync_segment();
  void open_segment_for_append(std::uint64_t seq);
  void write_all(const std::string& bytes);

  DiskStorageOptions options_;
  int lock_fd_ = -1;
  int segment_fd_ = -1;
  std::uint64_t segment_seq_ = 0;
  std::size_t segment_size_ = 0;
  RecoveredState recovered_;
  HardState hard_state_;
  Index base_index_ = 0;
  std::map<std::uint64_t, Index> segment_last_index_;  // segment seq -> highest entry index it holds
  RecoveryReport report_;
  std::uint64_t syncs_ = 0;
};

// Recovery from bytes, without files: what DiskStorage does with each file it reads, exposed for tests and fuzzing.

// Encodes one Persist as WAL records.
std::string encode_records(const Persist& change);

// What the segments read so far add up to.
struct WalState {
  HardState hard_state;
  std::vector<EntryPtr> entries;
  Index base_index = 0;                               // the snapshot's index: entries up to it are skipped
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
