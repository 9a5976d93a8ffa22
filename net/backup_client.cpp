#include "net/backup_client.hpp"

#include "net/exit_codes.hpp"
#include "raft/backup_file.hpp"
#include "raft/crc32.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>

namespace coraft::net {
namespace {

// FILE.part, written append-only, then synced and renamed over FILE (and its directory synced).
class PartFile {
 public:
  explicit PartFile(std::string path) : path_(std::move(path)), part_(path_ + ".part") {}
  ~PartFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(part_.c_str());
    }
  }
  std::string open() {
    fd_ = ::open(part_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    return fd_ < 0 ? fmt::format("cannot create {}: {}", part_, std::strerror(errno)) : "";
  }
  std::string append(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fmt::format("cannot write {}: {}", part_, std::strerror(errno));
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return "";
  }
  std::string restart() {
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) {
      return fmt::format("cannot truncate {}: {}", part_, std::strerror(errno));
    }
    return "";
  }
  std::string commit() {
    if (::fsync(fd_) != 0) return fmt::format("cannot sync {}: {}", part_, std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    if (::rename(part_.c_str(), path_.c_str()) != 0) {
      return fmt::format("cannot rename {} to {}: {}", part_, path_, std::strerror(errno));
    }
    const std::string dir = std::filesystem::path(path_).parent_path().string();
    const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return "";
  }

 private:
  std::string path_, part_;
  int fd_ = -1;
};

SavedBackup failure(int code, std::string error) {
  SavedBackup out;
  out.exit_code = code;
  out.error = std::move(error);
  return out;
}

}  // namespace

asio::awaitable<SavedBackup> save_backup(Client& client, const std::string& path) {
  std::error_code exists_error;
  if (std::filesystem::exists(path, exists_error)) {
    co_return failure(exit_code::kCannotCreate, fmt::format("{} exists: a backup is never written over another file",
                                                            path));
  }
  PartFile file(path);
  if (auto error = file.open(); !error.empty()) co_return failure(exit_code::kCannotCreate, error);
  std::string last_refusal;
  for (int attempt = 0; attempt < kBackupAttempts; ++attempt) {
    if (auto error = file.restart(); !error.empty()) co_return failure(exit_code::kCannotCreate, error);
    SavedBackup saved;
    std::uint64_t id = 0, offset = 0;
    std::uint32_t crc = 0;
    std::string trailer;  // the file's last 4 bytes
    bool dropped = false;
    do {
      CallResult r = co_await client.backup_chunk(id, offset, saved.taken_by);
      if (r.outcome == Outcome::kUnavailable) {
        co_return failure(exit_code::kNoAnswer,
                          r.nothing_listens
                              ? fmt::format("no replica is running (nothing listens at {})", client.addresses(r.tried))
                          : id == 0 ? "no leader answered: the cluster may be down or without a majority"
                                  : fmt::format("replica {} stopped answering after {} of {} bytes",
                                                saved.taken_by.str(), offset, saved.bytes));
      }
      if (r.outcome == Outcome::kRejected || !r.reply.backup) {
        if (id == 0) co_return failure(exit_code::kRefused, fmt::format("the cluster refused: {}", r.reply.reason));
        last_refusal = r.reply.reason;
        dropped = true;  // its holder dropped it: take a new one
        break;
      }
      const actors::BackupChunk& chunk = *r.reply.backup;
      if (id == 0) {
        id = chunk.id;
        saved.taken_by = r.answered_by;
        saved.index = chunk.index;
        saved.term = chunk.term;
        saved.bytes = chunk.total;
        saved.crc = chunk.crc;
      }
      if (chunk.id != id || chunk.offset != offset || chunk.total != saved.bytes || chunk.crc != saved.crc ||
          (chunk.data.empty() && offset < saved.bytes)) {
        co_return failure(exit_code::kNoAnswer, fmt::format("replica {} sent a chunk that does not fit (backup {} at "
                                                            "{}, expected {} at {})",
                                                            saved.taken_by.str(), chunk.id, chunk.offset, id, offset));
      }
      if (saved.bytes < 4) {
        co_return failure(exit_code::kNoAnswer, fmt::format("replica {} announced a backup of {} bytes: too short",
                                                            saved.taken_by.str(), saved.bytes));
      }
      if (auto error = file.append(chunk.data); !error.empty()) co_return failure(exit_code::kCannotCreate, error);
      // The checksum covers everything before the file's last 4 bytes, which hold it.
      const std::uint64_t covered_end = saved.bytes - 4;
      if (offset < covered_end) {
        crc = raft::crc32c(std::string_view(chunk.data).substr(0, std::min<std::uint64_t>(chunk.data.size(),
                                                                                          covered_end - offset)),
                           crc);
      }
      for (std::size_t i = 0; i < chunk.data.size(); ++i) {
        if (offset + i >= covered_end) trailer.push_back(chunk.data[i]);
      }
      offset += chunk.data.size();
      ++saved.chunks;
    } while (offset < saved.bytes);
    if (dropped) continue;
    const std::uint32_t stored = raft::backup_checksum(trailer);
    if (crc != saved.crc || stored != saved.crc) {
      co_return failure(exit_code::kNoAnswer, fmt::format("checksum mismatch: the bytes received sum to {:08x}, the "
                                                          "file says {:08x}, the replica {:08x}",
                                                          crc, stored, saved.crc));
    }
    if (auto error = file.commit(); !error.empty()) co_return failure(exit_code::kCannotCreate, error);
    saved.ok = true;
    co_return saved;
  }
  co_return failure(exit_code::kNoAnswer, fmt::format("the backup was dropped before it was read {} times running "
                                                      "(last: {})",
                                                      kBackupAttempts, last_refusal));
}

}  // namespace coraft::net
