#pragma once
// The file operations the write-ahead log needs, behind an interface, so that one WAL implementation runs over the
// real disk (PosixFileSystem) and over MemoryFileSystem, a model of a disk behind a page cache in which written
// bytes, new names and renames are volatile until synced (the simulator crashes replicas over it).
//
// Every operation that fails throws StorageError naming the path and the reason.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace coraft::raft {

class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file open for writing.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual std::uint64_t size() const = 0;
  // Writes all of `bytes` at `offset` (pwrite), extending the file if needed.
  virtual void write_at(std::uint64_t offset, std::string_view bytes) = 0;
  // Zero-filled space reserved up to offset + length, so that later syncs write data blocks only. May do nothing.
  virtual void preallocate(std::uint64_t offset, std::uint64_t length) = 0;
  // Everything written so far survives a power cut once this returns (fdatasync).
  virtual void sync() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual void create_directories(const std::string& dir) = 0;
  // The names (not paths) of the regular files in `dir`.
  virtual std::vector<std::string> list(const std::string& dir) = 0;
  virtual bool exists(const std::string& path) = 0;
  virtual std::string read(const std::string& path) = 0;
  // Opens `path` for writing, creating it if missing; `truncate` empties it first.
  virtual std::unique_ptr<WritableFile> open(const std::string& path, bool truncate) = 0;
  virtual void rename(const std::string& from, const std::string& to) = 0;
  virtual void remove(const std::string& path) = 0;
  virtual void truncate(const std::string& path, std::uint64_t size) = 0;
  // New names, renames and removals in `dir` survive a power cut once this returns.
  virtual void sync_dir(const std::string& dir) = 0;
  // Exclusive use of `dir` by this process for as long as the returned handle lives. Throws if another has it.
  virtual std::shared_ptr<void> lock(const std::string& dir) = 0;
};

// The machine's own file system.
class PosixFileSystem final : public FileSystem {
 public:
  void create_directories(const std::string& dir) override;
  std::vector<std::string> list(const std::string& dir) override;
  bool exists(const std::string& path) override;
  std::string read(const std::string& path) override;
  std::unique_ptr<WritableFile> open(const std::string& path, bool truncate) override;
  void rename(const std::string& from, const std::string& to) override;
  void remove(const std::string& path) override;
  void truncate(const std::string& path, std::uint64_t size) override;
  void sync_dir(const std::string& dir) override;
  std::shared_ptr<void> lock(const std::string& dir) override;
};

std::string join_path(const std::string& dir, std::string_view name);

// Replaces `dir`/`name` with `contents` so that a power cut leaves the old file or the new one, never a mix: written
// under a temporary name and synced, renamed into place, the directory synced.
void replace_file_durably(FileSystem& fs, const std::string& dir, std::string_view name, std::string_view contents);

}  // namespace coraft::raft
