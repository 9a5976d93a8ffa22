// The operator's view: Prometheus text from a replica's status and counters, the HTTP endpoint's answers, and the
// status reply that carries both to kvctl.

#include "actors/metrics.hpp"
#include "net/codec.hpp"
#include "net/consul_http.hpp"
#include "net/http_message.hpp"
#include "version/version.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <sstream>

using namespace coraft;

namespace {

actors::ReplicaStatus leader_status() {
  actors::ReplicaStatus s;
  s.id = raft::NodeId{1};
  s.role = raft::Role::kLeader;
  s.term = 7;
  s.leader = raft::NodeId{1};
  s.commit_index = 120;
  s.applied_index = 119;
  s.last_log_index = 125;
  s.snapshot_index = 100;
  s.keys = 42;
  s.last_leader_contact_ms = 0;
  s.followers = {{raft::NodeId{0}, 125}, {raft::NodeId{2}, 90}};
  return s;
}

// The value of the sample whose line starts with `series` (name and labels), or NaN.
double sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nan("");
}

}  // namespace

TEST_CASE("metrics: status and counters render as Prometheus text", "[metrics]") {
  actors::NodeMetrics node;
  node.elections_started = 3;
  node.proposals = 10;
  node.proposal_batch_size.observe(1);
  node.proposal_batch_size.observe(9);
  node.proposal_batch_size.observe(5000);  // beyond the last bound: only +Inf counts it
  actors::StorageMetrics storage;
  storage.write_seconds.observe(0.00007);
  const std::string labels = actors::replica_label(raft::NodeId{1});
  std::vector<std::string> reports(3);
  node.render(reports[0], labels);
  storage.render(reports[1], labels);
  actors::append_sample(reports[2], "coraft_test_network", "", 5);  // an edge's report
  const std::string text = actors::render_prometheus(leader_status(), reports);

  const auto build = fmt::format(R"(coraft_build_info{{replica="0001",version="{}",commit="{}"}})", version(), commit());
  CHECK(sample(text, build) == 1);
  CHECK(sample(text, R"(coraft_term{replica="0001"})") == 7);
  CHECK(sample(text, R"(coraft_role{replica="0001",role="leader"})") == 1);
  CHECK(sample(text, R"(coraft_role{replica="0001",role="follower"})") == 0);
  CHECK(sample(text, R"(coraft_snapshot_index{replica="0001"})") == 100);
  CHECK(sample(text, R"(coraft_log_entries{replica="0001"})") == 25);
  CHECK(sample(text, R"(coraft_follower_lag_entries{replica="0001",follower="0002"})") == 35);
  CHECK(sample(text, R"(coraft_follower_lag_entries{replica="0001",follower="0000"})") == 0);
  CHECK(sample(text, R"(coraft_elections_started_total{replica="0001"})") == 3);
  // Buckets are cumulative; +Inf equals the count.
  CHECK(sample(text, R"(coraft_proposal_batch_size_bucket{replica="0001",le="1"})") == 1);
  CHECK(sample(text, R"(coraft_proposal_batch_size_bucket{replica="0001",le="16"})") == 2);
  CHECK(sample(text, R"(coraft_proposal_batch_size_bucket{replica="0001",le="1024"})") == 2);
  CHECK(sample(text, R"(coraft_proposal_batch_size_bucket{replica="0001",le="+Inf"})") == 3);
  CHECK(sample(text, R"(coraft_proposal_batch_size_count{replica="0001"})") == 3);
  CHECK(sample(text, R"(coraft_storage_write_seconds_bucket{replica="0001",le="0.0001"})") == 1);
  CHECK(sample(text, "coraft_test_network") == 5);
  // Every metric has HELP and TYPE lines before its samples.
  CHECK(text.find("# TYPE coraft_term gauge") < text.find("coraft_term{"));
  CHECK(text.find("# TYPE coraft_elections_started_total counter") != std::string::npos);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    const std::string type = line.substr(line.rfind(' ') + 1);
    INFO(line);
    CHECK((type == "gauge" || type == "counter" || type == "histogram"));
  }
}

namespace {

// What the HTTP server answers for `wire` when the replica's metrics are `text`: the parser, then Consul's API (the
// metrics listener's routes when `metrics_only`), then the answer as the KV API would give it.
net::HttpResponse answer_http(std::string_view wire, const std::string& text, bool metrics_only = false) {
  net::HttpParser parser(net::HttpParser::Kind::kRequests, net::HttpLimits{});
  parser.feed(wire);
  if (!parser.complete()) return net::text_response(net::status_for(parser.error()), parser.error_text());
  net::ConsulSettings settings;
  settings.kv_routes = !metrics_only;
  auto translated = net::translate(parser.take_request(), settings);
  if (auto* response = std::get_if<net::HttpResponse>(&translated)) return *response;
  actors::ApiStatusAnswer status;
  status.metrics = text;
  return net::render_answer(status, std::get<net::ConsulCall>(translated).presentation, {});
}

}  // namespace

TEST_CASE("metrics: the HTTP server answers GET /metrics and refuses the rest", "[metrics]") {
  const std::string text = "coraft_term 1\n";
  for (bool metrics_only : {false, true}) {
    auto ok = answer_http("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", text, metrics_only);
    CHECK(ok.status == 200);
    CHECK(ok.body == "coraft_term 1\n");
    CHECK(ok.header("Content-Type")->rfind("text/plain; version=0.0.4", 0) == 0);
    CHECK(answer_http("GET /metrics?x=1 HTTP/1.0\r\n\r\n", text, metrics_only).status == 200);
    CHECK(answer_http("GET /nope HTTP/1.1\r\n\r\n", text, metrics_only).status == 404);
    CHECK(answer_http("POST /metrics HTTP/1.1\r\n\r\n", text, metrics_only).status == 405);
    CHECK(answer_http("garbage\r\n\r\n", text, metrics_only).status == 400);
    CHECK(answer_http("GET /metrics SMTP\r\n\r\n", text, metrics_only).status == 400);
    const std::string wire = net::render(ok);
    CHECK(wire.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(wire.find("Content-Length: 14\r\n") != std::string::npos);
    CHECK(wire.substr(wire.size() - 14) == "coraft_term 1\n");
  }
}

TEST_CASE("metrics: a status reply carries the snapshot index and the metrics text", "[metrics][codec]") {
  actors::ClientReply reply;
  reply.client = raft::NodeId{0x1000};
  reply.mid = "m1";
  reply.kind = actors::ReplyKind::kOk;
  reply.leader = raft::NodeId{1};
  reply.replica_status = leader_status();
  reply.replica_status->metrics = "coraft_term{replica=\"0001\"} 7\n# HELP x \"quoted\"\n";
  const auto decoded = net::decode(net::encode_reply(reply, raft::NodeId{1}));
  REQUIRE(std::holds_alternative<net::Datagram>(decoded));
  const auto& d = std::get<net::ReplyDatagram>(std::get<net::Datagram>(decoded));
  REQUIRE(d.reply.replica_status);
  CHECK(d.reply.replica_status->snapshot_index == 100);
  CHECK(d.reply.replica_status->metrics == reply.replica_status->metrics);
  CHECK(d.reply.replica_status->followers.size() == 2);
}
