#pragma once
// A backup: the committed state machine at one log position, as `kvctl backup` writes it and `kvstore --restore`
// reads it. Self-describing and checksummed, so a file cut short or altered is refused before anything is written.
//
//   offset  0   8 bytes  magic "CRBACKUP"
//   offset  8   4 bytes  format version (1)
//   offset 12   8 bytes  index: the last log entry the state machine holds
//   offset 20   8 bytes  term of that entry
//   offset 28   8 bytes  when it was taken (Unix time, milliseconds; informative)
//   offset 36   8 bytes  the cluster identity it came from (0: a cluster never restored; see ClusterIdentity)
//   offset 44   8 bytes  n, then n bytes: the state machine image (kv::Store::serialize: keys, tombstones, sessions)
//   last 4 bytes         crc32c of every byte before it
// All integers little-endian (raft/bytes.hpp). Pure C++: no files here, except restore_data_directory().
//
// A cluster's identity. A replica restored from a backup belongs to a new cluster, whose identity is derived from
// the backup and the new cluster file (net/backup.hpp), so that every replica restored from the same two agrees. It
// lives in the data directory's CLUSTER file; a directory without one belongs to the cluster it was first started
// in, identity 0. Replicas stamp it on every peer message and drop messages of any other cluster (net/udp_bridge),
// so a restored replica and one of the old cluster never take each other's votes or entries.

#include "raft/file_system.hpp"
#include "raft/membership.hpp"
#include "raft/types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace coraft::raft {

inline constexpr std::string_view kBackupMagic = "CRBACKUP";
inline constexpr std::uint32_t kBackupFormat = 1;

struct Backup {
  Index index = 0;
  Term term = 0;
  std::uint64_t taken_unix_ms = 0;
  std::uint64_t cluster_id = 0;
  std::string state;  // the state machine image
};

// The file for `fields` (all but its state) holding `state`: a view, so a large image is not copied once more first.
std::string encode_backup(const Backup& fields, std::string_view state);
inline std::string encode_backup(const Backup& backup) { return encode_backup(backup, backup.state); }
// The checksum an encoded backup carries (its last four bytes); 0 for bytes too short to be one.
std::uint32_t backup_checksum(std::string_view file);
// The backup in `bytes`, or why it is not one (cut short, wrong magic or version, checksum mismatch).
std::variant<Backup, std::string> parse_backup(std::string_view bytes);

// The CLUSTER file of a data directory: its cluster identity, 0 when there is none. Throws StorageError for a file
// that says something else.
std::uint64_t read_cluster_id(FileSystem& fs, const std::string& dir);
// Writes it durably (a temporary file, synced, renamed, the directory synced).
void write_cluster_id(FileSystem& fs, const std::string& dir, std::uint64_t cluster_id);

// Seeds the empty data directory `dir` with `backup`: a snapshot file at the backup's index and term holding its
// state and `membership` (the new cluster's members, all voters), the hard state (the backup's term), and the
// CLUSTER file. Throws StorageError when `dir` already holds a log, a snapshot or a hard state (restore never
// overwrites a replica's data), or on any write error.
void restore_data_directory(FileSystem& fs, const std::string& dir, const Backup& backup, const Membership& membership,
                            std::uint64_t new_cluster_id);

}  // namespace coraft::raft
