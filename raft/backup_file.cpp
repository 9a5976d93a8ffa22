#include "raft/backup_file.hpp"

#include "raft/bytes.hpp"
#include "raft/crc32.hpp"
#include "raft/disk_storage.hpp"

#include <fmt/format.h>

#include <cinttypes>
#include <cstdio>

namespace coraft::raft {

std::string encode_backup(const Backup& backup, std::string_view state) {
  std::string out;
  out.reserve(state.size() + 64);
  ByteWriter w(out);
  w.raw(kBackupMagic);
  w.u32(kBackupFormat);
  w.u64(backup.index);
  w.u64(backup.term);
  w.u64(backup.taken_unix_ms);
  w.u64(backup.cluster_id);
  w.bytes(state);
  w.u32(crc32c(out));
  return out;
}

std::uint32_t backup_checksum(std::string_view file) {
  std::uint32_t crc = 0;
  if (file.size() >= 4) ByteReader(file.substr(file.size() - 4)).u32(crc);
  return crc;
}

std::variant<Backup, std::string> parse_backup(std::string_view bytes) {
  if (bytes.size() < kBackupMagic.size() || bytes.substr(0, kBackupMagic.size()) != kBackupMagic) {
    return std::string("not a coraft backup (it does not start with \"CRBACKUP\")");
  }
  ByteReader r(bytes.substr(kBackupMagic.size()));
  Backup backup;
  std::uint32_t format = 0;
  if (!r.u32(format)) return std::string("cut short in its header");
  if (format != kBackupFormat) {
    return fmt::format("backup format {}, but this program reads format {} (a newer coraft wrote it?)", format,
                       kBackupFormat);
  }
  if (!r.u64(backup.index) || !r.u64(backup.term) || !r.u64(backup.taken_unix_ms) || !r.u64(backup.cluster_id)) {
    return std::string("cut short in its header");
  }
  if (!r.bytes(backup.state)) return std::string("cut short: the state it announces is longer than the file");
  std::uint32_t stored = 0;
  const std::size_t covered = kBackupMagic.size() + r.position();
  if (!r.u32(stored)) return std::string("cut short: its checksum is missing");
  if (!r.done()) return fmt::format("{} bytes follow its checksum", r.rest().size());
  const std::uint32_t computed = crc32c(bytes.substr(0, covered));
  if (stored != computed) {
    return fmt::format("checksum mismatch (stored {:08x}, computed {:08x}): the file is damaged", stored, computed);
  }
  if (backup.index == 0 || backup.term == 0) return std::string("it records no log position");
  return backup;
}

std::uint64_t read_cluster_id(FileSystem& fs, const std::string& dir) {
  const std::string file = join_path(dir, "CLUSTER");
  if (!fs.exists(file)) return 0;
  const std::string text = fs.read(file);
  std::uint64_t id = 0;
  if (std::sscanf(text.c_str(), "cluster %" SCNx64, &id) != 1 || id == 0) {
    throw StorageError(fmt::format("{}: not a cluster identity (expected \"cluster\" and 16 hex digits)", file));
  }
  return id;
}

void write_cluster_id(FileSystem& fs, const std::string& dir, std::uint64_t cluster_id) {
  fs.create_directories(dir);
  replace_file_durably(fs, dir, "CLUSTER", fmt::format("cluster {:016x}\n", cluster_id));
}

void restore_data_directory(FileSystem& fs, const std::string& dir, const Backup& backup, const Membership& membership,
                            std::uint64_t new_cluster_id) {
  // A CLUSTER file of the same new identity is a restore cut short: it may go on. Any other means another cluster.
  if (const std::uint64_t existing = read_cluster_id(fs, dir); existing != 0 && existing != new_cluster_id) {
    throw StorageError(fmt::format("{} already belongs to cluster {:016x}: restore only into a new, empty data "
                                   "directory",
                                   dir, existing));
  }
  DiskStorageOptions options;
  options.dir = dir;
  options.fsync = FsyncPolicy::kAlways;
  DiskStorage storage(fs, options);
  RecoveredState existing = storage.recover();
  if (existing.snapshot || !existing.entries.empty() || existing.hard_state.term != 0) {
    throw StorageError(fmt::format("{} already holds a replica's data (term {}, {} log entries{}): restore only into "
                                   "a new, empty data directory",
                                   dir, existing.hard_state.term, existing.entries.size(),
                                   existing.snapshot ? fmt::format(", a snapshot at {}", existing.snapshot->index)
                                                     : ""));
  }
  // The identity first: a directory with a snapshot but no CLUSTER file would start as a replica of the old cluster.
  write_cluster_id(fs, dir, new_cluster_id);
  Persist seed;
  Snapshot snapshot = make_snapshot(backup.index, backup.term, backup.state);
  snapshot.membership = membership.encode();
  seed.snapshot = std::move(snapshot);
  seed.hard_state = HardState{backup.term, kNoNode};
  storage.persist(seed);
}

}  // namespace coraft::raft
