#pragma once
// `kvstore --restore`: seeds one replica's empty data directory from a backup (raft/backup_file.hpp), as
// `etcdutl snapshot restore` does. Every replica of the new cluster is restored from the same backup file and the
// same (new) cluster file, and started as usual afterwards.

#include "net/cluster_config.hpp"
#include "raft/backup_file.hpp"

#include <cstdint>
#include <string>

namespace coraft::net {

// The identity of the cluster restored from `backup_file` (its bytes) under `config`: the same for every replica
// restored from the same two, different for another backup or another set of members and addresses, and never 0
// (the identity of a cluster never restored). The first 8 bytes of SHA-256 over both.
std::uint64_t restored_cluster_id(std::string_view backup_file, const ClusterConfig& config);

struct RestoreReport {
  raft::Backup backup;  // its state moved out
  std::uint64_t cluster_id = 0;
  std::size_t state_bytes = 0;
};

class RestoreError : public std::runtime_error {
 public:
  RestoreError(int exit_code, const std::string& what) : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Reads and checks `backup_path`, then seeds `data_dir` for replica `self` of `config`. Throws RestoreError with the
// exit code to use (net/exit_codes.hpp) and a message that says what is wrong and where.
RestoreReport restore_replica(const std::string& backup_path, const ClusterConfig& config, raft::NodeId self,
                              const std::string& data_dir);

}  // namespace coraft::net
