#include "raft/memory_file_system.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace coraft::raft {
namespace {

std::string trimmed(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

}  // namespace

class MemoryFileSystem::File final : public WritableFile {
 public:
  File(MemoryFileSystem& fs, std::shared_ptr<Inode> inode) : fs_(fs), inode_(std::move(inode)) {}

  std::uint64_t size() const override { return inode_->data.size(); }

  void write_at(std::uint64_t offset, std::string_view bytes) override {
    fs_.charge();
    Change change;
    change.offset = offset;
    change.bytes = std::string(bytes);
    fs_.record(*inode_, std::move(change));
  }

  void preallocate(std::uint64_t offset, std::uint64_t length) override {
    if (offset + length <= inode_->data.size()) return;
    fs_.charge();
    Change change;
    change.resize = offset + length;
    fs_.record(*inode_, std::move(change));
  }

  void sync() override {
    fs_.charge();
    inode_->unsynced.clear();  // an undo record is all a sync has to forget
  }

 private:
  MemoryFileSystem& fs_;
  std::shared_ptr<Inode> inode_;
};

// ---------------------------------------------------------------------------------------------------------------
// Changes to contents: applied at once, remembered with what they overwrote until the next sync.

void MemoryFileSystem::redo(std::string& data, const Change& change, std::uint64_t max_bytes) {
  if (change.resize) {
    data.resize(*change.resize);
    return;
  }
  const std::uint64_t n = std::min<std::uint64_t>(change.bytes.size(), max_bytes);
  if (data.size() < change.offset + n) data.resize(change.offset + n);
  data.replace(change.offset, n, change.bytes, 0, n);
}

void MemoryFileSystem::undo(std::string& data, const Change& change) {
  data.resize(std::max<std::uint64_t>(data.size(), change.size_before));
  data.replace(change.undo_offset, change.undo_bytes.size(), change.undo_bytes);
  data.resize(change.size_before);
}

void MemoryFileSystem::record(Inode& inode, Change change) {
  if (track_durability_) {
    const std::uint64_t size = inode.data.size();
    const std::uint64_t from = change.resize ? std::min(size, *change.resize) : change.offset;
    const std::uint64_t to = change.resize ? size : change.offset + change.bytes.size();
    change.size_before = size;
    change.undo_offset = from;
    if (from < size) change.undo_bytes = inode.data.substr(from, std::min(to, size) - from);
  }
  redo(inode.data, change);
  if (track_durability_) inode.unsynced.push_back(std::move(change));
}

void MemoryFileSystem::charge() {
  if (stopped_) throw MachineStopped{};
  if (changes_left_) {
    if (*changes_left_ == 0) {
      stopped_ = true;
      throw MachineStopped{};
    }
    --*changes_left_;
  }
}

void MemoryFileSystem::stop_after(std::uint64_t changes) { changes_left_ = changes; }

void MemoryFileSystem::resume() {
  stopped_ = false;
  changes_left_.reset();
  locked_.clear();  // the process that held them is gone
}

std::uint64_t MemoryFileSystem::unsynced_changes() const {
  std::uint64_t n = unsynced_names_.size();
  for (const auto& [path, inode] : names_) n += inode->unsynced.size();
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Names

std::shared_ptr<MemoryFileSystem::Inode> MemoryFileSystem::find(const std::string& path) const {
  auto it = names_.find(path);
  return it == names_.end() ? nullptr : it->second;
}

void MemoryFileSystem::apply(std::map<std::string, std::shared_ptr<Inode>>& names, const NameChange& change) {
  switch (change.kind) {
    case NameChange::kCreate:
      names[change.path] = change.inode;
      break;
    case NameChange::kRename: {
      auto it = names.find(change.path);
      if (it == names.end()) break;
      auto inode = it->second;
      names.erase(it);
      names[change.to] = std::move(inode);
      break;
    }
    case NameChange::kRemove:
      names.erase(change.path);
      break;
  }
}

void MemoryFileSystem::create_directories(const std::string& dir) {
  std::string path = trimmed(dir);
  while (!path.empty() && path != "/" && path != ".") {
    dirs_.insert(path);
    path = parent_of(path);
  }
}

std::vector<std::string> MemoryFileSystem::list(const std::string& dir) {
  const std::string d = trimmed(dir);
  if (!dirs_.contains(d)) throw StorageError(fmt::format("cannot list {}: no such directory", dir));
  std::vector<std::string> out;
  for (const auto& [path, inode] : names_)
    if (parent_of(path) == d) out.push_back(path.substr(d.size() + 1));
  return out;
}

bool MemoryFileSystem::exists(const std::string& path) {
  return names_.contains(path) || dirs_.contains(trimmed(path));
}

std::string MemoryFileSystem::read(const std::string& path) {
  auto inode = find(path);
  if (!inode) throw StorageError(fmt::format("cannot read {}: no such file", path));
  return inode->data;
}

std::unique_ptr<WritableFile> MemoryFileSystem::open(const std::string& path, bool truncate) {
  auto inode = find(path);
  if (!inode) {
    if (!dirs_.contains(parent_of(path))) throw StorageError(fmt::format("cannot open {}: no such directory", path));
    charge();
    inode = std::make_shared<Inode>();
    const NameChange change{NameChange::kCreate, path, {}, inode};
    apply(names_, change);
    if (track_durability_) unsynced_names_.push_back(change);
  } else if (truncate && !inode->data.empty()) {
    charge();
    Change change;
    change.resize = 0;
    record(*inode, std::move(change));
  }
  return std::make_unique<File>(*this, inode);
}

void MemoryFileSystem::rename(const std::string& from, const std::string& to) {
  if (!find(from)) throw StorageError(fmt::format("cannot rename {}: no such file", from));
  charge();
  const NameChange change{NameChange::kRename, from, to, nullptr};
  apply(names_, change);
  if (track_durability_) unsynced_names_.push_back(change);
}

void MemoryFileSystem::remove(const std::string& path) {
  if (!find(path)) return;
  charge();
  const NameChange change{NameChange::kRemove, path, {}, nullptr};
  apply(names_, change);
  if (track_durability_) unsynced_names_.push_back(change);
}

void MemoryFileSystem::truncate(const std::string& path, std::uint64_t size) {
  auto inode = find(path);
  if (!inode) throw StorageError(fmt::format("cannot cut {}: no such file", path));
  charge();
  Change change;
  change.resize = size;
  record(*inode, std::move(change));
}

void MemoryFileSystem::sync_dir(const std::string& dir) {
  charge();
  const std::string d = trimmed(dir);
  // Name changes in this directory become durable, in the order they were made; others stay pending.
  std::vector<NameChange> rest;
  for (auto& change : unsynced_names_) {
    if (parent_of(change.path) == d) apply(durable_names_, change);
    else rest.push_back(std::move(change));
  }
  unsynced_names_ = std::move(rest);
}

std::shared_ptr<void> MemoryFileSystem::lock(const std::string& dir) {
  const std::string d = trimmed(dir);
  if (!locked_.insert(d).second) {
    throw StorageError(fmt::format("data directory {} is in use by another process", dir));
  }
  return std::shared_ptr<void>(nullptr, [this, d](void*) { locked_.erase(d); });
}

// ---------------------------------------------------------------------------------------------------------------
// A power cut

MemoryFileSystem::CrashReport MemoryFileSystem::power_cut(const Chooser& choose) {
  if (!track_durability_) throw std::logic_error("MemoryFileSystem::power_cut needs durability tracking");
  CrashReport report;
  // Contents first, while every inode is still reachable: back to the durable bytes, then a prefix of the rest.
  std::set<Inode*> seen;
  auto restore = [&](Inode& inode) {
    if (!seen.insert(&inode).second || inode.unsynced.empty()) return;
    for (auto it = inode.unsynced.rbegin(); it != inode.unsynced.rend(); ++it) undo(inode.data, *it);
    const std::uint64_t kept = choose(inode.unsynced.size());
    for (std::uint64_t i = 0; i < inode.unsynced.size(); ++i) {
      const Change& change = inode.unsynced[i];
      if (i < kept) {
        redo(inode.data, change);
        continue;
      }
      if (change.resize) continue;
      // The first write that did not make it whole may have been torn part way through.
      const std::uint64_t torn = i == kept && !change.bytes.empty() ? choose(change.bytes.size() - 1) : 0;
      if (torn > 0) redo(inode.data, change, torn);
      ++report.writes_lost;
      report.bytes_lost += change.bytes.size() - torn;
    }
    inode.unsynced.clear();
  };
  for (auto& [path, inode] : names_) restore(*inode);
  for (auto& [path, inode] : durable_names_) restore(*inode);
  for (const auto& change : unsynced_names_)
    if (change.inode) restore(*change.inode);

  const std::uint64_t kept_names = choose(unsynced_names_.size());
  for (std::uint64_t i = 0; i < unsynced_names_.size(); ++i) {
    if (i < kept_names) apply(durable_names_, unsynced_names_[i]);
    else ++report.names_lost;
  }
  unsynced_names_.clear();
  names_ = durable_names_;
  resume();
  return report;
}

}  // namespace coraft::raft
