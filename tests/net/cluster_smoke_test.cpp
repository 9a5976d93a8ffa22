// Real processes: three kvstore replicas in cluster mode on loopback. Put and get, kill the leader, put and get
// again. Every wait is on a condition with a deadline (the client's), never a sleep.

#include "net/client.hpp"
#include "process_helpers.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <csignal>
#include <filesystem>
#include <fstream>

using namespace coraft;
using namespace std::chrono_literals;
using testing::free_udp_port;
using testing::run;

namespace {

// GET http://127.0.0.1:port/path with a blocking socket: the whole response, or what arrived before an error.
std::string http_get(std::uint16_t port, const std::string& path) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::error_code error;
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), error);
  if (error) return "connect failed: " + error.message();
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  asio::write(socket, asio::buffer(request), error);
  std::string response;
  char buffer[4096];
  for (;;) {
    const std::size_t n = socket.read_some(asio::buffer(buffer), error);
    response.append(buffer, n);
    if (error) break;  // eof: the server closes after the response, as asked
  }
  return response;
}

}  // namespace

TEST_CASE("a three-process cluster serves, loses its leader, and serves again", "[net][process][smoke]") {
  const auto dir = testing::fresh_test_dir("smoke");
  const std::string config_path = testing::write_test_cluster(dir);
  std::map<raft::NodeId, std::unique_ptr<chaos::ChildProcess>> replicas;
  std::map<raft::NodeId, std::uint16_t> metrics_ports;
  for (int i = 0; i < 3; ++i) {
    const raft::NodeId id{static_cast<std::uint16_t>(i)};
    metrics_ports[id] = chaos::free_tcp_port();
    replicas[id] = std::make_unique<chaos::ChildProcess>(
        std::vector<std::string>{CORAFT_KVSTORE_PATH, "--config", config_path, "--id", id.str(), "--data-dir",
                                 (dir / id.str()).string(), "--log-level", "info", "--metrics-port",
                                 std::to_string(metrics_ports[id])},
        (dir / (id.str() + ".log")).string());
  }

  asio::io_context io;
  auto endpoints = net::resolve(io, net::load_cluster_config(config_path));
  net::ClientSettings settings;
  settings.deadline = 10s;  // each operation waits for the cluster at most this long
  net::Client client(io, endpoints, actors::Rng(42), settings);

  const std::string a = "a", b = "b", one = "1", two = "2";
  net::CallResult put_a, get_a, put_b, get_a_again, get_b;
  run(io, [&]() -> asio::awaitable<void> {
    put_a = co_await client.put(a, one);
    get_a = co_await client.get(a);
  });
  REQUIRE(put_a.outcome == net::Outcome::kOk);
  REQUIRE(get_a.outcome == net::Outcome::kOk);
  CHECK(get_a.reply.value == one);

  // Find the leader from the replicas themselves.
  std::optional<raft::NodeId> leader;
  run(io, [&]() -> asio::awaitable<void> {
    for (const auto& [id, endpoint] : endpoints) {
      auto status = co_await client.status(id, 1000ms);
      if (status && status->role == raft::Role::kLeader) leader = id;
    }
  });
  REQUIRE(leader.has_value());

  // The leader's Prometheus endpoint knows it leads and counts the put; the status reply carries the same text.
  const std::string scraped = http_get(metrics_ports.at(*leader), "/metrics");
  INFO(scraped.substr(0, 400));
  CHECK(scraped.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(scraped.find(fmt::format("coraft_role{{replica=\"{}\",role=\"leader\"}} 1\n", leader->str())) !=
        std::string::npos);
  CHECK(scraped.find(fmt::format("coraft_proposals_total{{replica=\"{}\"}} 0\n", leader->str())) == std::string::npos);
  CHECK(scraped.find("coraft_datagrams_received_total{") != std::string::npos);
  CHECK(http_get(metrics_ports.at(*leader), "/other").rfind("HTTP/1.1 404", 0) == 0);

  replicas.at(*leader)->kill_and_wait(SIGKILL);

  run(io, [&]() -> asio::awaitable<void> {
    put_b = co_await client.put(b, two);
    get_a_again = co_await client.get(a);
    get_b = co_await client.get(b);
  });
  REQUIRE(put_b.outcome == net::Outcome::kOk);
  CHECK(get_a_again.reply.value == one);
  CHECK(get_b.reply.value == two);
  CHECK(client.leader_guess() != *leader);

  // The survivors are still running (none exited on its own), and stop promptly on SIGTERM.
  for (auto& [id, process] : replicas) {
    if (id == *leader) continue;
    CHECK(process->running());
    process->kill_and_wait(SIGTERM);
    CHECK(WIFEXITED(process->exit_status()));
    CHECK(WEXITSTATUS(process->exit_status()) == 0);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("SIGTERM: a leader hands over before it stops, a follower just stops", "[net][process][smoke]") {
  const auto dir = testing::fresh_test_dir("handover");
  const std::string config_path = testing::write_test_cluster(dir);
  auto replicas = testing::start_test_replicas(CORAFT_KVSTORE_PATH, dir, config_path);
  auto log_of = [&](raft::NodeId id) { return (dir / (id.str() + ".log")).string(); };
  asio::io_context io;
  auto endpoints = net::resolve(io, net::load_cluster_config(config_path));
  net::ClientSettings settings;
  settings.deadline = 10s;
  net::Client client(io, endpoints, actors::Rng(43), settings);
  const std::string k = "k", v = "v";
  net::CallResult put;
  auto leader_now = [&] {
    std::optional<std::pair<raft::NodeId, raft::Term>> found;
    run(io, [&]() -> asio::awaitable<void> {
      for (const auto& [id, endpoint] : endpoints) {
        if (!replicas.at(id)->running()) continue;
        auto status = co_await client.status(id, 1000ms);
        if (status && status->role == raft::Role::kLeader) found = {id, status->term};
      }
    });
    return found;
  };
  run(io, [&]() -> asio::awaitable<void> { put = co_await client.put(k, v); });
  REQUIRE(put.outcome == net::Outcome::kOk);
  const auto before = leader_now();
  REQUIRE(before.has_value());

  replicas.at(before->first)->kill_and_wait(SIGTERM);
  CHECK(WIFEXITED(replicas.at(before->first)->exit_status()));
  CHECK(WEXITSTATUS(replicas.at(before->first)->exit_status()) == 0);
  const std::string stopped_leader_log = testing::read_file(log_of(before->first));
  INFO(stopped_leader_log.substr(stopped_leader_log.size() > 2000 ? stopped_leader_log.size() - 2000 : 0));
  CHECK(stopped_leader_log.find("handed over: stopping") != std::string::npos);
  // It named its successor before it went: the next term already has a leader, no election timeout was waited out.
  const auto after = leader_now();
  REQUIRE(after.has_value());
  CHECK(after->first != before->first);
  CHECK(after->second == before->second + 1);

  const raft::NodeId follower{static_cast<std::uint16_t>(3 - before->first.value - after->first.value)};  // the third
  REQUIRE(follower != after->first);
  REQUIRE(follower != before->first);
  replicas.at(follower)->kill_and_wait(SIGTERM);
  CHECK(WEXITSTATUS(replicas.at(follower)->exit_status()) == 0);
  CHECK(testing::read_file(log_of(follower)).find("not handed over (") != std::string::npos);
  replicas.at(after->first)->kill_and_wait(SIGTERM);
  std::filesystem::remove_all(dir);
}

TEST_CASE("sessions sharing a socket get every answer from a real cluster, several to a datagram",
          "[net][process][smoke][bundle]") {
  // kvbench's sessions share one socket and ask for their replies bundled: a commit that answers many of them sends
  // them in one datagram; once they have, the sessions' requests go to that replica bundled too. Every answer must
  // still reach its own session, and some replies and some requests must have gone several to a datagram.
  const auto dir = testing::fresh_test_dir("bundles");
  const std::string config_path = testing::write_test_cluster(dir);
  auto replicas = testing::start_test_replicas(CORAFT_KVSTORE_PATH, dir, config_path);
  asio::io_context io;
  auto endpoints = net::resolve(io, net::load_cluster_config(config_path));
  net::ClientSocket shared(io, false);
  constexpr int kSessions = 32, kRounds = 10;
  std::vector<std::unique_ptr<net::Client>> sessions;
  for (int i = 0; i < kSessions; ++i) {
    sessions.push_back(std::make_unique<net::Client>(shared, endpoints, actors::Rng(500 + i), net::ClientSettings{}));
  }
  int running = kSessions, answered = 0, wrong = 0;
  for (int i = 0; i < kSessions; ++i) {
    actors::spawn(io.get_executor(), fmt::format("session-{}", i), [&, i]() -> asio::awaitable<void> {
      const std::string key = fmt::format("s{}", i);
      for (int round = 0; round < kRounds; ++round) {
        const net::CallResult put = co_await sessions[static_cast<std::size_t>(i)]->put(key, std::to_string(round));
        const net::CallResult get = co_await sessions[static_cast<std::size_t>(i)]->get(key);
        if (put.outcome == net::Outcome::kOk && get.outcome == net::Outcome::kOk &&
            get.reply.value == std::to_string(round)) {
          ++answered;
        } else {
          ++wrong;
        }
      }
      if (--running == 0) shared.close();
    });
  }
  io.run();
  const net::ClientSocket::Stats& stats = shared.stats();
  INFO(fmt::format("datagrams received {}, replies routed {}, unrouted {}, datagrams sent {}", stats.received,
                   stats.replies, stats.unrouted, stats.sent));
  CHECK(running == 0);
  CHECK(wrong == 0);
  CHECK(answered == kSessions * kRounds);
  CHECK(stats.replies >= static_cast<std::uint64_t>(2 * kSessions * kRounds));
  CHECK(stats.received < stats.replies);  // some came several to a datagram
  CHECK(stats.sent < stats.replies);      // and some requests went several to a datagram
  for (auto& [id, replica] : replicas) replica->kill_and_wait(SIGTERM);
  if (wrong == 0) std::filesystem::remove_all(dir);
}
