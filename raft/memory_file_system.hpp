#pragma once
// A file system in memory, modelled as a disk behind a page cache: reads see every change at once, but a change —
// bytes written, a file created, renamed or removed — is durable only once the file (or, for names, its directory)
// was synced. power_cut() is a power cut: what was synced stays, and of what was not, a prefix (in the order it was made)
// may have reached the disk anyway, its last write possibly torn. The simulator runs the real write-ahead log over
// this, so a bug that acknowledges unsynced state loses data in simulation exactly as it would on a machine.
//
// stop_after(n) makes the machine die in the middle of an operation: the n+1-th change from then on throws
// MachineStopped, and so does everything after it, until the machine comes back: resume() after a process crash
// (the page cache survives: nothing is lost), power_cut() after a power cut.
//
// Without durability tracking (course mode keeps its log in memory and never restarts) sync() keeps nothing apart
// and power_cut() is not available.

#include "raft/file_system.hpp"

#include <functional>
#include <map>
#include <optional>
#include <set>

namespace coraft::raft {

struct MachineStopped : std::exception {
  const char* what() const noexcept override { return "the simulated machine stopped in the middle of an operation"; }
};

class MemoryFileSystem final : public FileSystem {
 public:
  explicit MemoryFileSystem(bool track_durability = true) : track_durability_(track_durability) {}
  MemoryFileSystem(const MemoryFileSystem&) = delete;
  MemoryFileSystem& operator=(const MemoryFileSystem&) = delete;

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

  // How much of what was not synced survives: given n, a number in [0, n].
  using Chooser = std::function<std::uint64_t(std::uint64_t n)>;
  struct CrashReport {
    std::uint64_t writes_lost = 0;  // unsynced writes that did not survive whole (dropped or torn)
    std::uint64_t bytes_lost = 0;
    std::uint64_t names_lost = 0;   // unsynced creations, renames and removals undone
  };
  // A power cut. Afterwards reads see only what survived, and the machine runs again.
  CrashReport power_cut(const Chooser& choose);
  void stop_after(std::uint64_t changes);
  void resume();
  bool stopped() const { return stopped_; }

  // Changes made and not yet synced (for tests).
  std::uint64_t unsynced_changes() const;

 private:
  struct Change {  // to a file's contents
    std::uint64_t offset = 0;
    std::string bytes;                    // written at offset
    std::optional<std::uint64_t> resize;  // or: the file's new size
    // To undo it: the size before, and the bytes it overwrote or cut off (they started at undo_offset).
    std::uint64_t size_before = 0;
    std::uint64_t undo_offset = 0;
    std::string undo_bytes;
  };
  struct Inode {
    std::string data;              // what reads see
    std::vector<Change> unsynced;  // undone, newest first, leave what a crash keeps at least
  };
  struct NameChange {
    enum Kind { kCreate, kRename, kRemove } kind;
    std::string path, to;
    std::shared_ptr<Inode> inode;  // kCreate
  };
  class File;
  friend class File;

  void charge();  // counts a change against stop_after; throws MachineStopped once the machine has stopped
  void record(Inode& inode, Change change);
  static void redo(std::string& data, const Change& change, std::uint64_t max_bytes = UINT64_MAX);
  static void undo(std::string& data, const Change& change);
  static void apply(std::map<std::string, std::shared_ptr<Inode>>& names, const NameChange& change);
  std::shared_ptr<Inode> find(const std::string& path) const;

  bool track_durability_;
  std::map<std::string, std::shared_ptr<Inode>> names_;          // as reads see them
  std::map<std::string, std::shared_ptr<Inode>> durable_names_;  // as of the last sync of their directory
  std::vector<NameChange> unsynced_names_;
  std::set<std::string> dirs_;
  std::set<std::string> locked_;
  std::optional<std::uint64_t> changes_left_;
  bool stopped_ = false;
};

}  // namespace coraft::raft
