// Real processes: the HTTP API (Consul's KV API) of a three-replica cluster, through every replica; how soon a watch
// wakes after a change; and hostile clients (malformed, oversized, slow, half-sent, unknown) that must neither crash
// nor block a replica. Every wait is on a condition with a deadline.

#include "net/http_client.hpp"
#include "process_helpers.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>

using namespace coraft;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

struct Reply {
  int status = 0;  // 0: no answer
  std::string body;
  std::uint64_t index = 0;
  std::string error;
};

// One exchange over a fresh connection.
Reply http(std::uint16_t port, const std::string& method, const std::string& target, const std::string& body = "",
           std::chrono::milliseconds timeout = 10s) {
  asio::io_context io;
  net::HttpConnection connection(io, net::HostPort{"127.0.0.1", port});
  net::HttpRequest request{method, target, {}, body, true};
  Reply reply;
  testing::run(io, [&]() -> asio::awaitable<void> {
    auto exchange = co_await connection.exchange(request, timeout);
    if (!exchange.response) {
      reply.error = exchange.error;
      co_return;
    }
    reply.status = exchange.response->status;
    reply.body = exchange.response->body;
    if (const std::string* index = exchange.response->header("X-Consul-Index")) reply.index = std::stoull(*index);
  });
  return reply;
}

class Cluster {
 public:
  explicit Cluster(const std::string& name) : dir_(testing::fresh_test_dir(name)) {
    config_path_ = testing::write_http_test_cluster(dir_, http_ports_);
    config_ = net::load_cluster_config(config_path_);
    for (int i = 0; i < 3; ++i) start(i);
  }
  ~Cluster() {
    replicas_.clear();
    std::filesystem::remove_all(dir_);
  }

  void start(int i) {
    const raft::NodeId id{static_cast<std::uint16_t>(i)};
    replicas_[i] = std::make_unique<chaos::ChildProcess>(
        std::vector<std::string>{CORAFT_KVSTORE_PATH, "--config", config_path_, "--id", id.str(), "--data-dir",
                                 (dir_ / id.str()).string(), "--fsync", "none", "--log-level", "info"},
        (dir_ / (id.str() + ".log")).string());
  }
  chaos::ChildProcess& process(int i) { return *replicas_.at(i); }
  std::uint16_t port(int i) const { return http_ports_.at(static_cast<std::size_t>(i)); }

  // The replica that leads, as /v1/status/leader on `asking` says (its Raft address mapped back to an id).
  std::optional<int> leader(int asking) {
    const Reply reply = http(port(asking), "GET", "/v1/status/leader", "", 2s);
    for (const auto& [id, address] : config_.replicas) {
      if (reply.body == fmt::format("\"{}:{}\"", address.host, address.port)) return id.value;
    }
    return std::nullopt;
  }
  int wait_for_leader(int asking) {
    std::optional<int> found;
    REQUIRE(testing::wait_until([&] { return (found = leader(asking)).has_value(); }, 10s));
    return *found;
  }
  std::string log(int i) const { return testing::read_file((dir_ / fmt::format("000{}.log", i)).string()); }

 private:
  std::filesystem::path dir_;
  std::string config_path_;
  net::ClusterConfig config_;
  std::vector<std::uint16_t> http_ports_;
  std::map<int, std::unique_ptr<chaos::ChildProcess>> replicas_;
};

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[static_cast<std::size_t>(p / 100 * static_cast<double>(values.size() - 1) + 0.5)];
}

// A client that writes `bytes` and then reads whatever comes until the server closes or `timeout` passes.
struct RawClient {
  RawClient(asio::io_context& io, std::uint16_t port) : socket(io) {
    socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  bool send(std::string_view bytes) {
    asio::error_code error;
    asio::write(socket, asio::buffer(bytes), error);
    return !error;
  }
  // Reads until the server closes the connection (returns true) or `timeout` passes (false).
  bool read_until_closed(std::chrono::milliseconds timeout) {
    const auto give_up = Steady::now() + timeout;
    socket.non_blocking(true);
    char buffer[4096];
    while (Steady::now() < give_up) {
      asio::error_code error;
      const std::size_t n = socket.read_some(asio::buffer(buffer), error);
      received.append(buffer, n);
      if (error == asio::error::would_block) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (error) return true;  // eof or reset: closed
    }
    return false;
  }
  asio::ip::tcp::socket socket;
  std::string received;
};

std::vector<int> statuses(const std::string& responses) {
  std::vector<int> out;
  net::HttpParser parser(net::HttpParser::Kind::kResponses, net::HttpLimits{});
  std::string_view rest = responses;
  while (!rest.empty()) {
    rest.remove_prefix(parser.feed(rest));
    if (!parser.complete()) break;
    out.push_back(parser.take_response().status);
  }
  return out;
}

}  // namespace

