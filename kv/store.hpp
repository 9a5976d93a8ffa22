#pragma once
// The replicated state machine: a key-value map plus the client-session table. Both are replicated state — every
// replica applies the same commands in the same order and so holds the same sessions, which is why a retried
// request is answered with its original result even after the leader changed.

#include "kv/command.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace coraft::kv {

class Store {
 public:
  // Sessions beyond this many are forgotten, least recently used first. Deterministic: "recently" is measured in
  // applied log indexes, identical on every replica.
  explicit Store(std::size_t max_sessions = 1u << 20) : max_sessions_(max_sessions) {}

  // Applies the command at log index `index` (indexes must increase). A command whose session already holds this
  // sequence number is not applied again: the original result is returned.
  Result apply(std::uint64_t index, const Command& command);

  std::optional<std::string> get(const std::string& key) const;
  // The stored result of a session's newest request, if its sequence number is `seq`.
  std::optional<Result> session_result(std::uint64_t session, std::uint64_t seq) const;
  // The newest sequence number applied for a session (0 if unknown).
  std::uint64_t session_seq(std::uint64_t session) const;

  // The whole state machine — keys, values and client sessions — as bytes (a snapshot's payload), and back.
  // restore() replaces this store's contents; it returns false (leaving the store empty) for malformed bytes.
  std::string serialize() const;
  bool restore(std::string_view bytes);

  std::size_t size() const { return data_.size(); }
  std::size_t sessions() const { return sessions_.size(); }
  std::uint64_t last_index() const { return last_index_; }
  // An order-independent digest of keys, values and sessions: equal on replicas that applied the same prefix.
  std::uint64_t digest() const;

 private:
  struct Session {
    std::uint64_t seq = 0;
    Result result;
    std::uint64_t last_used_index = 0;
  };

  Result execute(const Command& command);
  bool restore_failed();
  void touch_session(std::uint64_t id, std::uint64_t seq, const Result& result, std::uint64_t index);

  std::unordered_map<std::string, std::string> data_;
  std::unordered_map<std::uint64_t, Session> sessions_;
  std::map<std::uint64_t, std::uint64_t> sessions_by_use_;  // last_used_index -> session id
  std::size_t max_sessions_;
  std::uint64_t last_index_ = 0;
};

}  // namespace coraft::kv
