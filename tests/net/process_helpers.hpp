#pragma once
// Helpers for the real-process tests: free ports, running a coroutine to completion, waiting with a deadline.

#include "actors/spawn.hpp"
#include "process.hpp"
#include "raft/types.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

namespace coraft::testing {

using chaos::free_udp_port;
using chaos::free_tcp_port;

// An empty folder under the system's temporary directory, named after the test and this process.
inline std::filesystem::path fresh_test_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("coraft-{}-{}", name, getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Writes DIR/cluster.json: replicas 0000-0002 on free loopback ports, test timings (elections in 150-300 ms,
// heartbeats every 50 ms), and `extra` members (",\"key\": value" pairs). Returns its path.
inline std::string write_test_cluster(const std::filesystem::path& dir, const std::string& extra = "") {
  const std::string path = (dir / "cluster.json").string();
  std::ofstream(path) << fmt::format(
      R"({{"replicas": {{"0000": "127.0.0.1:{}", "0001": "127.0.0.1:{}", "0002": "127.0.0.1:{}"}},
           "election_timeout_ms": [150, 300], "heartbeat_ms": 50{}}})",
      free_udp_port(), free_udp_port(), free_udp_port(), extra);
  return path;
}

// Like write_test_cluster, with the HTTP API on every replica ({"udp": ..., "http": ...}); their HTTP ports, for
// 0000-0002, go to `http_ports`.
inline std::string write_http_test_cluster(const std::filesystem::path& dir, std::vector<std::uint16_t>& http_ports,
                                           const std::string& extra = "") {
  const std::string path = (dir / "cluster.json").string();
  http_ports = {free_tcp_port(), free_tcp_port(), free_tcp_port()};
  std::string replicas;
  for (int i = 0; i < 3; ++i) {
    replicas += fmt::format(R"({}"000{}": {{"udp": "127.0.0.1:{}", "http": "127.0.0.1:{}"}})", i ? ", " : "", i,
                            free_udp_port(), http_ports[static_cast<std::size_t>(i)]);
  }
  std::ofstream(path) << fmt::format(
      R"({{"replicas": {{{}}}, "election_timeout_ms": [150, 300], "heartbeat_ms": 50{}}})", replicas, extra);
  return path;
}

// Starts replicas 0000-0002 of the cluster in `config_path` (`kvstore`: the program), each with its data in DIR/ID and
// its output in DIR/ID.log, logging at info.
inline std::map<raft::NodeId, std::unique_ptr<chaos::ChildProcess>> start_test_replicas(
    const std::string& kvstore, const std::filesystem::path& dir, const std::string& config_path) {
  std::map<raft::NodeId, std::unique_ptr<chaos::ChildProcess>> replicas;
  for (int i = 0; i < 3; ++i) {
    const raft::NodeId id{static_cast<std::uint16_t>(i)};
    replicas[id] = std::make_unique<chaos::ChildProcess>(
        std::vector<std::string>{kvstore, "--config", config_path, "--id", id.str(), "--data-dir",
                                 (dir / id.str()).string(), "--log-level", "info"},
        (dir / (id.str() + ".log")).string());
  }
  return replicas;
}

// Runs `body` as a coroutine to completion.
template <class Body>
void run(asio::io_context& io, Body body) {
  actors::spawn(io.get_executor(), "process-test", std::move(body));
  io.restart();
  io.run();
}

// Polls `done` until it holds or `timeout` passes; returns whether it held.
template <class Condition>
bool wait_until(Condition done, std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The last `count` lines of a text file (a child's log, for a failure message).
inline std::string last_lines(const std::string& path, std::size_t count) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > count) lines.pop_front();
  }
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

}  // namespace coraft::testing
