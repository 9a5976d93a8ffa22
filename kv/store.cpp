#include "kv/store.hpp"

#include <algorithm>
#include <functional>

namespace coraft::kv {

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
  Result result = execute(command);
  if (ref.id != 0) touch_session(ref.id, ref.seq, result, index);
  return result;
}

Result Store::execute(const Command& command) {
  switch (command.op) {
    case Op::kPut:
      data_[command.key] = command.value;
      return Result{Status::kOk, std::nullopt};
    case Op::kDelete:
      return Result{data_.erase(command.key) ? Status::kOk : Status::kNotFound, std::nullopt};
    case Op::kCas: {
      auto it = data_.find(command.key);
      const bool matches = command.expected ? (it != data_.end() && it->second == *command.expected)
                                            : it == data_.end();
      if (!matches) {
        return Result{Status::kCasMismatch, it == data_.end() ? std::nullopt : std::optional(it->second)};
      }
      data_[command.key] = command.value;
      return Result{Status::kOk, std::nullopt};
    }
  }
  return Result{Status::kOk, std::nullopt};
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

std::optional<std::string> Store::get(const std::string& key) const {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
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

namespace {

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_bytes(std::string& out, std::string_view bytes) {
  put_u64(out, bytes.size());
  out += bytes;
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u64(std::uint64_t& v) {
    if (data_.size() - pos_ < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(data_[pos_ + static_cast<std::size_t>(i)])) << (8 * i);
    pos_ += 8;
    return true;
  }
  bool bytes(std::string& out) {
    std::uint64_t n = 0;
    if (!u64(n) || n > data_.size() - pos_) return false;
    out.assign(data_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

constexpr std::uint64_t kFormat = 1;

}  // namespace

std::string Store::serialize() const {
  std::string out;
  std::size_t bytes = 64;
  for (const auto& [key, value] : data_) bytes += key.size() + value.size() + 16;
  out.reserve(bytes + sessions_.size() * 48);
  put_u64(out, kFormat);
  put_u64(out, last_index_);
  put_u64(out, data_.size());
  for (const auto& [key, value] : data_) {
    put_bytes(out, key);
    put_bytes(out, value);
  }
  put_u64(out, sessions_.size());
  for (const auto& [id, session] : sessions_) {
    put_u64(out, id);
    put_u64(out, session.seq);
    put_u64(out, session.last_used_index);
    put_u64(out, static_cast<std::uint64_t>(session.result.status));
    put_u64(out, session.result.value.has_value());
    put_bytes(out, session.result.value.value_or(""));
  }
  return out;
}

bool Store::restore(std::string_view bytes) {
  data_.clear();
  sessions_.clear();
  sessions_by_use_.clear();
  last_index_ = 0;
  Reader in(bytes);
  std::uint64_t format = 0, last_index = 0, keys = 0, sessions = 0;
  if (!in.u64(format) || format != kFormat || !in.u64(last_index) || !in.u64(keys)) return false;
  data_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(keys, bytes.size() / 16)));
  for (std::uint64_t i = 0; i < keys; ++i) {
    std::string key, value;
    if (!in.bytes(key) || !in.bytes(value)) return restore_failed();
    if (!data_.emplace(std::move(key), std::move(value)).second) return restore_failed();  // a key twice
  }
  if (!in.u64(sessions)) return restore_failed();
  for (std::uint64_t i = 0; i < sessions; ++i) {
    std::uint64_t id = 0, status = 0, has_value = 0;
    Session session;
    std::string value;
    if (!in.u64(id) || !in.u64(session.seq) || !in.u64(session.last_used_index) || !in.u64(status) ||
        status > static_cast<std::uint64_t>(Status::kStaleSession) || !in.u64(has_value) || !in.bytes(value)) {
      return restore_failed();
    }
    session.result.status = static_cast<Status>(status);
    if (has_value) session.result.value = std::move(value);
    // Each session was last used at an index of its own, at most the snapshot's: anything else would leave the
    // eviction order inconsistent with the table (a new session evicted at once, or eviction from an empty order).
    if (session.last_used_index > last_index || !sessions_by_use_.emplace(session.last_used_index, id).second ||
        !sessions_.emplace(id, std::move(session)).second) {
      return restore_failed();
    }
  }
  if (!in.done()) return restore_failed();
  last_index_ = last_index;
  return true;
}

bool Store::restore_failed() {
  data_.clear();
  sessions_.clear();
  sessions_by_use_.clear();
  last_index_ = 0;
  return false;
}

std::uint64_t Store::digest() const {
  // XOR of per-item hashes: independent of the unordered maps' iteration order.
  std::uint64_t out = 0;
  const std::hash<std::string> hash;
  for (const auto& [key, value] : data_) out ^= hash(key) * 31 + hash(value) * 0x9E3779B97F4A7C15ull;
  for (const auto& [id, session] : sessions_) out ^= (id * 0x9E3779B97F4A7C15ull) ^ (session.seq << 1);
  return out;
}

}  // namespace coraft::kv
