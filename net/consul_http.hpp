#pragma once
// Consul's KV HTTP API on coraft: which typed call (actors/api_protocol.hpp) an HTTP request makes, and how the answer
// goes back, as Consul writes it, so that Consul's clients work unchanged. Pure: no sockets.
//
// Served: GET/PUT/DELETE /v1/kv/<key> with ?recurse, ?raw, ?keys and ?separator, ?cas, ?flags, ?index and ?wait
// (blocking queries), ?stale and ?consistent; GET /v1/status/leader and /v1/status/peers; GET /metrics (Prometheus).
// Every KV answer carries X-Consul-Index. Refused with a clear 4xx/501: the rest of Consul's API, sessions and locks
// (?acquire, ?release), other datacenters, namespaces and partitions (?dc, ?ns, ?partition), a missing or wrong client
// token (403), bad numbers and durations (400), too large keys, values or requests (413).

#include "actors/api_protocol.hpp"
#include "net/http_message.hpp"

#include <map>
#include <string>
#include <string_view>
#include <variant>

namespace coraft::net {

struct ConsulSettings {
  std::string client_token;  // hex, as in the cluster's client_token_file; empty: KV calls need no token
  std::size_t max_key_bytes = 1024;
  std::size_t max_value_bytes = 16 * 1024;
  bool kv_routes = true;  // false: only /metrics (and /) are served (kvstore --metrics-port)
};

// How to write the answer to a call: what the client asked for shapes it.
enum class AnswerShape : std::uint8_t {
  kEntry,    // GET one key: a JSON list of one entry
  kRaw,      // GET one key, ?raw: the value itself
  kEntries,  // GET ?recurse: a JSON list of entries
  kKeys,     // GET ?keys: a JSON list of keys, folded at the separator
  kPut,      // true or false
  kDelete,   // true or false
  kLeader,   // "host:port"
  kPeers,    // ["host:port", ...]
  kMetrics,  // Prometheus text
};

struct Presentation {
  AnswerShape shape = AnswerShape::kEntry;
  std::string prefix;     // kKeys
  std::string separator;  // kKeys; empty: none
};

struct ConsulCall {
  actors::ApiCall call;
  Presentation presentation;
  bool forwarded = false;  // sent by another replica (kForwardedHeader)
};

// A call for the replica, or the answer to give at once (a bad request, an unknown path, no valid token...).
std::variant<ConsulCall, HttpResponse> translate(const HttpRequest& request, const ConsulSettings& settings);

// Raft address ("host:port") of every replica, which /v1/status/leader and /v1/status/peers answer with, as Consul
// does with its servers' RPC addresses.
using RaftAddresses = std::map<raft::NodeId, std::string>;
HttpResponse render_answer(const actors::ApiAnswer& answer, const Presentation& presentation,
                           const RaftAddresses& addresses);

// The request sent to the leader for a call this replica forwards: the client's own (its token included), marked as
// forwarded by `self` and carrying the write's session, so that a retry through another replica is applied once.
HttpRequest forwarded_request(const HttpRequest& original, raft::NodeId self, const actors::ApiCall& call);

// Headers between replicas.
inline constexpr std::string_view kForwardedHeader = "X-Coraft-Forwarded-By";
inline constexpr std::string_view kSessionHeader = "X-Coraft-Session";  // "<id>.<seq>", decimal
inline constexpr std::string_view kNotLeaderHeader = "X-Coraft-Not-Leader";

// Go's time.ParseDuration, which Consul uses for ?wait: "300ms", "1.5s", "1m30s" (units ns, us, µs, ms, s, m, h).
std::optional<actors::Millis> parse_go_duration(std::string_view text);

// The keys of `read` as ?keys&separator= lists them: a key with the separator after the prefix is cut just after it,
// and repeats are left out (Consul's KVS.ListKeys).
std::vector<std::string> fold_keys(const std::vector<kv::KeyValue>& entries, const std::string& prefix,
                                   const std::string& separator);

}  // namespace coraft::net
