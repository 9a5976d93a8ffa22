#pragma once
// `kvctl backup FILE`: asks the cluster's leader for a backup of the committed state (raft/backup_file.hpp) and
// streams it into FILE, chunk by chunk, checking each chunk's place and the whole file's checksum. The file appears
// under its name only once complete and synced (it is written as FILE.part first), so a FILE that exists is whole.
// When the replica holding the backup drops it (it restarted, or lost it to newer backups), a new one is taken, at
// most kBackupAttempts times.

#include "net/client.hpp"
#include "raft/types.hpp"

#include <cstdint>
#include <string>

namespace coraft::net {

inline constexpr int kBackupAttempts = 3;

struct SavedBackup {
  bool ok = false;
  int exit_code = 0;   // net/exit_codes.hpp, when not ok
  std::string error;   // when not ok: what went wrong, for a person
  raft::Index index = 0;
  raft::Term term = 0;
  std::uint64_t bytes = 0;
  std::uint32_t crc = 0;
  raft::NodeId taken_by;  // the replica (the leader when it was asked) that took it
  int chunks = 0;
};

// `path` must not exist (exit_code::kCannotCreate otherwise: a backup is never written over).
asio::awaitable<SavedBackup> save_backup(Client& client, const std::string& path);

}  // namespace coraft::net