TEST_CASE("the HTTP API: every replica serves every call, followers forward to the leader", "[net][process][http]") {
  Cluster cluster("http-api");
  const int leader = cluster.wait_for_leader(0);
  const int follower = (leader + 1) % 3, other = (leader + 2) % 3;

  // Writes through a follower are forwarded to the leader, not bounced back.
  CHECK(http(cluster.port(follower), "PUT", "/v1/kv/app/a", "1").body == "true");
  CHECK(http(cluster.port(other), "PUT", "/v1/kv/app/b?flags=7", "2").body == "true");
  CHECK(http(cluster.port(leader), "PUT", "/v1/kv/app/c/d", "3").body == "true");
  CHECK(http(cluster.port(follower), "PUT", "/v1/kv/apple", "4").body == "true");

  // Reads are linearizable from any replica: each sees every write acknowledged before it.
  for (int i = 0; i < 3; ++i) {
    const Reply one = http(cluster.port(i), "GET", "/v1/kv/app/b");
    CHECK(one.status == 200);
    CHECK(one.body.find(R"("Key":"app/b","Flags":7,"Value":"Mg==")") != std::string::npos);
    CHECK(one.index > 0);
    CHECK(http(cluster.port(i), "GET", "/v1/kv/app/a?raw").body == "1");
    const Reply keys = http(cluster.port(i), "GET", "/v1/kv/app/?keys&separator=/");
    CHECK(keys.body == R"(["app/a","app/b","app/c/"])");
    const Reply all = http(cluster.port(i), "GET", "/v1/kv/app?recurse");
    CHECK(std::count(all.body.begin(), all.body.end(), '{') == 4);
    CHECK(http(cluster.port(i), "GET", "/v1/kv/missing").status == 404);
    CHECK(http(cluster.port(i), "GET", "/v1/status/peers").body.find(',') != std::string::npos);
  }

  // Compare-and-set by ModifyIndex, through a follower.
  const Reply before = http(cluster.port(other), "GET", "/v1/kv/app/a");
  const auto modify_at = before.body.find("\"ModifyIndex\":");
  REQUIRE(modify_at != std::string::npos);
  const std::uint64_t modify = std::stoull(before.body.substr(modify_at + 14));
  CHECK(http(cluster.port(other), "PUT", fmt::format("/v1/kv/app/a?cas={}", modify + 1000), "x").body == "false");
  CHECK(http(cluster.port(other), "PUT", fmt::format("/v1/kv/app/a?cas={}", modify), "x").body == "true");
  CHECK(http(cluster.port(other), "PUT", fmt::format("/v1/kv/app/a?cas={}", modify), "y").body == "false");
  CHECK(http(cluster.port(leader), "PUT", "/v1/kv/app/new?cas=0", "n").body == "true");
  CHECK(http(cluster.port(leader), "PUT", "/v1/kv/app/new?cas=0", "n").body == "false");

  // Deletes: one key, then a whole prefix; a stale read on a follower catches up with it.
  CHECK(http(cluster.port(follower), "DELETE", "/v1/kv/apple").body == "true");
  CHECK(http(cluster.port(follower), "DELETE", "/v1/kv/app/?recurse").body == "true");
  CHECK(http(cluster.port(other), "GET", "/v1/kv/app/?recurse").status == 404);
  CHECK(testing::wait_until([&] { return http(cluster.port(follower), "GET", "/v1/kv/app/?recurse&stale").status == 404; },
                            5s));

  // Every replica knows the same leader; /metrics is served on the API port too, and counts the forwards.
  for (int i = 0; i < 3; ++i) CHECK(cluster.leader(i) == leader);
  CHECK(http(cluster.port(leader), "GET", "/metrics").body.find("coraft_role{") != std::string::npos);
  CHECK(http(cluster.port(follower), "GET", "/metrics").body.find(
            fmt::format("coraft_api_calls_forwarded_total{{replica=\"000{}\"}} 0\n", follower)) == std::string::npos);
}

