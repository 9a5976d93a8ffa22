#include "raft/disk_storage.hpp"

#include "raft/crc32.hpp"

#include <fmt/format.h>

#include <algorithm>
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

enum RecordType : std::uint8_t { kHardState = 1, kEntry = 2, kTruncate = 3 };

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u16(std::string& out, std::uint16_t v) {
  for (int i = 0; i < 2; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u8(std::uint8_t& v) { return read(v, 1); }
  bool u16(std::uint16_t& v) { return read(v, 2); }
  bool u32(std::uint32_t& v) { return read(v, 4); }
  bool u64(std::uint64_t& v) { return read(v, 8); }
  std::string_view rest() const { return data_.substr(pos_); }
  bool done() const { return pos_ == data_.size(); }

 private:
  template <class T>
  bool read(T& v, std::size_t bytes) {
    if (data_.size() - pos_ < bytes) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < bytes; ++i) x |= static_cast<std::uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    v = static_cast<T>(x);
    pos_ += bytes;
    return true;
  }
  std::string_view data_;
  std::size_t pos_ = 0;
};

void add_record(std::string& out, RecordType type, const std::string& payload) {
  std::string body;
  body.reserve(payload.size() + 1);
  put_u8(body, type);
  body += payload;
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  put_u32(out, crc32c(body));
  out += body;
}

std::string errno_text() { return std::strerror(errno); }

std::string segment_name(std::uint64_t seq) { return fmt::format("wal-{:016x}.log", seq); }

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string_view fsync_policy_name(FsyncPolicy policy) { return policy == FsyncPolicy::kAlways ? "always" : "none"; }

std::string encode_records(const Persist& change) {
  std::string out;
  if (change.hard_state) {
    std::string p;
    put_u64(p, change.hard_state->term);
    put_u16(p, change.hard_state->voted_for.value);
    add_record(out, kHardState, p);
  }
  if (change.truncate_from) {
    std::string p;
    put_u64(p, *change.truncate_from);
    add_record(out, kTruncate, p);
  }
  for (const EntryPtr& e : change.entries) {
    std::string p;
    p.reserve(e->data.size() + 17);
    put_u64(p, e->index);
    put_u64(p, e->term);
    put_u8(p, static_cast<std::uint8_t>(e->kind));
    p += e->data;
    add_record(out, kEntry, p);
  }
  return out;
}

DiskStorage::DiskStorage(DiskStorageOptions options) : options_(std::move(options)) {
  std::error_code error;
  fs::create_directories(options_.dir, error);
  if (error) throw StorageError(fmt::format("cannot create data directory {}: {}", options_.dir, error.message()));
  const std::string lock_path = (fs::path(options_.dir) / "LOCK").string();
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw StorageError(fmt::format("cannot open {}: {}", lock_path, errno_text()));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw StorageError(fmt::format("data directory {} is in use by another process (lock {})", options_.dir, lock_path));
  }
  read_all();
}

