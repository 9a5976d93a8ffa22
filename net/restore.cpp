#include "net/restore.hpp"

#include "net/exit_codes.hpp"
#include "raft/disk_storage.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <fstream>
#include <sstream>

namespace coraft::net {

std::uint64_t restored_cluster_id(std::string_view backup_file, const ClusterConfig& config) {
  // The members and their addresses, in id order (the map's): what makes two cluster files the same cluster.
  std::string members;
  for (const auto& [id, address] : config.replicas) members += fmt::format("{}={}:{};", id.str(), address.host, address.port);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const bool ok = context && EVP_DigestInit_ex(context, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(context, "coraft restored cluster\n", 24) == 1 &&
                  EVP_DigestUpdate(context, backup_file.data(), backup_file.size()) == 1 &&
                  EVP_DigestUpdate(context, members.data(), members.size()) == 1 &&
                  EVP_DigestFinal_ex(context, digest.data(), &length) == 1;
  EVP_MD_CTX_free(context);
  if (!ok || length < 8) throw std::runtime_error("SHA-256 is not available from OpenSSL");
  std::uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id = id << 8 | digest[static_cast<std::size_t>(i)];
  return id == 0 ? 1 : id;
}

RestoreReport restore_replica(const std::string& backup_path, const ClusterConfig& config, raft::NodeId self,
                              const std::string& data_dir) {
  std::ifstream in(backup_path, std::ios::binary);
  if (!in) throw RestoreError(exit_code::kNoInput, fmt::format("cannot read the backup {}", backup_path));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw RestoreError(exit_code::kNoInput, fmt::format("cannot read the backup {}", backup_path));
  const std::string file = std::move(bytes).str();
  auto parsed = raft::parse_backup(file);
  if (auto* why = std::get_if<std::string>(&parsed)) {
    throw RestoreError(exit_code::kDataError, fmt::format("{} is not a usable backup: {}", backup_path, *why));
  }
  RestoreReport report;
  report.backup = std::move(std::get<raft::Backup>(parsed));
  report.state_bytes = report.backup.state.size();
  report.cluster_id = restored_cluster_id(file, config);
  const actors::ReplicaOptions options = config.options_for(self);
  raft::PosixFileSystem files;
  try {
    raft::restore_data_directory(files, data_dir, report.backup, options.initial_membership, report.cluster_id);
  } catch (const raft::StorageError& e) {
    throw RestoreError(exit_code::kStorage, e.what());
  }
  report.backup.state.clear();
  return report;
}

}  // namespace coraft::net
