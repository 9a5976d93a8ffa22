#pragma once
// Which blocking queries wait on which key ranges: the applier's index from a changed key (or a deleted prefix) to the
// queries it may concern, so that a change costs lookups in proportion to the key's length, not to the number of
// queries waiting. Pure C++.

#include "kv/store.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace coraft::actors {

class WatchTable {
 public:
  // `id` must not be in the table already.
  void add(std::uint64_t id, const kv::KeyRange& range);
  // Returns whether `id` was there.
  bool remove(std::uint64_t id);
  bool contains(std::uint64_t id) const { return by_id_.count(id) > 0; }
  const kv::KeyRange* range_of(std::uint64_t id) const;

  // The queries whose range overlaps `changed` (a key, or every key under a prefix), each once, in increasing id.
  std::vector<std::uint64_t> overlapping(const kv::KeyRange& changed) const;
  // Every query, in increasing id (a snapshot replaced the store: any of them may have changed).
  std::vector<std::uint64_t> all() const;

  bool empty() const { return by_id_.empty(); }
  std::size_t size() const { return by_id_.size(); }

 private:
  std::map<std::uint64_t, kv::KeyRange> by_id_;
  std::multimap<std::string, std::uint64_t> keys_;      // one-key queries, by key
  std::multimap<std::string, std::uint64_t> prefixes_;  // prefix queries, by prefix
  std::map<std::size_t, std::size_t> prefix_lengths_;   // length -> how many prefix queries have a prefix that long
};

}  // namespace coraft::actors
