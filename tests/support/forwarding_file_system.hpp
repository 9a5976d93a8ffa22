#pragma once
// Test wrappers around a file system: every call goes through to `inner`; a test derives and overrides the calls it
// watches or alters. Files opened through it are handed to wrap(), which by default returns them unchanged.

#include "raft/file_system.hpp"

#include <memory>
#include <string>
#include <vector>

namespace coraft::testing {

class ForwardingFile : public raft::WritableFile {
 public:
  explicit ForwardingFile(std::unique_ptr<raft::WritableFile> inner) : inner_(std::move(inner)) {}
  std::uint64_t size() const override { return inner_->size(); }
  void write_at(std::uint64_t offset, std::string_view bytes) override { inner_->write_at(offset, bytes); }
  void preallocate(std::uint64_t offset, std::uint64_t length) override { inner_->preallocate(offset, length); }
  void sync() override { inner_->sync(); }

 private:
  std::unique_ptr<raft::WritableFile> inner_;
};

class ForwardingFileSystem : public raft::FileSystem {
 public:
  explicit ForwardingFileSystem(raft::FileSystem& inner) : inner_(inner) {}
  void create_directories(const std::string& dir) override { inner_.create_directories(dir); }
  std::vector<std::string> list(const std::string& dir) override { return inner_.list(dir); }
  bool exists(const std::string& path) override { return inner_.exists(path); }
  std::string read(const std::string& path) override { return inner_.read(path); }
  std::unique_ptr<raft::WritableFile> open(const std::string& path, bool truncate) override {
    return wrap(path, inner_.open(path, truncate));
  }
  void rename(const std::string& from, const std::string& to) override { inner_.rename(from, to); }
  void remove(const std::string& path) override { inner_.remove(path); }
  void truncate(const std::string& path, std::uint64_t size) override { inner_.truncate(path, size); }
  void sync_dir(const std::string& dir) override { inner_.sync_dir(dir); }
  std::shared_ptr<void> lock(const std::string& dir) override { return inner_.lock(dir); }

 protected:
  virtual std::unique_ptr<raft::WritableFile> wrap(const std::string& /*path*/, std::unique_ptr<raft::WritableFile> file) {
    return file;
  }

 private:
  raft::FileSystem& inner_;
};

}  // namespace coraft::testing
