#pragma once
// One replica as a process: what kvstore's main() runs once its command line is parsed. Cluster mode reads the
// cluster file and the data directory's identities, course mode takes the simulator's port and ids; then it opens
// the socket and the HTTP listeners, starts the replica's actors and its edges, and runs until SIGINT or SIGTERM (a
// leader hands over first), a failing disk, or its removal from the cluster. Every outcome is an exit status of
// net/exit_codes.hpp, with the reason on standard error or in the log.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coraft::net {

struct ReplicaCommandLine {
  std::vector<std::string> positional;  // course mode: port, id, other ids
  std::string config_path, id_text;     // cluster mode
  std::optional<std::string> log_level;
  std::uint64_t seed = 0;  // 0: from the OS
  std::string data_dir, fsync_text;
  bool join = false;
  std::uint16_t metrics_port = 0;
  std::string metrics_address = "127.0.0.1";
  std::uint16_t http_port = 0;
  std::string restore_path;  // --restore: restore_replica_directory() instead
  std::string trace_hops_path;  // --trace-hops: actors/hop_trace.hpp
};

// Runs the replica until it stops; returns the process's exit status.
int run_replica_process(ReplicaCommandLine command_line);

// kvstore --restore: seeds `data_dir` (default coraft-data/<id>) for replica `id_text` of `config_path` from a backup
// (net/restore.hpp), says what it did, and returns the exit status.
int restore_replica_directory(const std::string& backup, const std::string& config_path, const std::string& id_text,
                              std::string data_dir);

}  // namespace coraft::net
