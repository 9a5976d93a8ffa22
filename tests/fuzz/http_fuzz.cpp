// Fuzz target: HTTP request handling, as a replica's HTTP server meets a connection's bytes: http-parser's glue
// (net/http_message) and Consul's KV API (net/consul_http). Input: one byte that says where to split the stream, then
// the bytes a client sends on one connection (any number of requests).
// Properties: nothing throws or crashes; the stream parses into the same requests (or the same error) whether it
// arrives whole or in two pieces; every request is either answered at once with a response or becomes a call, whose
// answers (found, missing, written, failed) render to responses that parse back to the same status and body; a
// forwarded request parses back into the same call, marked as forwarded.

#include "fuzz_target.hpp"

#include "net/consul_http.hpp"
#include "net/http_message.hpp"

#include <string>
#include <string_view>
#include <vector>

using namespace coraft;

namespace {

constexpr net::HttpLimits kLimits{2048, 4096};

struct Parsed {
  std::vector<net::HttpRequest> requests;
  net::HttpParseError error = net::HttpParseError::kNone;
};

// Feeds `pieces` in order, taking each complete request as the server does, and stopping at an error.
Parsed parse(const std::vector<std::string_view>& pieces) {
  Parsed out;
  net::HttpParser parser(net::HttpParser::Kind::kRequests, kLimits);
  std::string pending;
  for (std::string_view piece : pieces) {
    pending.append(piece);
    while (!pending.empty() && parser.error() == net::HttpParseError::kNone) {
      const std::size_t used = parser.feed(pending);
      FUZZ_CHECK(used <= pending.size());
      pending.erase(0, used);
      if (parser.complete()) {
        const bool upgraded = parser.upgraded();
        out.requests.push_back(parser.take_request());
        if (upgraded) return out;  // the rest is another protocol
      } else if (used == 0) {
        break;
      }
    }
    parser.take_continue_request();
  }
  out.error = parser.error();
  return out;
}

void check_round_trip(const net::HttpResponse& response) {
  net::HttpParser parser(net::HttpParser::Kind::kResponses, net::HttpLimits{1 << 20, 1 << 20});
  const std::string wire = net::render(response);
  FUZZ_CHECK(parser.feed(wire) == wire.size());
  FUZZ_CHECK(parser.complete());
  const net::HttpResponse back = parser.take_response();
  FUZZ_CHECK(back.status == response.status);
  FUZZ_CHECK(back.body == response.body);
}

void serve(const net::HttpRequest& request) {
  net::ConsulSettings settings;
  settings.client_token = "00ff";
  settings.max_value_bytes = 64;
  for (bool kv_routes : {true, false}) {
    settings.kv_routes = kv_routes;
    auto translated = net::translate(request, settings);
    if (auto* response = std::get_if<net::HttpResponse>(&translated)) {
      FUZZ_CHECK(response->status >= 200 && response->status < 600);
      check_round_trip(*response);
      continue;
    }
    const net::ConsulCall& call = std::get<net::ConsulCall>(translated);
    const net::RaftAddresses addresses = {{raft::NodeId{0}, "127.0.0.1:7000"}};
    std::vector<actors::ApiAnswer> answers = {
        actors::ApiFailure{actors::ApiError::kNoLeader, request.target},
        actors::ApiWriteAnswer{kv::Status::kCasMismatch, 3, std::nullopt},
        actors::ApiStatusAnswer{raft::NodeId{0}, {raft::NodeId{0}, raft::NodeId{1}}, request.body},
        actors::ForwardedResponse{201, request.headers, request.body},
    };
    kv::RangeRead found;
    found.index = 9;
    if (const auto* read = std::get_if<actors::ApiRead>(&call.call)) {
      found.entries.push_back(kv::KeyValue{read->range.key, request.body, 1, 2, 3});
      found.entries.push_back(kv::KeyValue{read->range.key + "/x" + request.body, "", 4, 5, 0});
    }
    answers.push_back(actors::ApiRangeAnswer{found});
    answers.push_back(actors::ApiRangeAnswer{kv::RangeRead{}});
    for (const actors::ApiAnswer& answer : answers) check_round_trip(net::render_answer(answer, call.presentation, addresses));

    // Forwarded to the leader (KV calls are; status and metrics are answered where they arrive), the request says
    // the same thing, now marked as forwarded.
    if (!kv_routes || std::holds_alternative<actors::ApiStatusQuery>(call.call)) continue;
    actors::ApiCall sent = call.call;
    if (auto* write = std::get_if<actors::ApiWrite>(&sent)) write->session = kv::SessionRef{5, 1};  // as the KV API sets
    net::HttpRequest forwarded = net::forwarded_request(request, raft::NodeId{2}, sent);
    // Forwarding adds a few headers (about 100 bytes): a request within that of the limit may then be refused by the
    // leader (431, passed back to the client), which is no property to check here.
    std::size_t header_bytes = request.target.size();
    for (const auto& [name, value] : request.headers) header_bytes += name.size() + value.size() + 4;
    if (header_bytes + 512 > kLimits.max_header_bytes) continue;
    const std::string wire = net::render(forwarded, "leader:8500");
    Parsed again = parse({wire});
    FUZZ_CHECK(again.error == net::HttpParseError::kNone && again.requests.size() == 1);
    auto arrived = net::translate(again.requests.front(), settings);
    const auto* forwarded_call = std::get_if<net::ConsulCall>(&arrived);
    FUZZ_CHECK(forwarded_call && forwarded_call->forwarded);
    FUZZ_CHECK(forwarded_call->call == sent);
  }
}

}  // namespace

CORAFT_FUZZ_TARGET(http) {
  if (size < 1) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = stream.empty() ? 0 : data[0] % (stream.size() + 1);
  const Parsed whole = parse({stream});
  const Parsed pieces = parse({stream.substr(0, split), stream.substr(split)});
  FUZZ_CHECK(whole.error == pieces.error);
  FUZZ_CHECK(whole.requests.size() == pieces.requests.size());
  for (std::size_t i = 0; i < whole.requests.size(); ++i) {
    FUZZ_CHECK(whole.requests[i].method == pieces.requests[i].method);
    FUZZ_CHECK(whole.requests[i].target == pieces.requests[i].target);
    FUZZ_CHECK(whole.requests[i].headers == pieces.requests[i].headers);
    FUZZ_CHECK(whole.requests[i].body == pieces.requests[i].body);
    serve(whole.requests[i]);
  }
  return 0;
}
