#pragma once
// A deadline that closes a TCP socket when it passes, which ends the operation pending on it with an error: how the
// HTTP server and client bound reads and writes. Racing a timer against a socket is safe (unlike against a channel
// receive, asio issue #1041): bytes that arrived stay in the kernel. What the expiry touches is shared with its
// handler, so the deadline may go away while an expiry is already queued.

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <memory>

namespace coraft::net {

class SocketDeadline {
 public:
  explicit SocketDeadline(asio::ip::tcp::socket& socket)
      : timer_(socket.get_executor()), shared_(std::make_shared<Shared>(Shared{&socket})) {}
  ~SocketDeadline() {
    shared_->socket = nullptr;
    ++shared_->generation;
  }
  SocketDeadline(const SocketDeadline&) = delete;
  SocketDeadline& operator=(const SocketDeadline&) = delete;

  void arm(std::chrono::steady_clock::duration timeout) {
    const std::uint64_t armed = ++shared_->generation;
    shared_->passed = false;
    timer_.expires_after(timeout);
    timer_.async_wait([shared = shared_, armed](const asio::error_code& error) {
      if (error || armed != shared->generation || !shared->socket) return;
      shared->passed = true;
      asio::error_code ignored;
      shared->socket->close(ignored);
    });
  }
  void disarm() {
    ++shared_->generation;
    timer_.cancel();
  }
  // The last deadline armed passed (and closed the socket).
  bool passed() const { return shared_->passed; }

 private:
  struct Shared {
    asio::ip::tcp::socket* socket;
    std::uint64_t generation = 0;
    bool passed = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace coraft::net
