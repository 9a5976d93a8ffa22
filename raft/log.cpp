#include "raft/log.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

namespace coraft::raft {

Log::Log(std::vector<EntryPtr> entries, Index base_index, Term base_term)
    : base_index_(base_index), base_term_(base_term) {
  for (auto& entry : entries) append(std::move(entry));
}

std::optional<Term> Log::term_at(Index index) const {
  if (index == base_index_) return base_term_;
  if (index < base_index_ || index > last_index()) return std::nullopt;
  return entries_[index - base_index_ - 1]->term;
}

const EntryPtr& Log::at(Index index) const {
  if (index <= base_index_ || index > last_index()) throw std::out_of_range("log index out of range");
  return entries_[index - base_index_ - 1];
}

std::vector<EntryPtr> Log::slice(Index from, Index to, std::size_t max_entries, std::size_t max_bytes) const {
  std::vector<EntryPtr> out;
  to = std::min(to, last_index());
  if (from <= base_index_ || from > to) return out;
  std::size_t bytes = 0;
  for (Index i = from; i <= to && out.size() < max_entries; ++i) {
    const EntryPtr& entry = at(i);
    bytes += entry->wire_bytes();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(entry);
  }
  return out;
}

void Log::append(EntryPtr entry) {
  if (entry->index != last_index() + 1) throw std::logic_error("log append out of order");
  if (entry->term < last_term()) throw std::logic_error("log append with a decreasing term");
  entries_.push_back(std::move(entry));
}

void Log::truncate_from(Index index) {
  if (index <= base_index_) throw std::logic_error("truncating into the compacted prefix");
  if (index > last_index()) return;
  entries_.resize(index - base_index_ - 1);
}

std::vector<EntryPtr> Log::compact(Index index, Term term) {
  std::vector<EntryPtr> dropped;
  if (index <= base_index_) return dropped;
  const auto end = term_at(index) == term ? entries_.begin() + static_cast<std::ptrdiff_t>(index - base_index_)
                                          : entries_.end();
  dropped.reserve(static_cast<std::size_t>(end - entries_.begin()));
  std::move(entries_.begin(), end, std::back_inserter(dropped));
  entries_.erase(entries_.begin(), end);
  base_index_ = index;
  base_term_ = term;
  return dropped;
}

bool Log::is_up_to_date(Index last_index_other, Term last_term_other) const {
  const Term mine = last_term();
  return last_term_other > mine || (last_term_other == mine && last_index_other >= last_index());
}

std::optional<Index> Log::last_index_of_term(Term term, Index upto) const {
  upto = std::min(upto, last_index());
  if (upto < base_index_) return std::nullopt;
  // Terms never decrease along the log: binary-search the last index <= upto whose term is <= `term`.
  Index lo = base_index_, hi = upto;  // term_at(lo) is known (base)
  if (*term_at(lo) > term) return std::nullopt;
  while (lo < hi) {
    const Index mid = lo + (hi - lo + 1) / 2;
    if (*term_at(mid) <= term) lo = mid;
    else hi = mid - 1;
  }
  if (*term_at(lo) == term) return lo;
  return std::nullopt;
}

Index Log::first_index_of_term_at(Index index, Index lower) const {
  const Term term = *term_at(index);
  Index lo = std::max(lower, first_index()), hi = index;
  // First index in [lo, hi] whose term equals `term` (all later ones up to `index` do too).
  while (lo < hi) {
    const Index mid = lo + (hi - lo) / 2;
    if (*term_at(mid) < term) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

}  // namespace coraft::raft
