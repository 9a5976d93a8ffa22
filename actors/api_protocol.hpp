#pragma once
// What the HTTP API asks a replica and what the replica answers, as typed values: Consul's KV semantics without
// HTTP. net/consul_http turns HTTP requests into calls and answers into responses; the KV API actor
// (actors/kv_api.hpp) serves the calls. Pure C++.

#include "actors/client_protocol.hpp"
#include "actors/clock.hpp"
#include "kv/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace coraft::actors {

// The longest wait a blocking read may ask for (Consul's too).
inline constexpr Millis kMaxBlockingWait{10 * 60 * 1000};

enum class ReadConsistency : std::uint8_t {
  kLinearizable,  // as `kvctl get`: confirmed by the leader (the default)
  kStale,         // whatever this replica has applied (?stale)
};

struct ApiRead {  // GET /v1/kv/<key>, ?recurse, ?keys
  kv::KeyRange range;
  bool keys_only = false;
  ReadConsistency consistency = ReadConsistency::kLinearizable;
  // A blocking query: answer once the range's index passes after_index, or when `wait` has passed (0: at once).
  std::uint64_t after_index = 0;
  Millis wait{0};
  bool operator==(const ApiRead&) const = default;
};

struct ApiWrite {  // PUT and DELETE /v1/kv/<key>
  RequestKind kind = RequestKind::kPut;  // kPut, kDelete or kDeletePrefix
  std::string key;
  std::string value;
  std::uint64_t flags = 0;
  std::optional<std::uint64_t> expected_index;  // ?cas=
  // Set when another replica forwards the write: its session, so that its retries are applied once. 0: the replica
  // that serves the call picks one.
  kv::SessionRef session;
  bool operator==(const ApiWrite&) const = default;
};

enum class ApiStatusQuery : std::uint8_t { kLeader, kPeers, kMetrics };

using ApiCall = std::variant<ApiRead, ApiWrite, ApiStatusQuery>;

struct ApiRangeAnswer {
  kv::RangeRead read;
};
struct ApiWriteAnswer {
  kv::Status status = kv::Status::kOk;  // kOk; kNotFound (a delete found nothing); kCasMismatch
  raft::Index applied_index = 0;        // the write is applied at or below it
  std::optional<std::string> value;     // a prefix delete: how many keys it deleted
};
struct ApiStatusAnswer {
  raft::NodeId leader;                // kNoNode: none known
  std::vector<raft::NodeId> members;  // every replica, this one included
  std::string metrics;                // Prometheus text (kMetrics)
};

enum class ApiError : std::uint8_t {
  kNoLeader,    // no leader could be reached before the deadline
  kTimedOut,    // the leader did not finish in time (a write may or may not have been applied)
  kOverloaded,  // a mailbox on the way was full
  kTooLarge,    // a key, value or range beyond the limits
  kRejected,    // refused for good for another reason (detail says why)
  kNotLeader,   // a call another replica forwarded here reached a replica that does not lead: it should retry
};
struct ApiFailure {
  ApiError error = ApiError::kNoLeader;
  std::string detail;
};

// The leader's HTTP answer to a forwarded call, passed back unchanged.
struct ForwardedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using ApiAnswer = std::variant<ApiRangeAnswer, ApiWriteAnswer, ApiStatusAnswer, ApiFailure, ForwardedResponse>;

}  // namespace coraft::actors
