#pragma once
// Persistent state behind an interface: the term/vote record and the log. The raft node calls persist() for every
// Persist effect, and persist() returns only once the change is durable (Raft Figure 2: "updated on stable storage
// before responding to RPCs").

#include "raft/core.hpp"

namespace coraft::raft {

// Folds `next` into `into` so that persisting the result equals persisting both in order: one write and one sync
// for a burst of changes (group commit).
void merge_persist(Persist& into, const Persist& next);

class Storage {
 public:
  virtual ~Storage() = default;
  // Reads back everything that was durable (after a restart: what survived the crash).
  virtual RecoveredState recover() = 0;
  virtual void persist(const Persist& change) = 0;
  // True when persist() waits on the disk (fsync): the raft node then runs it on a storage thread, so the replica
  // keeps sending and receiving meanwhile. MemoryStorage never blocks (and simulations have no threads).
  virtual bool blocks() const { return false; }
};

// Keeps everything in memory. Changes are written, then synced; crash() throws away whatever was written but not
// yet synced, exactly what a crash loses on a real disk. It outlives the replica that uses it, so a simulated
// replica can be restarted from it.
class MemoryStorage final : public Storage {
 public:
  RecoveredState recover() override;
  void persist(const Persist& change) override {
    write(change);
    sync();
  }

  void write(const Persist& change);
  void sync();
  void crash();

  const HardState& durable_hard_state() const { return durable_.hard_state; }
  const std::vector<EntryPtr>& durable_entries() const { return durable_.entries; }
  std::uint64_t syncs() const { return syncs_; }

 private:
  static void apply(RecoveredState& state, const Persist& change);

  RecoveredState durable_;
  std::vector<Persist> unsynced_;
  std::uint64_t syncs_ = 0;
};

}  // namespace coraft::raft
