// The HTTP API without sockets: http-parser's glue (requests and responses in, limits, pipelining, smuggling refused)
// and Consul's KV API (which call a request makes, how answers are written, what is refused, and how).

#include "net/consul_http.hpp"
#include "net/http_message.hpp"

#include <catch2/catch.hpp>

using namespace coraft;
using namespace coraft::net;
using actors::ApiRead;
using actors::ApiWrite;

namespace {

// Parses `wire` as one request; fails the test if it is not exactly one.
HttpRequest parse_one(std::string_view wire) {
  HttpParser parser(HttpParser::Kind::kRequests, HttpLimits{});
  const std::size_t used = parser.feed(wire);
  INFO(std::string(wire));
  INFO(parser.error_text());
  REQUIRE(parser.complete());
  CHECK(used == wire.size());
  return parser.take_request();
}

HttpParseError parse_error(std::string_view wire, HttpLimits limits = {}) {
  HttpParser parser(HttpParser::Kind::kRequests, limits);
  parser.feed(wire);
  return parser.error();
}

HttpRequest request(std::string method, std::string target, HttpHeaders headers = {}, std::string body = {}) {
  return HttpRequest{std::move(method), std::move(target), std::move(headers), std::move(body), true};
}

ConsulCall call_of(const HttpRequest& r, const ConsulSettings& settings = {}) {
  auto translated = translate(r, settings);
  if (auto* refused = std::get_if<HttpResponse>(&translated)) FAIL(r.target << ": " << refused->status << " " << refused->body);
  return std::get<ConsulCall>(translated);
}

int refusal(const HttpRequest& r, const ConsulSettings& settings = {}) {
  auto translated = translate(r, settings);
  auto* response = std::get_if<HttpResponse>(&translated);
  return response ? response->status : 0;
}

kv::RangeRead range(std::vector<kv::KeyValue> entries, std::uint64_t index) {
  kv::RangeRead read;
  read.entries = std::move(entries);
  read.index = index;
  return read;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// The parser

TEST_CASE("http: a request parses into method, target, headers and body", "[http][parser]") {
  const HttpRequest r = parse_one("PUT /v1/kv/a%2Fb?cas=0 HTTP/1.1\r\nHost: x\r\nX-Consul-Token: t\r\n"
                                  "Content-Length: 5\r\n\r\nhello");
  CHECK(r.method == "PUT");
  CHECK(r.target == "/v1/kv/a%2Fb?cas=0");
  CHECK(*r.header("x-consul-token") == "t");
  CHECK(r.body == "hello");
  CHECK(r.keep_alive);
  CHECK_FALSE(parse_one("GET / HTTP/1.0\r\n\r\n").keep_alive);
  CHECK(parse_one("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
  CHECK_FALSE(parse_one("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
  CHECK(parse_one("PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").body == "abcde");
}

TEST_CASE("http: requests arrive in pieces, or several at once, and come out one at a time", "[http][parser]") {
  const std::string two = "GET /a HTTP/1.1\r\n\r\nPUT /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
  HttpParser parser(HttpParser::Kind::kRequests, HttpLimits{});
  std::string_view rest = two;
  rest.remove_prefix(parser.feed(rest));
  REQUIRE(parser.complete());
  CHECK(parser.take_request().target == "/a");
  CHECK(parser.feed(rest) == rest.size());
  REQUIRE(parser.complete());
  CHECK(parser.take_request().body == "hi");

  // Byte by byte: in progress from the first byte until the last.
  HttpParser slow(HttpParser::Kind::kRequests, HttpLimits{});
  CHECK_FALSE(slow.in_progress());
  for (std::size_t i = 0; i < two.size(); ++i) {
    CHECK(slow.feed(std::string_view(two).substr(i, 1)) == 1);
    if (slow.complete()) {
      CHECK(i == two.find("PUT") - 1);
      break;
    }
    CHECK(slow.in_progress());
  }
}

TEST_CASE("http: limits, malformed bytes and smuggling attempts are errors with a status", "[http][parser]") {
  CHECK(parse_error("GARBAGE\r\n\r\n") == HttpParseError::kMalformed);
  CHECK(parse_error("GET /x SMTP/1.1\r\n\r\n") == HttpParseError::kMalformed);
  CHECK(parse_error("GET /x HTTP/1.1\r\nBad Header\r\n\r\n") == HttpParseError::kMalformed);
  CHECK(parse_error("PUT /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab") == HttpParseError::kMalformed);
  CHECK(parse_error("PUT /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") ==
        HttpParseError::kMalformed);
  CHECK(parse_error("PUT /x HTTP/1.1\r\nContent-Length :0\r\n\r\n") == HttpParseError::kMalformed);  // RFC 7230 3.2.4
  CHECK(parse_error("GET /x\r\nHost: h\r\n\r\n") == HttpParseError::kMalformed);  // HTTP/0.9
  CHECK(parse_error("GET / HTTP/2.0\r\n\r\n") == HttpParseError::kMalformed);
  CHECK(parse_error("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n") == HttpParseError::kHeadersTooLarge);
  CHECK(parse_error("GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n") == HttpParseError::kHeadersTooLarge);
  // A body too large is refused as soon as its length is announced, before it is sent.
  CHECK(parse_error("PUT / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n") == HttpParseError::kBodyTooLarge);
  CHECK(parse_error("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n",
                    HttpLimits{16 * 1024, 8}) == HttpParseError::kBodyTooLarge);
  CHECK(status_for(HttpParseError::kMalformed) == 400);
  CHECK(status_for(HttpParseError::kHeadersTooLarge) == 431);
  CHECK(status_for(HttpParseError::kBodyTooLarge) == 413);
  // After an error the parser takes nothing more.
  HttpParser parser(HttpParser::Kind::kRequests, HttpLimits{});
  parser.feed("BAD\r\n\r\n");
  CHECK(parser.feed("GET / HTTP/1.1\r\n\r\n") == 0);
}

TEST_CASE("http: Expect: 100-continue is reported once, and an upgrade ends the stream", "[http][parser]") {
  HttpParser parser(HttpParser::Kind::kRequests, HttpLimits{});
  parser.feed("PUT /k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  CHECK(parser.take_continue_request());
  CHECK_FALSE(parser.take_continue_request());
  parser.feed("abc");
  REQUIRE(parser.complete());
  CHECK(parser.take_request().body == "abc");

  HttpParser upgrade(HttpParser::Kind::kRequests, HttpLimits{});
  upgrade.feed("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0");
  REQUIRE(upgrade.complete());
  CHECK(upgrade.upgraded());
  CHECK_FALSE(upgrade.take_request().keep_alive);
}

TEST_CASE("http: responses parse with a length, chunked, or up to the end of the stream", "[http][parser]") {
  HttpParser parser(HttpParser::Kind::kResponses, HttpLimits{});
  parser.feed("HTTP/1.1 200 OK\r\nX-Consul-Index: 7\r\nContent-Length: 4\r\n\r\ntrue");
  REQUIRE(parser.complete());
  HttpResponse r = parser.take_response();
  CHECK(r.status == 200);
  CHECK(*r.header("X-Consul-Index") == "7");
  CHECK(r.body == "true");
  parser.feed("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nuntil the end");
  CHECK_FALSE(parser.complete());
  parser.finish();
  REQUIRE(parser.complete());
  r = parser.take_response();
  CHECK(r.status == 404);
  CHECK(r.body == "until the end");
  CHECK_FALSE(r.keep_alive);

  HttpParser cut(HttpParser::Kind::kResponses, HttpLimits{});
  cut.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  cut.finish();
  CHECK(cut.error() == HttpParseError::kMalformed);
}

TEST_CASE("http: what render() writes parses back to the same message", "[http][parser]") {
  HttpResponse response = text_response(503, "busy");
  response.headers.emplace_back("X-Consul-Index", "9");
  response.keep_alive = false;
  HttpParser parser(HttpParser::Kind::kResponses, HttpLimits{});
  parser.feed(render(response));
  REQUIRE(parser.complete());
  const HttpResponse back = parser.take_response();
  CHECK(back.status == 503);
  CHECK(back.body == "busy\n");
  CHECK(*back.header("x-consul-index") == "9");
  CHECK_FALSE(back.keep_alive);

  const HttpRequest r = request("PUT", "/v1/kv/k?flags=3", {{"X-Consul-Token", "abc"}}, "value");
  const HttpRequest parsed = parse_one(render(r, "127.0.0.1:8500"));
  CHECK(parsed.method == "PUT");
  CHECK(parsed.target == r.target);
  CHECK(*parsed.header("Host") == "127.0.0.1:8500");
  CHECK(parsed.body == "value");
}

TEST_CASE("http: targets split into a decoded path and query", "[http][parser]") {
  auto t = parse_target("/v1/kv/a%2Fb%20c+d?recurse&separator=%2F&wait=1s&x=a+b#frag");
  REQUIRE(t);
  CHECK(t->path == "/v1/kv/a/b c+d");  // '+' is a space only in the query
  CHECK(t->has("recurse"));
  CHECK(t->param("recurse") == "");
  CHECK(t->param("separator") == "/");
  CHECK(t->param("x") == "a b");
  CHECK_FALSE(t->has("frag"));
  CHECK_FALSE(parse_target("http://host/x"));
  CHECK_FALSE(parse_target("/bad%zz"));
  CHECK_FALSE(parse_target("/bad%2"));
  CHECK_FALSE(parse_target("/x?bad=%"));
  CHECK(percent_encode("a/b c\xff", true) == "a/b%20c%FF");
  CHECK(percent_encode("a/b", false) == "a%2Fb");
}

// ---------------------------------------------------------------------------------------------------------------
// Consul's KV API: requests

TEST_CASE("consul: GET reads one key, a prefix (?recurse) or its keys (?keys), linearizable unless ?stale",
          "[http][consul]") {
  ConsulCall one = call_of(request("GET", "/v1/kv/a%2Fb"));
  auto read = std::get<ApiRead>(one.call);
  CHECK(read.range == kv::KeyRange{"a/b", false});
  CHECK(read.consistency == actors::ReadConsistency::kLinearizable);
  CHECK(read.after_index == 0);
  CHECK(one.presentation.shape == AnswerShape::kEntry);
  CHECK(call_of(request("GET", "/v1/kv/a?raw")).presentation.shape == AnswerShape::kRaw);

  ConsulCall all = call_of(request("GET", "/v1/kv/dir/?recurse&stale"));
  read = std::get<ApiRead>(all.call);
  CHECK(read.range == kv::KeyRange{"dir/", true});
  CHECK(read.consistency == actors::ReadConsistency::kStale);
  CHECK(all.presentation.shape == AnswerShape::kEntries);

  ConsulCall keys = call_of(request("GET", "/v1/kv/dir/?keys&separator=/&recurse"));
  read = std::get<ApiRead>(keys.call);
  CHECK(read.keys_only);
  CHECK(read.range == kv::KeyRange{"dir/", true});
  CHECK(keys.presentation.shape == AnswerShape::kKeys);
  CHECK(keys.presentation.separator == "/");
  CHECK(call_of(request("GET", "/v1/kv/?keys&seperator=:")).presentation.separator == ":");  // Consul's old spelling
  CHECK(std::get<ApiRead>(call_of(request("GET", "/v1/kv/x?consistent")).call).consistency ==
        actors::ReadConsistency::kLinearizable);
}

TEST_CASE("consul: ?index and ?wait make a blocking query; bad numbers and durations are 400", "[http][consul]") {
  auto read = std::get<ApiRead>(call_of(request("GET", "/v1/kv/a?index=42&wait=1m30s")).call);
  CHECK(read.after_index == 42);
  CHECK(read.wait == actors::Millis(90000));
  CHECK(std::get<ApiRead>(call_of(request("GET", "/v1/kv/a?index=42")).call).wait == actors::Millis(300000));
  CHECK(std::get<ApiRead>(call_of(request("GET", "/v1/kv/a?index=1&wait=1h")).call).wait == actors::kMaxBlockingWait);
  CHECK(refusal(request("GET", "/v1/kv/a?index=-1")) == 400);
  CHECK(refusal(request("GET", "/v1/kv/a?index=12x")) == 400);
  CHECK(refusal(request("GET", "/v1/kv/a?index=99999999999999999999")) == 400);
  CHECK(refusal(request("GET", "/v1/kv/a?wait=soon")) == 400);
  CHECK(refusal(request("GET", "/v1/kv/a?wait=10")) == 400);
  CHECK(refusal(request("GET", "/v1/kv/a?stale&consistent")) == 400);
  CHECK(refusal(request("GET", "/v1/kv/")) == 400);  // no key, no ?recurse
}

TEST_CASE("consul: Go durations as ?wait takes them", "[http][consul]") {
  CHECK(parse_go_duration("300ms") == actors::Millis(300));
  CHECK(parse_go_duration("1.5s") == actors::Millis(1500));
  CHECK(parse_go_duration("2h45m") == actors::Millis((2 * 60 + 45) * 60 * 1000));
  CHECK(parse_go_duration("1500us") == actors::Millis(2));  // rounded up
  CHECK(parse_go_duration("1\xC2\xB5s") == actors::Millis(1));
  CHECK(parse_go_duration("0") == actors::Millis(0));
  CHECK(parse_go_duration("-5s") == actors::Millis(0));
  for (const char* bad : {"", "s", "5", "5x", "1..5s", "5 s", ".s", "9999999999999h"}) {
    INFO(bad);
    CHECK_FALSE(parse_go_duration(bad));
  }
}

TEST_CASE("consul: PUT writes a value with ?flags and ?cas; DELETE a key or a prefix", "[http][consul]") {
  ConsulCall put = call_of(request("PUT", "/v1/kv/k?flags=7&cas=0", {}, "v"));
  auto write = std::get<ApiWrite>(put.call);
  CHECK(write.kind == actors::RequestKind::kPut);
  CHECK(write.key == "k");
  CHECK(write.value == "v");
  CHECK(write.flags == 7);
  CHECK(write.expected_index == 0u);
  CHECK(write.session.id == 0);
  CHECK(put.presentation.shape == AnswerShape::kPut);
  CHECK_FALSE(std::get<ApiWrite>(call_of(request("PUT", "/v1/kv/k", {}, "")).call).expected_index);

  write = std::get<ApiWrite>(call_of(request("DELETE", "/v1/kv/dir/?recurse")).call);
  CHECK(write.kind == actors::RequestKind::kDeletePrefix);
  CHECK(write.key == "dir/");
  write = std::get<ApiWrite>(call_of(request("DELETE", "/v1/kv/k?cas=12")).call);
  CHECK(write.kind == actors::RequestKind::kDelete);
  CHECK(write.expected_index == 12u);

  CHECK(refusal(request("PUT", "/v1/kv/", {}, "v")) == 400);
  CHECK(refusal(request("PUT", "/v1/kv/k?flags=x", {}, "v")) == 400);
  CHECK(refusal(request("PUT", "/v1/kv/k?cas=", {}, "v")) == 400);
  CHECK(refusal(request("DELETE", "/v1/kv/k?recurse&cas=3")) == 400);
  CHECK(refusal(request("DELETE", "/v1/kv/")) == 400);
  ConsulSettings small;
  small.max_value_bytes = 4;
  small.max_key_bytes = 3;
  CHECK(refusal(request("PUT", "/v1/kv/k", {}, "12345"), small) == 413);
  CHECK(refusal(request("GET", "/v1/kv/long"), small) == 413);
}

TEST_CASE("consul: what coraft leaves out is refused with 501, 405 or 404, never answered wrongly",
          "[http][consul]") {
  CHECK(refusal(request("PUT", "/v1/kv/k?acquire=abc", {}, "v")) == 501);
  CHECK(refusal(request("PUT", "/v1/kv/k?release=abc", {}, "v")) == 501);
  CHECK(refusal(request("GET", "/v1/kv/k?dc=other")) == 501);
  CHECK(refusal(request("GET", "/v1/kv/k?ns=team")) == 501);
  CHECK(refusal(request("GET", "/v1/agent/self")) == 501);
  CHECK(refusal(request("PUT", "/v1/txn")) == 501);
  CHECK(refusal(request("GET", "/v1/kv")) == 501);
  CHECK(refusal(request("GET", "/nope")) == 404);
  CHECK(refusal(request("POST", "/v1/kv/k")) == 405);
  CHECK(refusal(request("HEAD", "/v1/kv/k")) == 405);
  CHECK(refusal(request("PUT", "/v1/status/leader")) == 405);
  CHECK(refusal(request("GET", "relative")) == 400);
  CHECK(refusal(request("GET", "/")) == 200);
  CHECK(std::get<actors::ApiStatusQuery>(call_of(request("GET", "/v1/status/leader")).call) ==
        actors::ApiStatusQuery::kLeader);
  CHECK(std::get<actors::ApiStatusQuery>(call_of(request("GET", "/metrics")).call) == actors::ApiStatusQuery::kMetrics);
}

TEST_CASE("consul: the client token is X-Consul-Token or Authorization: Bearer; status and metrics need none",
          "[http][consul]") {
  ConsulSettings settings;
  settings.client_token = "00ff";
  CHECK(refusal(request("GET", "/v1/kv/k"), settings) == 403);
  CHECK(refusal(request("GET", "/v1/kv/k", {{"X-Consul-Token", "00fe"}}), settings) == 403);
  CHECK(refusal(request("GET", "/v1/kv/k", {{"Authorization", "Basic 00ff"}}), settings) == 403);
  call_of(request("GET", "/v1/kv/k", {{"X-Consul-Token", "00FF\n"}}), settings);  // as `cat token.file` gives it
  call_of(request("GET", "/v1/kv/k", {{"authorization", "bearer 00ff"}}), settings);
  call_of(request("GET", "/v1/kv/k?token=00ff"), settings);
  call_of(request("GET", "/v1/status/peers"), settings);
  call_of(request("GET", "/metrics"), settings);
}

TEST_CASE("consul: the metrics listener serves /metrics only", "[http][consul][metrics]") {
  ConsulSettings metrics_only;
  metrics_only.kv_routes = false;
  CHECK(call_of(request("GET", "/metrics?x=1"), metrics_only).presentation.shape == AnswerShape::kMetrics);
  CHECK(refusal(request("GET", "/v1/kv/k"), metrics_only) == 404);
  CHECK(refusal(request("GET", "/"), metrics_only) == 200);
  CHECK(refusal(request("POST", "/metrics"), metrics_only) == 405);
}

TEST_CASE("consul: a forwarded write carries the forwarding replica's session; clients cannot set one",
          "[http][consul]") {
  const HttpRequest original = request("PUT", "/v1/kv/k?cas=5", {{"X-Consul-Token", "t"}, {"Connection", "close"},
                                                                  {"X-Coraft-Session", "1.1"}}, "v");
  ApiWrite write;
  write.session = kv::SessionRef{77, 3};
  const HttpRequest forwarded = forwarded_request(original, raft::NodeId{2}, write);
  CHECK(forwarded.target == original.target);
  CHECK(forwarded.body == "v");
  CHECK(*forwarded.header("X-Consul-Token") == "t");
  CHECK_FALSE(forwarded.header("Connection"));
  CHECK(*forwarded.header(kForwardedHeader) == "0002");
  CHECK(*forwarded.header(kSessionHeader) == "77.3");
  ConsulCall arrived = call_of(forwarded);
  CHECK(arrived.forwarded);
  CHECK(std::get<ApiWrite>(arrived.call).session == kv::SessionRef{77, 3});
  CHECK(std::get<ApiWrite>(arrived.call).expected_index == 5u);
  // Without the forwarding mark a session header is not taken.
  CHECK(std::get<ApiWrite>(call_of(original).call).session.id == 0);
  CHECK_FALSE(call_of(original).forwarded);
}

// ---------------------------------------------------------------------------------------------------------------
// Consul's KV API: answers

TEST_CASE("consul: entries are written as Consul writes them, with X-Consul-Index on every answer",
          "[http][consul]") {
  const RaftAddresses none;
  const kv::RangeRead read = range({{"a", "hello", 3, 7, 42}, {"b", "", 5, 5, 0}}, 9);
  HttpResponse r = render_answer(actors::ApiRangeAnswer{read}, Presentation{AnswerShape::kEntries, {}, {}}, none);
  CHECK(r.status == 200);
  CHECK(r.body == R"([{"LockIndex":0,"Key":"a","Flags":42,"Value":"aGVsbG8=","CreateIndex":3,"ModifyIndex":7},)"
                  R"({"LockIndex":0,"Key":"b","Flags":0,"Value":null,"CreateIndex":5,"ModifyIndex":5}])");
  CHECK(*r.header("Content-Type") == "application/json");
  CHECK(*r.header("X-Consul-Index") == "9");

  r = render_answer(actors::ApiRangeAnswer{range({{"a", "hello", 3, 7, 0}}, 7)}, Presentation{AnswerShape::kRaw, {}, {}},
                    none);
  CHECK(r.body == "hello");
  CHECK(*r.header("X-Content-Type-Options") == "nosniff");

  for (AnswerShape shape : {AnswerShape::kEntry, AnswerShape::kRaw, AnswerShape::kEntries}) {
    r = render_answer(actors::ApiRangeAnswer{range({}, 11)}, Presentation{shape, {}, {}}, none);
    CHECK(r.status == 404);
    CHECK(r.body.empty());
    CHECK(*r.header("X-Consul-Index") == "11");  // a watch on a missing key needs it too
  }
}

TEST_CASE("consul: ?keys folds at the separator; an empty prefix lists [], another answers 404", "[http][consul]") {
  const std::vector<kv::KeyValue> entries = {{"dir/a", "", 1, 1, 0}, {"dir/b/x", "", 1, 1, 0}, {"dir/b/y", "", 1, 1, 0},
                                             {"dir/c/", "", 1, 1, 0}, {"dirt", "", 1, 1, 0}};
  CHECK(fold_keys(entries, "dir/", "/") == std::vector<std::string>{"dir/a", "dir/b/", "dir/c/", "dirt"});
  CHECK(fold_keys(entries, "dir/", "") == std::vector<std::string>{"dir/a", "dir/b/x", "dir/b/y", "dir/c/", "dirt"});
  CHECK(fold_keys(entries, "", "/") == std::vector<std::string>{"dir/", "dirt"});
  const RaftAddresses none;
  HttpResponse r = render_answer(actors::ApiRangeAnswer{range(entries, 4)}, Presentation{AnswerShape::kKeys, "", "/"},
                                 none);
  CHECK(r.body == R"(["dir/","dirt"])");
  CHECK(render_answer(actors::ApiRangeAnswer{range({}, 4)}, Presentation{AnswerShape::kKeys, "", ""}, none).body == "[]");
  CHECK(render_answer(actors::ApiRangeAnswer{range({}, 4)}, Presentation{AnswerShape::kKeys, "x/", ""}, none).status ==
        404);
}

TEST_CASE("consul: writes answer true or false; failures map to statuses a client can act on", "[http][consul]") {
  const RaftAddresses none;
  auto body = [&](kv::Status status, AnswerShape shape) {
    return render_answer(actors::ApiWriteAnswer{status, 12, std::nullopt}, Presentation{shape, {}, {}}, none).body;
  };
  CHECK(body(kv::Status::kOk, AnswerShape::kPut) == "true");
  CHECK(body(kv::Status::kCasMismatch, AnswerShape::kPut) == "false");
  CHECK(body(kv::Status::kNotFound, AnswerShape::kDelete) == "true");  // Consul: deleting nothing succeeds
  CHECK(body(kv::Status::kCasMismatch, AnswerShape::kDelete) == "false");
  auto status = [&](actors::ApiError error) {
    return render_answer(actors::ApiFailure{error, "why"}, Presentation{}, none).status;
  };
  CHECK(status(actors::ApiError::kNoLeader) == 500);
  CHECK(status(actors::ApiError::kTimedOut) == 504);
  CHECK(status(actors::ApiError::kOverloaded) == 503);
  CHECK(status(actors::ApiError::kTooLarge) == 413);
  CHECK(status(actors::ApiError::kRejected) == 400);
  CHECK(render_answer(actors::ApiFailure{actors::ApiError::kNotLeader, "x"}, Presentation{}, none)
            .header(kNotLeaderHeader));
}

TEST_CASE("consul: status answers with Raft addresses; a forwarded answer passes through", "[http][consul]") {
  const RaftAddresses addresses = {{raft::NodeId{0}, "10.0.0.1:7000"}, {raft::NodeId{1}, "10.0.0.2:7000"}};
  actors::ApiStatusAnswer status{raft::NodeId{1}, {raft::NodeId{0}, raft::NodeId{1}}, "m 1\n"};
  CHECK(render_answer(status, Presentation{AnswerShape::kLeader, {}, {}}, addresses).body == R"("10.0.0.2:7000")");
  CHECK(render_answer(status, Presentation{AnswerShape::kPeers, {}, {}}, addresses).body ==
        R"(["10.0.0.1:7000","10.0.0.2:7000"])");
  status.leader = raft::kNoNode;
  CHECK(render_answer(status, Presentation{AnswerShape::kLeader, {}, {}}, addresses).body == R"("")");
  const HttpResponse metrics = render_answer(status, Presentation{AnswerShape::kMetrics, {}, {}}, addresses);
  CHECK(metrics.body == "m 1\n");
  CHECK(metrics.header("Content-Type")->rfind("text/plain; version=0.0.4", 0) == 0);

  actors::ForwardedResponse forwarded{200, {{"X-Consul-Index", "5"}, {"Content-Length", "4"}, {"Connection", "close"}},
                                      "true"};
  const HttpResponse passed = render_answer(forwarded, Presentation{}, addresses);
  CHECK(passed.body == "true");
  CHECK(*passed.header("X-Consul-Index") == "5");
  CHECK_FALSE(passed.header("Content-Length"));  // render() writes its own
  CHECK_FALSE(passed.header("Connection"));
}
