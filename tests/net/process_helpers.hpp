#pragma once
// Helpers for the real-process tests: free ports, running a coroutine to completion, waiting with a deadline.

#include "actors/spawn.hpp"
#include "process.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace coraft::testing {

using chaos::free_udp_port;
using chaos::free_tcp_port;

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

}  // namespace coraft::testing
