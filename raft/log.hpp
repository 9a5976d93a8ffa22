#pragma once
// The replicated log in memory: entries (first_index .. last_index], preceded by a base (index, term) that stands for
// everything compacted away (0/0 for a log that was never compacted).

#include "raft/types.hpp"

#include <deque>
#include <vector>

namespace coraft::raft {

class Log {
 public:
  Log() = default;
  explicit Log(std::vector<EntryPtr> entries, Index base_index = 0, Term base_term = 0);

  Index base_index() const { return base_index_; }
  Term base_term() const { return base_term_; }
  Index first_index() const { return base_index_ + 1; }
  Index last_index() const { return base_index_ + entries_.size(); }
  Term last_term() const { return term_at(last_index()).value_or(0); }

  // The term of the entry at `index`: the base term at the base index, nothing when compacted away or beyond the end.
  std::optional<Term> term_at(Index index) const;
  const EntryPtr& at(Index index) const;  // first_index() <= index <= last_index()

  // Entries [from, to], stopping early once `max_bytes` would be exceeded (at least one entry is returned).
  std::vector<EntryPtr> slice(Index from, Index to, std::size_t max_entries, std::size_t max_bytes) const;

  void append(EntryPtr entry);  // entry->index must be last_index() + 1
  // Drops every entry at or after `index` (Raft Figure 2, AppendEntries rule 3).
  void truncate_from(Index index);
  // Compaction: everything up to `index` is now in a snapshot whose last entry had `term`. Entries after `index`
  // stay if the log holds `index` with that term (Raft Figure 13, rule 6); otherwise the whole log goes (rule 7).
  // Returns the entries it dropped, so the caller can choose where to pay for freeing them.
  std::vector<EntryPtr> compact(Index index, Term term);

  // Raft §5.4.1: is a log ending at (last_index, last_term) at least as up-to-date as this one?
  bool is_up_to_date(Index last_index, Term last_term) const;

  // Fast backtracking: the last index <= `upto` holding `term`, if this log holds that term at all.
  std::optional<Index> last_index_of_term(Term term, Index upto) const;
  // The first index >= `lower` whose entry has the same term as the entry at `index` (terms never decrease).
  Index first_index_of_term_at(Index index, Index lower) const;

 private:
  Index base_index_ = 0;
  Term base_term_ = 0;
  std::deque<EntryPtr> entries_;
};

}  // namespace coraft::raft
