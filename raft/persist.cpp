#include "raft/persist.hpp"

#include <algorithm>

namespace coraft::raft {

void drop_from(std::vector<EntryPtr>& entries, Index from) {
  // Entries are in index order: everything from the first one at or after `from` goes.
  auto first = std::lower_bound(entries.begin(), entries.end(), from,
                                [](const EntryPtr& e, Index index) { return e->index < index; });
  entries.erase(first, entries.end());
}

void merge_persist(Persist& into, Persist next) {
  if (next.snapshot) into.snapshot = std::move(next.snapshot);
  if (next.hard_state) into.hard_state = next.hard_state;
  if (next.truncate_from) {
    drop_from(into.entries, *next.truncate_from);
    into.truncate_from = std::min(into.truncate_from.value_or(*next.truncate_from), *next.truncate_from);
  }
  into.entries.insert(into.entries.end(), std::make_move_iterator(next.entries.begin()),
                      std::make_move_iterator(next.entries.end()));
}

}  // namespace coraft::raft
