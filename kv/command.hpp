#pragma once
// State-machine commands as they travel in the Raft log, and their results. Pure C++.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coraft::kv {

// kDeletePrefix deletes every key that starts with `key` (an empty key: every key).
enum class Op : std::uint8_t { kPut, kDelete, kCas, kDeletePrefix };

// A client session for exactly-once writes (Raft thesis §6.3): a client numbers its requests 1, 2, 3... within a
// session and has at most one outstanding, so the store keeps only the newest result per session.
struct SessionRef {
  std::uint64_t id = 0;  // 0: no session (the course simulator's clients)
  std::uint64_t seq = 0;
  bool operator==(const SessionRef&) const = default;
};

struct Command {
  Op op = Op::kPut;
  std::string key;
  std::string value;                    // put, cas: the new value
  std::optional<std::string> expected;  // cas: the value that must be there; nullopt = the key must be absent
  SessionRef session;
  std::uint64_t flags = 0;  // put, cas: an opaque number stored with the value (Consul's flags)
  // put, delete: apply only if the key's modify index is this one; 0: only if the key is absent (put), or do nothing
  // unless absent (delete). Consul's ?cas=<index>.
  std::optional<std::uint64_t> expected_index;
  bool operator==(const Command&) const = default;
};

enum class Status : std::uint8_t {
  kOk,           // done; a prefix delete's `value` is how many keys it deleted, in decimal
  kNotFound,     // delete of an absent key
  kCasMismatch,  // cas found another value (or none; `value` holds what it found), or another modify index
  kStaleSession, // a request older than the session's newest: its answer is gone (the client had moved on)
};
std::string_view status_name(Status status);

struct Result {
  Status status = Status::kOk;
  std::optional<std::string> value;
  bool operator==(const Result&) const = default;
};

// Bytes `text` takes as a JSON string literal, quotes included: what it costs on the wire. The gateway limits keys
// and values by this measure so that every command fits in one datagram however it is escaped.
std::size_t json_quoted_size(std::string_view text);

// A compact, length-prefixed text form (it travels inside JSON strings): "P 7 3 5:hello5:world", then the optional
// parts in this order: "F<flags>;" (put, cas; only when not 0) and "I<index>;" (put, delete: expected_index).
// Commands without them encode as they did before flags and indexes existed, so older logs still decode.
std::string encode(const Command& command);
std::optional<Command> decode(std::string_view text);

}  // namespace coraft::kv