DiskStorage::~DiskStorage() {
  if (segment_fd_ >= 0) {
    if (options_.fsync == FsyncPolicy::kAlways) ::fdatasync(segment_fd_);
    ::close(segment_fd_);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void DiskStorage::read_all() {
  std::vector<std::pair<std::uint64_t, fs::path>> segments;
  for (const auto& item : fs::directory_iterator(options_.dir)) {
    const std::string name = item.path().filename().string();
    if (name.size() != 24 || name.rfind("wal-", 0) != 0 || name.substr(20) != ".log") continue;
    try {
      segments.emplace_back(std::stoull(name.substr(4, 16), nullptr, 16), item.path());
    } catch (const std::exception&) {
      throw StorageError(fmt::format("{}: unexpected segment file name", item.path().string()));
    }
  }
  std::sort(segments.begin(), segments.end());
  report_.segments = segments.size();

  auto& entries = recovered_.entries;
  for (std::size_t s = 0; s < segments.size(); ++s) {
    const bool last_segment = s + 1 == segments.size();
    const std::string path = segments[s].second.string();
    std::string data;
    {
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw StorageError(fmt::format("cannot read {}: {}", path, errno_text()));
      struct stat st {};
      ::fstat(fd, &st);
      data.resize(static_cast<std::size_t>(st.st_size));
      std::size_t got = 0;
      while (got < data.size()) {
        const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
        if (n <= 0) {
          ::close(fd);
          throw StorageError(fmt::format("cannot read {}: {}", path, n < 0 ? errno_text() : "short read"));
        }
        got += static_cast<std::size_t>(n);
      }
      ::close(fd);
    }
    std::size_t offset = 0;
    auto bad = [&](const std::string& what, bool reaches_end) {
      // Only the very end of the newest segment may be torn (a write cut short by a crash); anything else is
      // corruption of data that may have been acknowledged.
      if (last_segment && reaches_end) {
        report_.torn_bytes_cut = data.size() - offset;
        data.resize(offset);
        if (::truncate(path.c_str(), static_cast<off_t>(offset)) != 0) {
          throw StorageError(fmt::format("cannot cut the torn tail of {}: {}", path, errno_text()));
        }
        return;
      }
      throw StorageError(fmt::format("{}: corrupt record at byte {}: {}; refusing to start (restore this replica from "
                                     "its peers by removing its data directory)",
                                     path, offset, what));
    };
    while (offset < data.size()) {
      Reader header(std::string_view(data).substr(offset));
      std::uint32_t length = 0, crc = 0;
      if (!header.u32(length) || !header.u32(crc)) {
        bad("truncated record header", true);
        break;
      }
      if (length == 0) {
        // A crash can leave a preallocated, zero-filled end; zeros followed by real data are corruption.
        const bool zeros_to_end = std::all_of(data.begin() + static_cast<std::ptrdiff_t>(offset), data.end(),
                                              [](char c) { return c == 0; });
        bad("empty record", zeros_to_end);
        break;
      }
      if (length > data.size() - offset - 8) {
        bad("record longer than the file", true);
        break;
      }
      const std::string_view body = std::string_view(data).substr(offset + 8, length);
      if (crc32c(body) != crc) {
        bad("checksum mismatch", offset + 8 + length == data.size());
        break;
      }
      Reader r(body);
      std::uint8_t type = 0;
      r.u8(type);
      bool ok = true;
      if (type == kHardState) {
        std::uint64_t term = 0;
        std::uint16_t vote = 0;
        ok = r.u64(term) && r.u16(vote) && r.done();
        recovered_.hard_state = HardState{term, NodeId{vote}};
      } else if (type == kTruncate) {
        std::uint64_t from = 0;
        ok = r.u64(from) && r.done();
        entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const EntryPtr& e) { return e->index >= from; }),
                      entries.end());
      } else if (type == kEntry) {
        auto e = std::make_shared<Entry>();
        std::uint8_t kind = 0;
        ok = r.u64(e->index) && r.u64(e->term) && r.u8(kind) && kind <= 1;
        if (ok) {
          e->kind = static_cast<EntryKind>(kind);
          e->data = std::string(r.rest());
          const Index expected = entries.empty() ? 1 : entries.back()->index + 1;
          const Term last_term = entries.empty() ? 0 : entries.back()->term;
          if (e->index != expected || e->term < last_term) {
            throw StorageError(fmt::format("{}: entry {} (term {}) out of order at byte {}; refusing to start", path,
                                           e->index, e->term, offset));
          }
          entries.push_back(std::move(e));
        }
      } else {
        ok = false;
      }
      if (!ok) throw StorageError(fmt::format("{}: malformed record of type {} at byte {}", path, type, offset));
      ++report_.records;
      offset += 8 + length;
    }
  }
  const std::uint64_t seq = segments.empty() ? 1 : segments.back().first;
  open_segment_for_append(seq);
}

void DiskStorage::open_segment_for_append(std::uint64_t seq) {
  if (segment_fd_ >= 0) ::close(segment_fd_);
  const std::string path = (fs::path(options_.dir) / segment_name(seq)).string();
  const bool existed = fs::exists(path);
  segment_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (segment_fd_ < 0) throw StorageError(fmt::format("cannot open {}: {}", path, errno_text()));
  struct stat st {};
  ::fstat(segment_fd_, &st);
  segment_size_ = static_cast<std::size_t>(st.st_size);
  segment_seq_ = seq;
  if (!existed) sync_directory(options_.dir);  // the new file's name must survive a crash too
}

void DiskStorage::write_all(const std::string& bytes) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(segment_fd_, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw StorageError(fmt::format("write to {} failed: {}", options_.dir, errno_text()));
    }
    written += static_cast<std::size_t>(n);
  }
  segment_size_ += bytes.size();
}

void DiskStorage::persist(const Persist& change) {
  const std::string bytes = encode_records(change);
  if (bytes.empty()) return;
  if (segment_size_ > 0 && segment_size_ + bytes.size() > options_.segment_bytes) {
    if (options_.fsync == FsyncPolicy::kAlways && ::fdatasync(segment_fd_) != 0) {
      throw StorageError(fmt::format("fdatasync in {} failed: {}", options_.dir, errno_text()));
    }
    open_segment_for_append(segment_seq_ + 1);
  }
  write_all(bytes);
  if (options_.fsync == FsyncPolicy::kAlways) {
    if (::fdatasync(segment_fd_) != 0) {
      throw StorageError(fmt::format("fdatasync in {} failed: {}", options_.dir, errno_text()));
    }
    ++syncs_;
  }
}

}  // namespace coraft::raft
