#include "raft/storage.hpp"

#include <algorithm>

namespace coraft::raft {

void merge_persist(Persist& into, const Persist& next) {
  if (next.snapshot) into.snapshot = next.snapshot;
  if (next.hard_state) into.hard_state = next.hard_state;
  if (next.truncate_from) {
    const Index from = *next.truncate_from;
    auto& entries = into.entries;
    entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const EntryPtr& e) { return e->index >= from; }),
                  entries.end());
    into.truncate_from = std::min(into.truncate_from.value_or(from), from);
  }
  into.entries.insert(into.entries.end(), next.entries.begin(), next.entries.end());
}

RecoveredState MemoryStorage::recover() {
  return durable_;
}

void MemoryStorage::write(const Persist& change) {
  unsynced_.push_back(change);
}

void MemoryStorage::sync() {
  for (const Persist& change : unsynced_) apply(durable_, change);
  unsynced_.clear();
  ++syncs_;
}

void MemoryStorage::crash() {
  unsynced_.clear();
}

void MemoryStorage::apply(RecoveredState& state, const Persist& change) {
  if (change.snapshot) state.snapshot = change.snapshot;
  if (change.hard_state) state.hard_state = *change.hard_state;
  if (change.truncate_from) {
    auto& entries = state.entries;
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const EntryPtr& e) { return e->index >= *change.truncate_from; }),
                  entries.end());
  }
  state.entries.insert(state.entries.end(), change.entries.begin(), change.entries.end());
  if (state.snapshot) {
    const Index base = state.snapshot->index;
    auto& entries = state.entries;
    entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const EntryPtr& e) { return e->index <= base; }),
                  entries.end());
  }
}

}  // namespace coraft::raft
