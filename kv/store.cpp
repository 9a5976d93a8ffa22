#include "kv/store.hpp"

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

std::uint64_t Store::digest() const {
  // XOR of per-item hashes: independent of the unordered maps' iteration order.
  std::uint64_t out = 0;
  const std::hash<std::string> hash;
  for (const auto& [key, value] : data_) out ^= hash(key) * 31 + hash(value) * 0x9E3779B97F4A7C15ull;
  for (const auto& [id, session] : sessions_) out ^= (id * 0x9E3779B97F4A7C15ull) ^ (session.seq << 1);
  return out;
}

}  // namespace coraft::kv
