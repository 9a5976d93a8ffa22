#pragma once
// What Raft keeps on stable storage, as the core hands it over (Persist) and as storage hands it back after a restart
// (RecoveredState), and the one rule for combining changes to the log: later truncations drop earlier entries.

#include "raft/types.hpp"

#include <optional>
#include <vector>

namespace coraft::raft {

// One change to persistent state, applied in this order: save the snapshot (one installed from the leader), set the
// hard state, drop entries from truncate_from on, append the entries.
struct Persist {
  std::optional<Snapshot> snapshot;    // from the leader; the log up to its index goes (Figure 13)
  std::optional<HardState> hard_state;
  std::optional<Index> truncate_from;  // drop durable entries at or after this index
  std::vector<EntryPtr> entries;       // then append these
};

// What storage hands back after a restart.
struct RecoveredState {
  HardState hard_state;
  std::optional<Snapshot> snapshot;  // the newest snapshot, if any
  std::vector<EntryPtr> entries;     // the log after the snapshot
};

// Drops every entry at or after `from` from a run of entries in index order.
void drop_from(std::vector<EntryPtr>& entries, Index from);

// Folds `next` into `into` so that persisting the result equals persisting both in order: one write and one sync
// for a burst of changes (group commit).
void merge_persist(Persist& into, Persist next);

}  // namespace coraft::raft
