#include "actors/watch_table.hpp"

#include <algorithm>

namespace coraft::actors {

void WatchTable::add(std::uint64_t id, const kv::KeyRange& range) {
  by_id_.emplace(id, range);
  if (range.prefix) {
    prefixes_.emplace(range.key, id);
    ++prefix_lengths_[range.key.size()];
  } else {
    keys_.emplace(range.key, id);
  }
}

bool WatchTable::remove(std::uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  const kv::KeyRange& range = it->second;
  auto& index = range.prefix ? prefixes_ : keys_;
  auto [first, last] = index.equal_range(range.key);
  for (auto entry = first; entry != last; ++entry) {
    if (entry->second == id) {
      index.erase(entry);
      break;
    }
  }
  if (range.prefix && --prefix_lengths_[range.key.size()] == 0) prefix_lengths_.erase(range.key.size());
  by_id_.erase(it);
  return true;
}

const kv::KeyRange* WatchTable::range_of(std::uint64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

std::vector<std::uint64_t> WatchTable::overlapping(const kv::KeyRange& changed) const {
  std::vector<std::uint64_t> out;
  auto take = [&](auto first, auto last) {
    for (; first != last; ++first) out.push_back(first->second);
  };
  // Queries inside the change: the changed key itself, or (a prefix) every key and prefix under it.
  auto [keys_first, keys_last] = kv::range_span(keys_, changed);
  take(keys_first, keys_last);
  if (changed.prefix) {
    auto [first, last] = kv::range_span(prefixes_, changed);
    take(first, last);
  }
  // Prefix queries around the change: those whose prefix starts the changed key (or prefix). A prefix as long as a
  // changed prefix is the same prefix, found above.
  for (const auto& [length, count] : prefix_lengths_) {
    if (length > changed.key.size() || (changed.prefix && length == changed.key.size())) break;
    auto [first, last] = prefixes_.equal_range(changed.key.substr(0, length));
    take(first, last);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::uint64_t> WatchTable::all() const {
  std::vector<std::uint64_t> out;
  out.reserve(by_id_.size());
  for (const auto& [id, range] : by_id_) out.push_back(id);
  return out;
}

}  // namespace coraft::actors