TEST_CASE("the HTTP API: a watch wakes within 10 ms of the change", "[net][process][http][watch]") {
  Cluster cluster("http-watch");
  const int leader = cluster.wait_for_leader(0);
  const int follower = (leader + 1) % 3;
  REQUIRE(http(cluster.port(leader), "PUT", "/v1/kv/watched", "0").body == "true");

  // The watcher asks a follower (forwarded to the leader, held there); the writer asks the leader. A sample is the
  // time from the write's acknowledgement to the watcher's answer, and from the write's start.
  for (const bool watch_on_follower : {true, false}) {
    asio::io_context io;
    net::HttpConnection watcher(io, net::HostPort{"127.0.0.1", cluster.port(watch_on_follower ? follower : leader)});
    net::HttpConnection writer(io, net::HostPort{"127.0.0.1", cluster.port(leader)});
    std::vector<double> after_ack_ms, after_start_ms;
    int missed = 0;
    testing::run(io, [&]() -> asio::awaitable<void> {
      asio::steady_timer pause(io);
      for (int sample = 0; sample < 40; ++sample) {
        net::HttpRequest get{"GET", "/v1/kv/watched", {}, {}, true};
        auto current = co_await watcher.exchange(get, 5s);
        if (!current.response) co_return;
        const std::string index = *current.response->header("X-Consul-Index");
        Steady::time_point woke{};
        bool done = false;
        actors::spawn(io.get_executor(), "watch", [&, index]() -> asio::awaitable<void> {
          net::HttpRequest watch{"GET", "/v1/kv/watched?index=" + index + "&wait=5s", {}, {}, true};
          auto changed = co_await watcher.exchange(watch, 10s);
          woke = Steady::now();
          done = changed.response && changed.response->header("X-Consul-Index") &&
                 *changed.response->header("X-Consul-Index") != index;
        });
        pause.expires_after(20ms);  // lets the watch reach the applier first
        co_await pause.async_wait(asio::use_awaitable);
        net::HttpRequest put{"PUT", "/v1/kv/watched", {}, std::to_string(sample), true};
        const auto started = Steady::now();
        auto written = co_await writer.exchange(put, 5s);
        const auto acknowledged = Steady::now();
        if (!written.response) co_return;
        while (woke == Steady::time_point{}) {
          pause.expires_after(1ms);
          co_await pause.async_wait(asio::use_awaitable);
          if (Steady::now() - acknowledged > 5s) co_return;
        }
        if (!done) ++missed;
        after_ack_ms.push_back(std::chrono::duration<double, std::milli>(woke - acknowledged).count());
        after_start_ms.push_back(std::chrono::duration<double, std::milli>(woke - started).count());
      }
    });
    REQUIRE(after_ack_ms.size() == 40);
    CHECK(missed == 0);
    const double p50 = percentile(after_start_ms, 50), p90 = percentile(after_start_ms, 90);
    WARN(fmt::format("watch on the {}: woke {:.2f} ms (median) / {:.2f} ms (p90) / {:.2f} ms (max) after the write "
                     "started; {:.2f} ms (median) after it was acknowledged",
                     watch_on_follower ? "follower" : "leader", p50, p90, percentile(after_start_ms, 100),
                     percentile(after_ack_ms, 50)));
    CHECK(p50 < 10);
    CHECK(p90 < 10);
  }
}

