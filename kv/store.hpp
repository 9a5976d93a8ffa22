#pragma once
// The replicated state machine: an ordered key-value map plus the client-session table. Both are replicated state —
// every replica applies the same commands in the same order and so holds the same sessions, which is why a retried
// request is answered with its original result even after the leader changed.
//
// Keys are kept in order, so a prefix is one contiguous range (read without a pass over the whole store); a hash
// index over the ordered tree (kv/key_index.hpp) takes single-key reads and writes past the tree walk. Each key
// carries the log index that created it and the one that last modified it, and flags (Consul's CreateIndex,
// ModifyIndex and Flags). A deleted key leaves a tombstone holding the index of its deletion, so that the index at
// which a range last changed is known even when the change was a delete (what a blocking query waits on). Tombstones
// are bounded: beyond max_tombstones the oldest are dropped, and `tombstone_floor` remembers the newest index
// dropped, which every range's index is then at least (a range never seems to go back in time; it may seem to have
// changed when it had not, which blocking queries allow).

#include "kv/command.hpp"
#include "kv/key_index.hpp"
#include "kv/stored_key.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace coraft::kv {

// One key, or (prefix) every key that starts with `key`; the empty prefix is every key.
struct KeyRange {
  std::string key;
  bool prefix = false;
  bool contains(std::string_view k) const { return prefix ? k.substr(0, key.size()) == key : k == key; }
  bool operator==(const KeyRange&) const = default;
};

// The smallest key greater than every key that starts with `prefix`; nullopt when there is none (the prefix is empty
// or all 0xFF bytes): the range then runs to the end.
std::optional<std::string> prefix_successor(std::string prefix);

// [first, last) of the entries of an ordered map (or multimap) keyed by string whose keys are in `range`.
template <class Map>
auto range_span(const Map& map, const KeyRange& range) {
  auto first = map.lower_bound(range.key);
  if (!range.prefix) {
    auto last = first;
    while (last != map.end() && std::string_view(last->first) == range.key) ++last;
    return std::pair{first, last};
  }
  const auto successor = prefix_successor(range.key);
  return std::pair{first, successor ? map.lower_bound(*successor) : map.end()};
}

// A key as reads return it.
struct KeyValue {
  std::string key;
  std::string value;
  std::uint64_t create_index = 0;
  std::uint64_t modify_index = 0;
  std::uint64_t flags = 0;
  bool operator==(const KeyValue&) const = default;
};

struct RangeLimits {
  std::size_t max_entries = 100'000;
  std::size_t max_bytes = 32u << 20;  // keys and values together
};

struct RangeRead {
  std::vector<KeyValue> entries;  // in key order; values left empty when only keys were asked for
  // The index at which the range last changed (Consul's X-Consul-Index): its newest modify index or deletion, at
  // least the tombstone floor; for a range that never held a key, the index of the store's newest change. At least 1.
  std::uint64_t index = 1;
  bool too_large = false;  // beyond the limits: entries left empty
};

class Store {
 public:
  // Sessions beyond max_sessions are forgotten, least recently used first; tombstones beyond max_tombstones, oldest
  // first. Deterministic: "recently" and "oldest" are measured in applied log indexes, identical on every replica.
  explicit Store(std::size_t max_sessions = 1u << 20, std::size_t max_tombstones = 1u << 16)
      : max_sessions_(max_sessions), max_tombstones_(max_tombstones) {}
  // A copy indexes its own tree's elements; a move keeps the elements, and so the index.
  Store(const Store& other);
  Store& operator=(const Store& other);
  Store(Store&&) noexcept = default;
  Store& operator=(Store&&) noexcept = default;

  // Applies the command at log index `index` (indexes must increase). A command whose session already holds this
  // sequence number is not applied again: the original result is returned.
  Result apply(std::uint64_t index, const Command& command);

  std::optional<std::string> get(const std::string& key) const;
  std::optional<KeyValue> entry(const std::string& key) const;
  RangeRead read(const KeyRange& range, bool keys_only, const RangeLimits& limits = {}) const;
  // RangeRead::index alone; for a prefix it costs a pass over the range.
  std::uint64_t index_of(const KeyRange& range) const;

  // The stored result of a session's newest request, if its sequence number is `seq`.
  std::optional<Result> session_result(std::uint64_t session, std::uint64_t seq) const;
  // The newest sequence number applied for a session (0 if unknown).
  std::uint64_t session_seq(std::uint64_t session) const;

  // The whole state machine — keys with their indexes, tombstones, client sessions — as bytes (a snapshot's payload),
  // and back. restore() replaces this store's contents; it returns false (leaving the store empty) for bytes that
  // serialize() never writes. It also reads the format before indexes existed (every key then counts as changed at
  // the snapshot's index).
  std::string serialize() const;
  bool restore(std::string_view bytes);

  std::size_t size() const { return data_.size(); }
  std::size_t sessions() const { return sessions_.size(); }
  std::size_t tombstones() const { return tombstones_.size(); }
  std::uint64_t last_index() const { return last_index_; }
  // The index of the newest change to any key (0: none yet).
  std::uint64_t last_change_index() const { return last_change_index_; }
  std::uint64_t tombstone_floor() const { return tombstone_floor_; }
  // An order-independent digest of keys (values, indexes, flags), tombstones and sessions: equal on replicas that
  // applied the same prefix.
  std::uint64_t digest() const;

 private:
  struct Stored {
    std::string value;
    std::uint64_t create_index = 0;
    std::uint64_t modify_index = 0;
    std::uint64_t flags = 0;
  };
  struct Session {
    std::uint64_t seq = 0;
    Result result;
    std::uint64_t last_used_index = 0;
  };
  using Data = std::map<StoredKey, Stored, KeyLess>;
  using Element = Data::value_type;

  Result execute(std::uint64_t index, const Command& command);
  // `element`: the key's element, found by the caller in the index (nullptr: a new key).
  void put(std::uint64_t index, Element* element, const std::string& key, std::uint64_t hash, const std::string& value,
           std::uint64_t flags);
  void erase(std::uint64_t index, Data::const_iterator it);
  void rebuild_index();
  void reap_tombstones();
  bool restore_failed();
  bool restore_v1(std::string_view bytes);
  void touch_session(std::uint64_t id, std::uint64_t seq, const Result& result, std::uint64_t index);

  Data data_;
  KeyIndex<Element> index_;  // every element of data_, by key
  std::map<std::string, std::uint64_t, std::less<>> tombstones_;  // deleted key -> index of its deletion
  std::set<std::pair<std::uint64_t, std::string>> tombstones_by_age_;  // (index, key): the oldest go first
  std::uint64_t tombstone_floor_ = 0;    // every dropped tombstone's index is at most this
  std::uint64_t last_change_index_ = 0;  // = max(every modify index, every tombstone, the floor)
  std::unordered_map<std::uint64_t, Session> sessions_;
  std::map<std::uint64_t, std::uint64_t> sessions_by_use_;  // last_used_index -> session id
  std::size_t max_sessions_;
  std::size_t max_tombstones_;
  std::uint64_t last_index_ = 0;
};

}  // namespace coraft::kv
