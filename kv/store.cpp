#include "kv/store.hpp"

#include "raft/bytes.hpp"

#include <algorithm>
#include <functional>

namespace coraft::kv {

std::optional<std::string> prefix_successor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

Result Store::apply(std::uint64_t index, const Command& command) {
  last_index_ = index;
  const SessionRef& ref = command.session;
  if (ref.id != 0) {
    auto it = sessions_.find(ref.id);
    if (it != sessions_.end()) {
      if (ref.seq == it->second.seq) return it->second.result;  // a retry: answer as the first time
      if (ref.seq < it->second.seq) return Result{Status::kStaleSession, std::nullopt};
    }
  }
  Result result = execute(index, command);
  reap_tombstones();
  if (ref.id != 0) touch_session(ref.id, ref.seq, result, index);
  return result;
}

Store::Store(const Store& other)
    : data_(other.data_),
      tombstones_(other.tombstones_),
      tombstones_by_age_(other.tombstones_by_age_),
      tombstone_floor_(other.tombstone_floor_),
      last_change_index_(other.last_change_index_),
      sessions_(other.sessions_),
      sessions_by_use_(other.sessions_by_use_),
      max_sessions_(other.max_sessions_),
      max_tombstones_(other.max_tombstones_),
      last_index_(other.last_index_) {
  rebuild_index();
}

Store& Store::operator=(const Store& other) {
  if (this != &other) *this = Store(other);
  return *this;
}

void Store::rebuild_index() {
  index_.clear();
  for (Element& element : data_) index_.insert(&element, KeyIndex<Element>::hash_of(element.first));
}

Result Store::execute(std::uint64_t index, const Command& command) {
  if (command.op == Op::kDeletePrefix) {
    auto [first, last] = range_span(data_, KeyRange{command.key, true});
    std::uint64_t deleted = 0;
    while (first != last) {
      auto next = std::next(first);
      erase(index, first);
      first = next;
      ++deleted;
    }
    return Result{Status::kOk, std::to_string(deleted)};
  }
  const std::uint64_t hash = KeyIndex<Element>::hash_of(command.key);
  Element* element = index_.find(command.key, hash);
  const bool exists = element != nullptr;
  // Consul's ?cas=<index>: 0 asks for an absent key, anything else for that modify index.
  const bool index_matches =
      !command.expected_index ||
      (*command.expected_index == 0 ? !exists : exists && element->second.modify_index == *command.expected_index);
  switch (command.op) {
    case Op::kPut:
      if (!index_matches) return Result{Status::kCasMismatch, std::nullopt};
      put(index, element, command.key, hash, command.value, command.flags);
      return Result{Status::kOk, std::nullopt};
    case Op::kDelete:
      if (!exists) return Result{Status::kNotFound, std::nullopt};
      if (!index_matches) return Result{Status::kCasMismatch, std::nullopt};
      erase(index, data_.find(command.key));
      return Result{Status::kOk, std::nullopt};
    case Op::kCas: {
      const bool matches = command.expected ? exists && element->second.value == *command.expected : !exists;
      if (!matches) return Result{Status::kCasMismatch, exists ? std::optional(element->second.value) : std::nullopt};
      put(index, element, command.key, hash, command.value, command.flags);
      return Result{Status::kOk, std::nullopt};
    }
    case Op::kDeletePrefix:
      break;
  }
  return Result{Status::kOk, std::nullopt};
}

void Store::put(std::uint64_t index, Element* element, const std::string& key, std::uint64_t hash,
                const std::string& value, std::uint64_t flags) {
  if (!element) {
    element = &*data_.emplace(key, Stored{}).first;
    index_.insert(element, hash);
    element->second.create_index = index;
    if (auto tombstone = tombstones_.find(key); tombstone != tombstones_.end()) {
      tombstones_by_age_.erase({tombstone->second, key});
      tombstones_.erase(tombstone);
    }
  }
  element->second.value = value;
  element->second.modify_index = index;
  element->second.flags = flags;
  last_change_index_ = index;
}

void Store::erase(std::uint64_t index, Data::const_iterator it) {
  tombstones_by_age_.emplace(index, std::string(it->first.view()));
  tombstones_.emplace(std::string(it->first.view()), index);  // absent before: a key and its tombstone never coexist
  index_.erase(&*it, KeyIndex<Element>::hash_of(it->first));
  data_.erase(it);
  last_change_index_ = index;
}

void Store::reap_tombstones() {
  while (tombstones_.size() > max_tombstones_) {
    auto oldest = tombstones_by_age_.begin();
    tombstone_floor_ = std::max(tombstone_floor_, oldest->first);
    tombstones_.erase(oldest->second);
    tombstones_by_age_.erase(oldest);
  }
}

void Store::touch_session(std::uint64_t id, std::uint64_t seq, const Result& result, std::uint64_t index) {
  auto [it, inserted] = sessions_.try_emplace(id);
  if (!inserted) sessions_by_use_.erase(it->second.last_used_index);
  it->second = Session{seq, result, index};
  sessions_by_use_[index] = id;
  while (sessions_.size() > max_sessions_) {
    auto oldest = sessions_by_use_.begin();
    sessions_.erase(oldest->second);
    sessions_by_use_.erase(oldest);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

std::optional<std::string> Store::get(const std::string& key) const {
  const Element* it = index_.find(key, KeyIndex<Element>::hash_of(key));
  if (!it) return std::nullopt;
  return it->second.value;
}

std::optional<KeyValue> Store::entry(const std::string& key) const {
  const Element* it = index_.find(key, KeyIndex<Element>::hash_of(key));
  if (!it) return std::nullopt;
  return KeyValue{std::string(it->first.view()), it->second.value, it->second.create_index, it->second.modify_index,
                  it->second.flags};
}

RangeRead Store::read(const KeyRange& range, bool keys_only, const RangeLimits& limits) const {
  RangeRead out;
  out.index = index_of(range);
  auto [first, last] = range_span(data_, range);
  std::size_t bytes = 0;
  for (auto it = first; it != last; ++it) {
    bytes += it->first.size() + (keys_only ? 0 : it->second.value.size());
    if (out.entries.size() == limits.max_entries || bytes > limits.max_bytes) {
      out.entries.clear();
      out.too_large = true;
      return out;
    }
    out.entries.push_back(KeyValue{std::string(it->first.view()), keys_only ? std::string{} : it->second.value,
                                   it->second.create_index, it->second.modify_index, it->second.flags});
  }
  return out;
}

std::uint64_t Store::index_of(const KeyRange& range) const {
  auto [first, last] = range_span(data_, range);
  auto [dead_first, dead_last] = range_span(tombstones_, range);
  if (first == last && dead_first == dead_last) return std::max<std::uint64_t>(last_change_index_, 1);
  std::uint64_t index = tombstone_floor_;
  for (auto it = first; it != last; ++it) index = std::max(index, it->second.modify_index);
  for (auto it = dead_first; it != dead_last; ++it) index = std::max(index, it->second);
  return std::max<std::uint64_t>(index, 1);
}

std::optional<Result> Store::session_result(std::uint64_t session, std::uint64_t seq) const {
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.seq != seq) return std::nullopt;
  return it->second.result;
}

std::uint64_t Store::session_seq(std::uint64_t session) const {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? 0 : it->second.seq;
}

// ---------------------------------------------------------------------------------------------------------------
// Snapshots

namespace {

// Format 1: keys and values only (in hash order), then sessions. Format 2: the last change index and the tombstone
// floor, keys in order with their create and modify indexes and flags, tombstones in key order, then sessions.
constexpr std::uint64_t kFormatV1 = 1;
constexpr std::uint64_t kFormat = 2;

}  // namespace

std::string Store::serialize() const {
  std::string out;
  std::size_t bytes = 64;
  for (const auto& [key, stored] : data_) bytes += key.size() + stored.value.size() + 40;
  for (const auto& [key, index] : tombstones_) bytes += key.size() + 16;
  out.reserve(bytes + sessions_.size() * 48);
  raft::ByteWriter w(out);
  w.u64(kFormat);
  w.u64(last_index_);
  w.u64(last_change_index_);
  w.u64(tombstone_floor_);
  w.u64(data_.size());
  for (const auto& [key, stored] : data_) {
    w.bytes(key);
    w.bytes(stored.value);
    w.u64(stored.create_index);
    w.u64(stored.modify_index);
    w.u64(stored.flags);
  }
  w.u64(tombstones_.size());
  for (const auto& [key, index] : tombstones_) {
    w.bytes(key);
    w.u64(index);
  }
  w.u64(sessions_.size());
  for (const auto& [id, session] : sessions_) {
    w.u64(id);
    w.u64(session.seq);
    w.u64(session.last_used_index);
    w.u64(static_cast<std::uint64_t>(session.result.status));
    w.u64(session.result.value.has_value());
    w.bytes(session.result.value.value_or(""));
  }
  return out;
}

namespace {

// Reads the session table (the same in both formats) into `sessions` and `by_use`.
template <class Sessions, class ByUse>
bool read_sessions(raft::ByteReader& in, std::uint64_t last_index, Sessions& sessions, ByUse& by_use) {
  std::uint64_t count = 0;
  if (!in.u64(count)) return false;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t id = 0, status = 0, has_value = 0;
    typename Sessions::mapped_type session;
    std::string value;
    if (!in.u64(id) || !in.u64(session.seq) || !in.u64(session.last_used_index) || !in.u64(status) ||
        status > static_cast<std::uint64_t>(Status::kStaleSession) || !in.u64(has_value) || has_value > 1 ||
        !in.bytes(value)) {
      return false;
    }
    session.result.status = static_cast<Status>(status);
    if (has_value) session.result.value = std::move(value);
    else if (!value.empty()) return false;
    // Each session was last used at an index of its own, at most the snapshot's: anything else would leave the
    // eviction order inconsistent with the table (a new session evicted at once, or eviction from an empty order).
    if (session.last_used_index > last_index || !by_use.emplace(session.last_used_index, id).second ||
        !sessions.emplace(id, std::move(session)).second) {
      return false;
    }
  }
  return in.done();
}

}  // namespace

bool Store::restore(std::string_view bytes) {
  restore_failed();
  raft::ByteReader in(bytes);
  std::uint64_t format = 0, last_index = 0, last_change = 0, floor = 0, keys = 0, tombstones = 0;
  if (!in.u64(format)) return false;
  if (format == kFormatV1) return restore_v1(bytes);
  if (format != kFormat || !in.u64(last_index) || !in.u64(last_change) || !in.u64(floor) || !in.u64(keys)) {
    return false;
  }
  // What serialize() always holds: indexes are at least 1 and at most the last change, which is at most the last
  // applied index and is the newest of every modify index, tombstone and the floor; keys and tombstones come in
  // strictly increasing order, a key never has a tombstone, and tombstones stay within their bound.
  if (last_change > last_index || floor > last_change) return restore_failed();
  std::uint64_t newest = floor;
  for (std::uint64_t i = 0; i < keys; ++i) {
    std::string key;
    Stored stored;
    if (!in.bytes(key) || !in.bytes(stored.value) || !in.u64(stored.create_index) || !in.u64(stored.modify_index) ||
        !in.u64(stored.flags) || stored.create_index == 0 || stored.create_index > stored.modify_index ||
        stored.modify_index > last_change || (!data_.empty() && data_.rbegin()->first.view() >= key)) {
      return restore_failed();
    }
    newest = std::max(newest, stored.modify_index);
    data_.emplace_hint(data_.end(), std::move(key), std::move(stored));
  }
  if (!in.u64(tombstones) || tombstones > max_tombstones_) return restore_failed();
  for (std::uint64_t i = 0; i < tombstones; ++i) {
    std::string key;
    std::uint64_t index = 0;
    if (!in.bytes(key) || !in.u64(index) || index == 0 || index < floor || index > last_change ||
        (!tombstones_.empty() && tombstones_.rbegin()->first >= key) || data_.count(key)) {
      return restore_failed();
    }
    newest = std::max(newest, index);
    tombstones_by_age_.emplace(index, key);
    tombstones_.emplace_hint(tombstones_.end(), std::move(key), index);
  }
  if (newest != last_change || !read_sessions(in, last_index, sessions_, sessions_by_use_)) return restore_failed();
  last_index_ = last_index;
  last_change_index_ = last_change;
  tombstone_floor_ = floor;
  rebuild_index();
  return true;
}

bool Store::restore_v1(std::string_view bytes) {
  // Keys without indexes: each counts as created and modified at the snapshot's index, and so does every deletion
  // that may have happened before it (the floor).
  raft::ByteReader in(bytes);
  std::uint64_t format = 0, last_index = 0, keys = 0;
  if (!in.u64(format) || !in.u64(last_index) || !in.u64(keys)) return restore_failed();
  if (keys > 0 && last_index == 0) return restore_failed();
  for (std::uint64_t i = 0; i < keys; ++i) {
    std::string key;
    Stored stored;
    if (!in.bytes(key) || !in.bytes(stored.value)) return restore_failed();
    stored.create_index = stored.modify_index = last_index;
    if (!data_.emplace(std::move(key), std::move(stored)).second) return restore_failed();  // a key twice
  }
  if (!read_sessions(in, last_index, sessions_, sessions_by_use_)) return restore_failed();
  last_index_ = last_index;
  last_change_index_ = tombstone_floor_ = last_index;
  rebuild_index();
  return true;
}

bool Store::restore_failed() {
  data_.clear();
  index_.clear();
  tombstones_.clear();
  tombstones_by_age_.clear();
  sessions_.clear();
  sessions_by_use_.clear();
  last_index_ = last_change_index_ = tombstone_floor_ = 0;
  return false;
}

std::uint64_t Store::digest() const {
  // XOR of per-item hashes: independent of the session table's iteration order.
  std::uint64_t out = last_change_index_ * 0xC2B2AE3D27D4EB4Full ^ tombstone_floor_ * 0x165667B19E3779F9ull;
  const std::hash<std::string_view> hash;
  for (const auto& [key, stored] : data_) {
    out ^= hash(key) * 31 + hash(stored.value) * 0x9E3779B97F4A7C15ull + stored.create_index * 0xFF51AFD7ED558CCDull +
           stored.modify_index * 0xC4CEB9FE1A85EC53ull + stored.flags * 0x2545F4914F6CDD1Dull;
  }
  for (const auto& [key, index] : tombstones_) out ^= (hash(key) + 0x632BE59BD9B4E019ull) * (index | 1);
  for (const auto& [id, session] : sessions_) out ^= (id * 0x9E3779B97F4A7C15ull) ^ (session.seq << 1);
  return out;
}

}  // namespace coraft::kv