TEST_CASE("bad HTTP never crashes or blocks a replica", "[net][process][http][hostile]") {
  Cluster cluster("http-hostile");
  const int leader = cluster.wait_for_leader(0);
  const std::uint16_t port = cluster.port(leader);
  asio::io_context io;

  // Malformed and oversized requests: a status, then the connection is closed (where the next request would start
  // is unknown).
  const std::pair<std::string, int> refused[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"BREW /v1/kv/x HTTP/1.1\r\n\r\n", 400},
      {"GET /v1/kv/x HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
      {"PUT /v1/kv/x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET /v1/kv/x HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n", 431},
      {"PUT /v1/kv/x HTTP/1.1\r\nContent-Length: 50000000\r\n\r\n", 413},  // refused before the body is sent
  };
  for (const auto& [bytes, status] : refused) {
    RawClient client(io, port);
    client.send(bytes);
    INFO(bytes.substr(0, 60));
    CHECK(client.read_until_closed(5s));
    CHECK(statuses(client.received) == std::vector<int>{status});
  }

  // Unknown paths and methods, bad numbers, a value too large: answered, and the connection goes on serving.
  RawClient pipelined(io, port);
  pipelined.send("PATCH /v1/kv/x HTTP/1.1\r\n\r\n"
                 "GET /v1/agent/self HTTP/1.1\r\n\r\n"
                 "GET /nowhere HTTP/1.1\r\n\r\n"
                 "GET /v1/kv/x?index=abc HTTP/1.1\r\n\r\n"
                 "PUT /v1/kv/x?acquire=s HTTP/1.1\r\nContent-Length: 1\r\n\r\nv"
                 "PUT /v1/kv/x HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'v') +
                 "PUT /v1/kv/x HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
                 "GET /v1/kv/x?raw HTTP/1.1\r\nConnection: close\r\n\r\n");
  CHECK(pipelined.read_until_closed(10s));
  CHECK(statuses(pipelined.received) == std::vector<int>{405, 501, 404, 400, 501, 413, 200, 200});
  CHECK(pipelined.received.substr(pipelined.received.size() - 2) == "ok");

  // Slow clients: 40 that drip a request a byte at a time, and some that send half a request and stop. Meanwhile the
  // replica answers others at once; the slow ones are cut off at the request deadline (10 s from their first byte).
  const std::string request = "GET /v1/kv/x HTTP/1.1\r\nHost: slow\r\nX-Padding: " + std::string(200, 'p') + "\r\n\r\n";
  std::vector<std::unique_ptr<RawClient>> slow, stalled;
  for (int i = 0; i < 40; ++i) slow.push_back(std::make_unique<RawClient>(io, port));
  for (int i = 0; i < 5; ++i) {
    stalled.push_back(std::make_unique<RawClient>(io, port));
    stalled.back()->send(i % 2 ? "PUT /v1/kv/x HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly part of it"
                               : "GET /v1/kv/x HTTP/1.1\r\nHost: half");
  }
  const auto started = Steady::now();
  std::vector<double> others_ms;
  std::size_t dripped = 0;
  while (Steady::now() - started < 12s) {
    for (auto& client : slow) client->send(std::string_view(request).substr(dripped % request.size(), 1));
    ++dripped;
    const auto t0 = Steady::now();
    const Reply reply = http(port, "GET", "/v1/kv/x?raw", "", 2s);
    others_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
    CHECK(reply.status == 200);
    std::this_thread::sleep_for(100ms);
  }
  WARN(fmt::format("while 45 slow clients held connections, {} requests took {:.2f} ms (median), {:.2f} ms (max)",
                   others_ms.size(), percentile(others_ms, 50), percentile(others_ms, 100)));
  CHECK(percentile(others_ms, 90) < 100);
  for (auto* group : {&slow, &stalled}) {
    for (auto& client : *group) {
      CHECK(client->read_until_closed(3s));  // already closed: 12 s have passed
      CHECK(client->received.empty());        // cut off without an answer
    }
  }
  CHECK(cluster.process(leader).running());
  CHECK(http(port, "GET", "/v1/kv/x?raw").body == "ok");
  // And the replica counted them.
  const std::string metrics = http(port, "GET", "/metrics").body;
  auto sample = [&](const std::string& name) {
    const std::string series = fmt::format("{}{{replica=\"000{}\"}} ", name, leader);
    const auto at = metrics.find(series);
    return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + series.size()));
  };
  CHECK(sample("coraft_http_bad_requests_total") >= 6);
  CHECK(sample("coraft_http_requests_cut_off_total") >= 45);
  CHECK(sample("coraft_http_connections_refused_total") == 0);
  CHECK(sample("coraft_api_calls_total") > 0);
}
