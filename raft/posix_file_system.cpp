#include "raft/file_system.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace coraft::raft {
namespace {

namespace fs = std::filesystem;

std::string errno_text() { return std::strerror(errno); }

class PosixFile final : public WritableFile {
 public:
  PosixFile(std::string path, int fd, std::uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixFile() override { ::close(fd_); }

  std::uint64_t size() const override { return size_; }

  void write_at(std::uint64_t offset, std::string_view bytes) override {
    std::size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = ::pwrite(fd_, bytes.data() + written, bytes.size() - written, static_cast<off_t>(offset + written));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw StorageError(fmt::format("write to {} failed: {}", path_, errno_text()));
      }
      written += static_cast<std::size_t>(n);
    }
    size_ = std::max(size_, offset + bytes.size());
  }

  void preallocate(std::uint64_t offset, std::uint64_t length) override {
    // Where the file system cannot, appends simply grow the file.
    if (::fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) {
      size_ = std::max(size_, offset + length);
    }
  }

  void sync() override {
    if (::fdatasync(fd_) != 0) throw StorageError(fmt::format("fdatasync of {} failed: {}", path_, errno_text()));
  }

 private:
  std::string path_;
  int fd_;
  std::uint64_t size_;
};

}  // namespace

void replace_file_durably(FileSystem& fs, const std::string& dir, std::string_view name, std::string_view contents) {
  const std::string file = join_path(dir, name);
  const std::string temp = file + ".tmp";
  auto out = fs.open(temp, true);
  out->write_at(0, contents);
  out->sync();
  fs.rename(temp, file);
  fs.sync_dir(dir);
}

std::string join_path(const std::string& dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  return dir.back() == '/' ? dir + std::string(name) : dir + "/" + std::string(name);
}

void PosixFileSystem::create_directories(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw StorageError(fmt::format("cannot create directory {}: {}", dir, error.message()));
}

std::vector<std::string> PosixFileSystem::list(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& item : fs::directory_iterator(dir, error)) {
    if (item.is_regular_file()) names.push_back(item.path().filename().string());
  }
  if (error) throw StorageError(fmt::format("cannot list {}: {}", dir, error.message()));
  return names;
}

bool PosixFileSystem::exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string PosixFileSystem::read(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw StorageError(fmt::format("cannot read {}: {}", path, errno_text()));
  struct stat st {};
  ::fstat(fd, &st);
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = n < 0 ? errno_text() : "short read";
      ::close(fd);
      throw StorageError(fmt::format("cannot read {}: {}", path, reason));
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return data;
}

std::unique_ptr<WritableFile> PosixFileSystem::open(const std::string& path, bool truncate) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
  if (fd < 0) throw StorageError(fmt::format("cannot open {}: {}", path, errno_text()));
  struct stat st {};
  ::fstat(fd, &st);
  return std::make_unique<PosixFile>(path, fd, static_cast<std::uint64_t>(st.st_size));
}

void PosixFileSystem::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    throw StorageError(fmt::format("cannot rename {} to {}: {}", from, to, errno_text()));
  }
}

void PosixFileSystem::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw StorageError(fmt::format("cannot remove {}: {}", path, errno_text()));
  }
}

void PosixFileSystem::truncate(const std::string& path, std::uint64_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
    throw StorageError(fmt::format("cannot cut {} to {} bytes: {}", path, size, errno_text()));
  }
}

void PosixFileSystem::sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw StorageError(fmt::format("cannot open directory {}: {}", dir, errno_text()));
  const int rc = ::fsync(fd);
  const std::string reason = errno_text();
  ::close(fd);
  if (rc != 0) throw StorageError(fmt::format("fsync of directory {} failed: {}", dir, reason));
}

std::shared_ptr<void> PosixFileSystem::lock(const std::string& dir) {
  const std::string path = join_path(dir, "LOCK");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw StorageError(fmt::format("cannot open {}: {}", path, errno_text()));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw StorageError(fmt::format("data directory {} is in use by another process (lock {})", dir, path));
  }
  // Closing the descriptor releases the lock.
  return std::shared_ptr<void>(new int(fd), [](void* p) {
    auto* held = static_cast<int*>(p);
    ::close(*held);
    delete held;
  });
}

}  // namespace coraft::raft
